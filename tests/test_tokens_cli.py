"""`vitrina create-token` and `vitrina tokens` as an operator runs them: a process per command
on a fresh SQLite data directory (forked with the startup imports done, tests/warm.py; one
starts cold)."""

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


def _rows(vitrina: Vitrina) -> dict[str, list[str]]:
    """`tokens list` by id: name, state, scopes, then the instants (a dash when unset)."""
    listed = vitrina("tokens", "list")
    assert listed.returncode == 0, listed.stderr
    header, *lines = listed.stdout.splitlines()
    assert header.split() == [
        "id", "name", "state", "scopes", "created", "expires", "last", "used", "revoked"
    ]  # fmt: skip
    return {line.split()[0]: line.split()[1:] for line in lines}


def _create(vitrina: Vitrina, name: str, *extra: str) -> str:
    made = vitrina("create-token", "--name", name, "--scope", "stock:write", *extra)
    assert made.returncode == 0, made.stderr
    return made.stdout.strip()


def test_a_token_with_an_expiry_is_listed_with_it(vitrina: Vitrina) -> None:
    made = vitrina(
        "create-token", "--name", "1c", "--scope", "stock:write", "--scope", "catalog:write",
        "--expires-in-days", "30",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith("vit_") and len(made.stdout.splitlines()) == 1
    expiry = next(line for line in made.stderr.splitlines() if line.startswith("expires "))
    forever = _create(vitrina, "partner")

    rows = _rows(vitrina)
    assert list(rows) == ["1", "2"]
    assert rows["1"][:3] == ["1c", "active", "catalog:write,stock:write"]
    assert " ".join(rows["1"][5:7]) + " UTC" == expiry.removeprefix("expires ")
    assert rows["1"][7:] == ["-", "-"]  # never used, not revoked
    assert rows["2"][:3] == ["partner", "active", "stock:write"] and rows["2"][5:] == ["-"] * 3
    assert made.stdout.strip() not in str(rows) and forever not in str(rows)


def test_bad_expiries_and_names_are_refused_and_nothing_is_written(
    vitrina: Vitrina, capsys: pytest.CaptureFixture[str]
) -> None:
    # argparse refuses these before the command runs: checked in this process (each `vitrina`
    # process costs seconds of imports), then one process started cold as an operator's shell
    # starts it shows nothing was written
    refusals = [
        (["--expires-in-days", d], "--expires-in-days: a whole number of days, 1..3650")
        for d in ["0", "1.5", "3651", "٣"]
    ]
    refusals += [(["--name", n], "--name: 1..200 characters, not blank") for n in [" ", "x" * 201]]
    for extra, message in refusals:
        args = ["create-token", "--name", "1c", "--scope", "admin", *extra]
        with pytest.raises(SystemExit) as exit_:
            _parser().parse_args(args)
        captured = capsys.readouterr()
        assert (exit_.value.code, captured.out) == (2, ""), extra
        assert message in captured.err, extra
    made = vitrina.cold("create-token", "--name", " ", "--scope", "admin")
    assert made.returncode == 2 and made.stdout == ""
    assert vitrina("tokens", "list").stdout.strip() == "no integration tokens"


def test_revoke_by_name_or_id_and_again_changes_nothing(vitrina: Vitrina) -> None:
    _create(vitrina, "1c")
    _create(vitrina, "partner")

    by_name = vitrina("tokens", "revoke", "1c")
    assert by_name.returncode == 0, by_name.stderr
    assert by_name.stdout.startswith("token 1 (1c) is revoked since ")
    by_id = vitrina("tokens", "revoke", "2")
    assert by_id.stdout.startswith("token 2 (partner) is revoked since ")
    again = vitrina("tokens", "revoke", "1")
    assert again.returncode == 0 and again.stdout == by_name.stdout

    rows = _rows(vitrina)
    assert [rows[i][:2] for i in ("1", "2")] == [["1c", "revoked"], ["partner", "revoked"]]
    assert " ".join(rows["1"][-2:]) + " UTC\n" == by_name.stdout.split(" since ")[1]


def test_revoke_refuses_unknown_and_ambiguous_tokens_and_revokes_nothing(
    vitrina: Vitrina,
) -> None:
    _create(vitrina, "1c")
    _create(vitrina, "1c")
    _create(vitrina, "partner")
    for ref, message in [
        ("1c", "2 working tokens are named '1c' (ids 1, 2): revoke one by id"),
        ("1C", "no working token is named '1C'"),
        ("99", "no integration token has id 99"),
        ("99999999999", "no integration token has id 99999999999"),
    ]:
        refused = vitrina("tokens", "revoke", ref)
        assert (refused.returncode, refused.stderr.splitlines()[-1]) == (1, f"vitrina: {message}")
    assert [row[1] for row in _rows(vitrina).values()] == ["active"] * 3
    missing = vitrina("tokens", "revoke")
    assert missing.returncode == 2 and "NAME|ID" in missing.stderr
