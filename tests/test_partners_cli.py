"""`vitrina partners` as an operator runs it: a process per command on a fresh SQLite data
directory (forked with the startup imports done, tests/warm.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.cli import _parser
from tests.conftest import Vitrina, cli_env, copy_sqlite
from tests.warm import WarmPython


@pytest.fixture
def vitrina(migrated_sqlite: Path, tmp_path: Path, warm_python: WarmPython) -> Vitrina:
    copy_sqlite(migrated_sqlite, tmp_path)
    return Vitrina(warm_python, cli_env(tmp_path))


def _ok(vitrina: Vitrina, *args: str) -> list[str]:
    done = vitrina("partners", *args)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_an_operator_registers_a_partner_subscribes_it_and_gives_it_a_token(
    vitrina: Vitrina,
) -> None:
    assert _ok(vitrina, "create", "Marketplace", "--contact", "Dev@Market.example") == [
        "partner 1 (Marketplace) created"
    ]
    subscribed = _ok(
        vitrina, "subscribe", "Marketplace", "http://127.0.0.1:9/hook",
        "--event", "order.placed", "--event", "order.paid",
    )  # fmt: skip
    token = _ok(vitrina, "token", "1", "--scope", "webhooks:manage", "--scope", "orders:read")
    paused = _ok(vitrina, "pause", "1")
    listed = _ok(vitrina, "list")
    tokens = vitrina("tokens", "list").stdout.splitlines()

    assert subscribed[0] == "subscription 1; its signing secret (shown once):"
    assert subscribed[1].startswith("whsec_") and len(subscribed) == 2
    assert token[0].startswith("vit_") and len(token) == 1
    assert paused == ["subscription 1 is paused"]
    assert listed[:2] == [
        "  id  partner                   contact",
        "   1  Marketplace               dev@market.example",
    ]
    assert listed[4].split()[:3] == ["1", "1", "paused"]
    assert listed[4].split()[-2:] == ["http://127.0.0.1:9/hook", "order.placed,order.paid"]
    assert tokens[1].split()[1:5] == [
        "partner",
        "Marketplace",
        "active",
        "orders:read,webhooks:manage",
    ]
    assert subscribed[1] not in "\n".join(listed)


def test_refusals_name_the_problem_and_write_nothing(
    vitrina: Vitrina, capsys: pytest.CaptureFixture[str]
) -> None:
    for args, message in [
        (["token", "1", "--scope", "admin"], "--scope: invalid choice: 'admin'"),
        (["subscribe", "1", "https://x.example/", "--event", "customer.message"], "--event"),
    ]:
        with pytest.raises(SystemExit) as exit_:
            _parser().parse_args(["partners", *args])
        assert exit_.value.code == 2 and message in capsys.readouterr().err
    _ok(vitrina, "create", "Marketplace", "--contact", "dev@market.example")

    refused = vitrina(
        "partners", "subscribe", "Marketplace", "http://10.0.0.8/hook", "--event", "order.paid"
    )
    unknown = vitrina("partners", "pause", "7")

    assert refused.returncode == 1
    assert refused.stderr.strip().endswith(
        "vitrina: the URL points at a private or reserved address"
    )
    assert unknown.stderr.strip().endswith("vitrina: no webhook subscription 7")
    assert _ok(vitrina, "list")[-1] == "no webhook subscriptions"
