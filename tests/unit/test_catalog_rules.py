"""Catalog rules: visibility at a drop's instant, money without floats, slugs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from app.domain.catalog import is_visible, kopecks_to_rub, parse_rub, slugify
from app.domain.errors import DomainError, ErrorCode

DROP = datetime(2026, 12, 1, 7, tzinfo=UTC)


def test_a_product_appears_exactly_at_its_drop() -> None:
    before = DROP - timedelta(microseconds=1)
    assert not is_visible(published=True, release_at=DROP, now=before)
    assert is_visible(published=True, release_at=DROP, now=DROP)
    assert is_visible(published=True, release_at=None, now=before)
    assert not is_visible(published=False, release_at=None, now=DROP)


def test_roubles_become_kopecks_exactly() -> None:
    assert parse_rub("4990.00") == 499000
    assert parse_rub("0.1") == 10
    assert parse_rub(Decimal("19999.99")) == 1999999
    assert kopecks_to_rub(1999999) == Decimal("19999.99")


@pytest.mark.parametrize("bad", ["49.999", "-1", "abc", "NaN", "Infinity", ""])
def test_bad_prices_are_refused(bad: str) -> None:
    with pytest.raises(DomainError) as error:
        parse_rub(bad, path=("price",))
    assert (error.value.code, tuple(error.value.path)) == (ErrorCode.INVALID_PRICE, ("price",))


def test_slugs_are_latin() -> None:
    assert slugify("Платье-рубашка из льна") == "plate-rubashka-iz-lna"
    assert slugify("Жакет «Осень» 2026") == "zhaket-osen-2026"
    assert slugify("!!!") == "item"
