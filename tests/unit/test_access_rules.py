"""Integration scopes: the names a token may carry, and what admin implies."""

from __future__ import annotations

import pytest

from app.domain.access import IntegrationPrincipal, Scope, parse_scopes


def test_shops_read_is_known_by_its_name() -> None:
    assert parse_scopes(["shops:read", "admin"]) == {Scope.SHOPS_READ, Scope.ADMIN}
    assert Scope("shops:read") is Scope.SHOPS_READ


def test_an_unknown_name_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown scopes \\['shops:write'\\]; known: .*shops:read"):
        parse_scopes(["shops:write"])


def test_admin_implies_shops_read_and_shops_read_implies_nothing_else() -> None:
    admin = IntegrationPrincipal(token_id=1, name="back office", scopes=frozenset({Scope.ADMIN}))
    ops = IntegrationPrincipal(token_id=2, name="ops", scopes=frozenset({Scope.SHOPS_READ}))

    assert admin.may(Scope.SHOPS_READ)
    assert ops.may(Scope.SHOPS_READ)
    assert [s for s in Scope if ops.may(s)] == [Scope.SHOPS_READ]
