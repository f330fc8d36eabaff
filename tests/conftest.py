"""Fixtures: real databases (SQLite file and PostgreSQL), real redis, the real ASGI app."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from tortoise.backends.base.executor import EXECUTOR_CACHE

from app.db import close_db, connection, init_db, is_sqlite, run_migrations
from app.main import create_app
from app.settings import Settings
from tests.infra import postgres_server, redis_server

TABLES = [
    "outbox_event",
    "refund",
    "customer_session",
    "customer_address",
    "customer",
    "reservation",
    "payment",
    "order_status_change",
    "order_line",
    "orders",
    "cart_line",
    "cart",
    "stock_level",
    "product_image",
    "variant",
    "product",
    "category",
    "collection",
    "warehouse",
    "integration_token",
]


STALL_REPORT_SECONDS = 240  # pytest-timeout ends the run at 300 s (pyproject.toml)


def _print_tasks() -> None:
    print(
        f"\n=== a test is still running after {STALL_REPORT_SECONDS} s; its tasks:", file=sys.stderr
    )
    for task in asyncio.all_tasks():
        stack = io.StringIO()
        task.print_stack(limit=15, file=stack)
        print(stack.getvalue(), file=sys.stderr)


@pytest.fixture(autouse=True)
async def _report_a_stall() -> AsyncIterator[None]:
    """pytest-timeout prints threads, which show an idle event loop; this prints the awaits."""
    report = asyncio.get_running_loop().call_later(STALL_REPORT_SECONDS, _print_tasks)
    yield
    report.cancel()


def cli_env(data_dir: Path) -> dict[str, str]:
    """The environment of a `vitrina` process on its own data directory (embedded defaults)."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    return {**env, "DATA_DIR": str(data_dir)}


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file `vitrina migrate` made, once per session (it takes seconds of CPU)."""
    data_dir = tmp_path_factory.mktemp("migrated")
    done = subprocess.run(
        [sys.executable, "-m", "app", "migrate"],
        env=cli_env(data_dir),
        text=True,
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return data_dir / "vitrina.sqlite3"


def copy_sqlite(source: Path, data_dir: Path) -> None:
    """Give a `vitrina` process in `data_dir` its own copy of a prepared database."""
    for suffix in ("", "-wal", "-shm"):
        if (file := source.with_name(source.name + suffix)).exists():
            shutil.copy(file, data_dir / file.name)


@pytest.fixture(scope="session")
async def redis_url() -> AsyncIterator[str]:
    async with redis_server() as url:
        yield url


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
async def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """A migrated database of each kind, once per session (migrations are part of the test)."""
    # tortoise caches SQL per connection name; a new dialect under the same name needs a clean cache
    EXECUTOR_CACHE.clear()
    if request.param == "sqlite":
        url = f"sqlite://{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
        await run_migrations(url)
        await init_db(url)
        yield url
        await close_db()
        return
    async with postgres_server() as server:
        name = f"vitrina_test_{uuid.uuid4().hex[:12]}"
        admin = await asyncpg.connect(f"{server}/postgres")
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            url = f"{server}/{name}"
            await run_migrations(url)
            await init_db(url)
            yield url
            await close_db()
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[str]:
    """An empty database for one test."""
    await empty_tables()
    yield database_url


async def empty_tables() -> None:
    if is_sqlite():
        deletes = "".join(f"DELETE FROM {t};" for t in TABLES)
        await connection().execute_script(
            f"PRAGMA foreign_keys=OFF;{deletes}DELETE FROM sqlite_sequence;PRAGMA foreign_keys=ON;"
        )
    else:
        await connection().execute_script(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE;")


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        environment="test",
        data_dir=tmp_path,
        database_url=database_url,
        # argon2id at its cheapest: tests hash many passwords, the parameters are not under test
        password_time_cost=1,
        password_memory_kib=64,
    )


class Clock:
    """The app's clock, under the test's control (drops release at an instant)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def client(
    db: str, settings: Settings, redis_url: str, clock: Clock
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client speaking to the real ASGI app (lifespan included)."""
    app = create_app(settings, redis_url=redis_url, manage_db=False, clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://vitrina.test") as c:
            yield c


class QueryCounter(logging.Handler):
    """Counts SQL statements tortoise sends (its db_client logger sees every one)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.statements: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.lstrip().upper().startswith(("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")):
            self.statements.append(message)


@pytest.fixture
def sql_counter() -> Iterator[QueryCounter]:
    logger = logging.getLogger("tortoise.db_client")
    counter = QueryCounter()
    previous = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(counter)
    try:
        yield counter
    finally:
        logger.removeHandler(counter)
        logger.setLevel(previous)


async def graphql_whole(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    token: str | None = None,
) -> dict[str, Any]:
    """POST one GraphQL operation; return the decoded body as it came, extensions included."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def graphql(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    token: str | None = None,
) -> dict[str, Any]:
    """POST one GraphQL operation; return what it answered (without the cost every answer
    carries: tests/schema/test_query_cost.py checks that through `graphql_whole`)."""
    body = await graphql_whole(client, query, variables, token)
    extensions = body.get("extensions") or {}
    extensions.pop("cost", None)
    if not extensions:
        body.pop("extensions", None)
    return body
