"""`vitrina create-token` and `vitrina tokens` as an operator runs them: real processes on a
fresh SQLite data directory."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import _parser
from tests.conftest import cli_env, copy_sqlite


def _vitrina(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args], env=env, text=True, capture_output=True, timeout=120
    )


@pytest.fixture
def env(migrated_sqlite: Path, tmp_path: Path) -> dict[str, str]:
    copy_sqlite(migrated_sqlite, tmp_path)
    return cli_env(tmp_path)


def _rows(env: dict[str, str]) -> dict[str, list[str]]:
    """`tokens list` by id: name, state, scopes, then the instants (a dash when unset)."""
    listed = _vitrina("tokens", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    header, *lines = listed.stdout.splitlines()
    assert header.split() == [
        "id", "name", "state", "scopes", "created", "expires", "last", "used", "revoked"
    ]  # fmt: skip
    return {line.split()[0]: line.split()[1:] for line in lines}


def _create(env: dict[str, str], name: str, *extra: str) -> str:
    made = _vitrina("create-token", "--name", name, "--scope", "stock:write", *extra, env=env)
    assert made.returncode == 0, made.stderr
    return made.stdout.strip()


def test_a_token_with_an_expiry_is_listed_with_it(env: dict[str, str]) -> None:
    made = _vitrina(
        "create-token", "--name", "1c", "--scope", "stock:write", "--scope", "catalog:write",
        "--expires-in-days", "30", env=env,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith("vit_") and len(made.stdout.splitlines()) == 1
    expiry = next(line for line in made.stderr.splitlines() if line.startswith("expires "))
    forever = _create(env, "partner")

    rows = _rows(env)
    assert list(rows) == ["1", "2"]
    assert rows["1"][:3] == ["1c", "active", "catalog:write,stock:write"]
    assert " ".join(rows["1"][5:7]) + " UTC" == expiry.removeprefix("expires ")
    assert rows["1"][7:] == ["-", "-"]  # never used, not revoked
    assert rows["2"][:3] == ["partner", "active", "stock:write"] and rows["2"][5:] == ["-"] * 3
    assert made.stdout.strip() not in str(rows) and forever not in str(rows)


def test_bad_expiries_and_names_are_refused_and_nothing_is_written(
    env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    # argparse refuses these before the command runs: checked in this process (each `vitrina`
    # process costs seconds of imports), then one real process shows nothing was written
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
    made = _vitrina("create-token", "--name", " ", "--scope", "admin", env=env)
    assert made.returncode == 2 and made.stdout == ""
    assert _vitrina("tokens", "list", env=env).stdout.strip() == "no integration tokens"


def test_revoke_by_name_or_id_and_again_changes_nothing(env: dict[str, str]) -> None:
    _create(env, "1c")
    _create(env, "partner")

    by_name = _vitrina("tokens", "revoke", "1c", env=env)
    assert by_name.returncode == 0, by_name.stderr
    assert by_name.stdout.startswith("token 1 (1c) is revoked since ")
    by_id = _vitrina("tokens", "revoke", "2", env=env)
    assert by_id.stdout.startswith("token 2 (partner) is revoked since ")
    again = _vitrina("tokens", "revoke", "1", env=env)
    assert again.returncode == 0 and again.stdout == by_name.stdout

    rows = _rows(env)
    assert [rows[i][:2] for i in ("1", "2")] == [["1c", "revoked"], ["partner", "revoked"]]
    assert " ".join(rows["1"][-2:]) + " UTC\n" == by_name.stdout.split(" since ")[1]


def test_revoke_refuses_unknown_and_ambiguous_tokens_and_revokes_nothing(
    env: dict[str, str],
) -> None:
    _create(env, "1c")
    _create(env, "1c")
    _create(env, "partner")
    for ref, message in [
        ("1c", "2 working tokens are named '1c' (ids 1, 2): revoke one by id"),
        ("1C", "no working token is named '1C'"),
        ("99", "no integration token has id 99"),
        ("99999999999", "no integration token has id 99999999999"),
    ]:
        refused = _vitrina("tokens", "revoke", ref, env=env)
        assert (refused.returncode, refused.stderr.splitlines()[-1]) == (1, f"vitrina: {message}")
    assert [row[1] for row in _rows(env).values()] == ["active"] * 3
    missing = _vitrina("tokens", "revoke", env=env)
    assert missing.returncode == 2 and "NAME|ID" in missing.stderr
