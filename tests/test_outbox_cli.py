"""`vitrina outbox` as an operator runs it: a process per command on a fresh SQLite data
directory (forked with the startup imports done, tests/warm.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Vitrina, cli_env, copy_sqlite
from tests.warm import WarmPython

DEAD = "0b5f3c1e-0000-4000-8000-00000000dead"
PENDING = "0b5f3c1e-0000-4000-8000-0000000000aa"
LONG_ERROR = "1C refused the order: " + "warehouse 7 is closed for inventory " * 4

SEED = f"""
import asyncio
from datetime import UTC, datetime

from app.db import close_db, init_db
from app.models.outbox import OutboxEvent
from app.settings import Settings


async def seed() -> None:
    await init_db(Settings().resolved_database_url)
    now = datetime.now(UTC)
    common = dict(kind="order.placed", payload={{}}, next_attempt_at=now, created_at=now)
    await OutboxEvent.create(
        event_id="{DEAD}", target="onec", aggregate="order:a", state="dead", attempts=1,
        last_error="{LONG_ERROR}", response_status=422, **common
    )
    await OutboxEvent.create(
        event_id="{PENDING}", target="retailcrm", aggregate="order:b", attempts=2, **common
    )
    await close_db()


asyncio.run(seed())
"""


@pytest.fixture(scope="module")
def seeded_sqlite(migrated_sqlite: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One dead and one pending event in a migrated database, made once for these tests."""
    data_dir = tmp_path_factory.mktemp("outbox-seeded")
    copy_sqlite(migrated_sqlite, data_dir)
    seeded = subprocess.run(
        [sys.executable, "-c", SEED],
        env=cli_env(data_dir),
        text=True,
        capture_output=True,
        timeout=60,
    )
    assert seeded.returncode == 0, seeded.stderr
    return data_dir / migrated_sqlite.name


@pytest.fixture
def vitrina(seeded_sqlite: Path, tmp_path: Path, warm_python: WarmPython) -> Vitrina:
    """An operator's data directory holding its own copy of the seeded database."""
    copy_sqlite(seeded_sqlite, tmp_path)
    return Vitrina(warm_python, cli_env(tmp_path))


def test_list_shows_counts_per_system_then_the_dead_letters(vitrina: Vitrina) -> None:
    listed = vitrina("outbox", "list")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["system", "pending", "delivered", "dead"]
    assert lines[1].split() == ["onec", "0", "0", "1"]
    assert lines[2].split() == ["retailcrm", "1", "0", "0"]
    assert "dead events, newest first:" in lines
    row = next(line for line in lines if line.startswith(DEAD))
    assert row.split()[:5] == [DEAD, "onec", "order.placed", "order:a", "1"]
    assert row.endswith("…") and LONG_ERROR not in listed.stdout
    assert PENDING not in listed.stdout


def test_list_filters_by_state_and_system_and_checks_the_limit(vitrina: Vitrina) -> None:
    pending = vitrina("outbox", "list", "--state", "pending", "--target", "retailcrm")
    assert pending.returncode == 0, pending.stderr
    assert PENDING in pending.stdout and DEAD not in pending.stdout
    none = vitrina("outbox", "list", "--state", "pending", "--target", "onec")
    assert none.stdout.splitlines()[-1] == "no pending events"
    too_many = vitrina("outbox", "list", "--limit", "500")
    assert too_many.returncode == 1
    assert "a page holds 1..200 events" in too_many.stderr
    unknown = vitrina("outbox", "list", "--state", "lost")
    assert unknown.returncode == 2 and "invalid choice" in unknown.stderr


def test_replay_by_id_makes_the_dead_letter_pending_again(vitrina: Vitrina) -> None:
    replayed = vitrina("outbox", "replay", DEAD, "no-such-event")
    assert replayed.returncode == 0, replayed.stderr
    assert replayed.stdout.startswith("replayed 1 dead event(s)")
    after = vitrina("outbox", "list")
    assert after.stdout.splitlines()[1].split() == ["onec", "1", "0", "0"]
    assert after.stdout.splitlines()[-1] == "no dead events"
    again = vitrina("outbox", "replay", "--all")
    assert again.returncode == 0 and again.stdout.startswith("replayed 0 dead event(s)")


def test_replay_needs_ids_or_all_but_not_both(vitrina: Vitrina) -> None:
    neither = vitrina("outbox", "replay")
    assert neither.returncode == 1 and "at least one event id" in neither.stderr
    both = vitrina("outbox", "replay", DEAD, "--all")
    assert both.returncode == 1 and "not both" in both.stderr
    listed = vitrina("outbox", "list")
    assert listed.stdout.splitlines()[1].split() == ["onec", "0", "0", "1"]
