"""Migrations that move data: a database written before one comes out in today's words.

Each test migrates its own empty database in `tortoise migrate` processes (the session's
databases are already at the latest migration; tests/warm.py forks them with the imports done),
writes rows as the older code did, then migrates on and reads the rows back with plain SQL.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import AsyncIterator
from contextlib import closing
from pathlib import Path

import asyncpg
import pytest

from tests.infra import postgres_server
from tests.warm import WarmPython

NOW = "2026-11-20 10:00:00"
# Rows as the code before 0006 wrote them: one order, two payments and two refunds.
BEFORE_0006 = [
    "INSERT INTO orders (id, guid, number, token, idempotency_key, status, first_name, last_name,"
    " delivery_kind, delivery_address, total, payment_deadline, created_at, updated_at)"
    " VALUES (1, '7c9e6679-7425-40de-944b-e07fc1f90ae7', 'V-000001', 'tok', 'key', 'cancelled',"
    f" 'Anna', 'S', 'courier', 'Moscow', 499000, '{NOW}', '{NOW}', '{NOW}')",
    *(
        "INSERT INTO payment (id, guid, order_id, provider, status, amount, created_at,"
        f" updated_at, refunded, surplus) VALUES ({n}, '{guid}', 1, 'yookassa', '{status}',"
        f" 499000, '{NOW}', '{NOW}', 0, false)"
        for n, guid, status in [
            (1, "00000000-0000-4000-8000-000000000001", "canceled"),
            (2, "00000000-0000-4000-8000-000000000002", "succeeded"),
        ]
    ),
    *(
        "INSERT INTO refund (id, guid, payment_id, amount, status, reason, requested_by,"
        f" created_at, updated_at) VALUES ({n}, '{guid}', 2, 100, '{status}', 'auto', 'auto',"
        f" '{NOW}', '{NOW}')"
        for n, guid, status in [
            (1, "00000000-0000-4000-8000-000000000011", "canceled"),
            (2, "00000000-0000-4000-8000-000000000012", "succeeded"),
        ]
    ),
]
STATUSES = (
    "SELECT 'payment', id, status FROM payment UNION ALL SELECT 'refund', id, status FROM refund"
)
INDEXES = {
    "sqlite": "SELECT tbl_name, name, '' FROM sqlite_master"
    " WHERE type = 'index' AND tbl_name IN ('payment', 'refund')",
    "postgres": "SELECT tablename, indexname, '' FROM pg_indexes"
    " WHERE tablename IN ('payment', 'refund')",
}


@pytest.fixture(params=["sqlite", "postgres"])
async def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """The URL of a database of its own with no tables yet."""
    if request.param == "sqlite":
        yield f"sqlite://{tmp_path / 'old.sqlite3'}"
        return
    async with postgres_server() as server:
        name = f"vitrina_migration_{uuid.uuid4().hex[:12]}"
        admin = await asyncpg.connect(f"{server}/postgres")
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"{server}/{name}"
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()


def migrate(warm: WarmPython, url: str, *args: str) -> None:
    """`tortoise migrate|downgrade models [name]` on the database at `url`."""
    done = warm.run(
        "tortoise", "-c", "app.db.TORTOISE_ORM", *args, env={**os.environ, "DATABASE_URL": url}
    )
    assert done.returncode == 0, done.stdout + done.stderr


async def run_sql(url: str, *statements: str) -> set[tuple[object, ...]]:
    """Run the statements in order; the rows the last one answers."""
    if url.startswith("sqlite://"):
        with closing(sqlite3.connect(url.removeprefix("sqlite://"))) as db, db:
            rows = [db.execute(statement).fetchall() for statement in statements]
        return {tuple(row) for row in rows[-1]}
    conn = await asyncpg.connect(url)
    try:
        for statement in statements[:-1]:
            await conn.execute(statement)
        return {tuple(row) for row in await conn.fetch(statements[-1])}
    finally:
        await conn.close()


async def test_0006_respells_old_canceled_rows_and_going_back_restores_them(
    empty_database: str, warm_python: WarmPython
) -> None:
    indexes = INDEXES["sqlite" if empty_database.startswith("sqlite://") else "postgres"]
    migrate(warm_python, empty_database, "migrate", "models", "0005_payment_surplus")
    indexes_before = await run_sql(empty_database, *BEFORE_0006, indexes)

    migrate(warm_python, empty_database, "migrate", "models")
    after = await run_sql(empty_database, STATUSES)
    indexes_after = await run_sql(empty_database, indexes)
    migrate(warm_python, empty_database, "downgrade", "models", "0005_payment_surplus")
    back = await run_sql(empty_database, STATUSES)

    assert after == {
        ("payment", 1, "cancelled"),
        ("payment", 2, "succeeded"),
        ("refund", 1, "cancelled"),
        ("refund", 2, "succeeded"),
    }
    assert indexes_after == indexes_before  # the tables were not rebuilt without them
    assert back == {
        ("payment", 1, "canceled"),
        ("payment", 2, "succeeded"),
        ("refund", 1, "canceled"),
        ("refund", 2, "succeeded"),
    }
