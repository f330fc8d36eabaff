"""Fixtures: real databases (SQLite file and PostgreSQL), real redis, the real ASGI app."""

from __future__ import annotations

import asyncio
import contextlib
import graphlib
import io
import logging
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from tortoise.backends.base.executor import EXECUTOR_CACHE

from app.db import close_db, connection, init_db, is_sqlite, run_migrations
from app.main import create_app
from app.models.stock import written_versions
from app.services.partners.recording import forget_subscriptions
from app.settings import Settings
from tests.infra import postgres_server, redis_server
from tests.warm import WarmPython

TABLES = [
    "profile_access",
    "consent_event",
    "channel_purchase_line",
    "channel_purchase",
    "identity_suggestion",
    "identity_link",
    "identity_record",
    "shop_receipt_line",
    "shop_receipt",
    "returned_marking_code",
    "marking_code",
    "order_shipment",
    "order_return_line",
    "order_return",
    "history_cursor",
    "look_suggestion",
    "look_product",
    "look_slide",
    "look",
    "instagram_account",
    "drop_order_claim",
    "shop_request_line",
    "shop_request",
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
    "partner_release",
    "partner_token",
    "webhook_subscription",
    "partner_app",
    "integration_token",
]


STALL_REPORT_SECONDS = 240  # pytest-timeout ends the run at 300 s (pyproject.toml)


def _print_tasks(config: pytest.Config, test: str) -> None:
    report = io.StringIO()
    print(f"\n=== {test} is still running after {STALL_REPORT_SECONDS} s; its tasks:", file=report)
    for task in asyncio.all_tasks():
        task.print_stack(limit=15, file=report)
        print(file=report)
    # Past the capture, to the terminal at once: a pytest-xdist worker that pytest-timeout
    # then ends takes the test's captured output with it.
    capture = config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        print(report.getvalue(), file=sys.stderr, flush=True)


@pytest.fixture(autouse=True)
async def _report_a_stall(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """Threads' stacks (faulthandler_timeout, pyproject.toml) show an idle event loop; this
    prints the awaits."""
    loop = asyncio.get_running_loop()
    report = loop.call_later(
        STALL_REPORT_SECONDS, _print_tasks, request.config, request.node.nodeid
    )
    yield
    report.cancel()


def cli_env(data_dir: Path) -> dict[str, str]:
    """The environment of a `vitrina` process on its own data directory (embedded defaults)."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    return {**env, "DATA_DIR": str(data_dir)}


@pytest.fixture(scope="session")
def warm_python() -> Iterator[WarmPython]:
    """`python -m app|tortoise …` as processes that skip the startup imports (tests/warm.py)."""
    with WarmPython("app.cli", "tortoise.cli") as warm:
        yield warm


@dataclass(frozen=True)
class Vitrina:
    """`vitrina ARGS` as an operator runs it, on a data directory of its own."""

    warm: WarmPython
    env: dict[str, str]

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        """A process of its own, forked with `python -m app`'s startup imports done."""
        return self.warm.run("app", *args, env=self.env)

    def cold(self, *args: str) -> subprocess.CompletedProcess[str]:
        """A new interpreter, as a shell starts one."""
        return subprocess.run(
            [sys.executable, "-m", "app", *args],
            env=self.env,
            text=True,
            capture_output=True,
            timeout=120,
        )


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory, warm_python: WarmPython) -> Path:
    """A SQLite file `vitrina migrate` made, once per session (it takes seconds of CPU)."""
    data_dir = tmp_path_factory.mktemp("migrated")
    done = warm_python.run("app", "migrate", env=cli_env(data_dir))
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
    written_versions.forget_all()  # stock writes of the last test are not this one's to publish
    forget_subscriptions()  # the partners' in-process copy is of the last test's database
    yield database_url


async def empty_tables() -> None:
    if is_sqlite():
        deletes = "".join(f"DELETE FROM {t};" for t in TABLES)
        await connection().execute_script(
            f"PRAGMA foreign_keys=OFF;{deletes}DELETE FROM sqlite_sequence;PRAGMA foreign_keys=ON;"
        )
    else:
        await connection().execute_script(await _postgres_emptying())


_emptying: list[str] = []  # the PostgreSQL script, made once: every database has one schema


async def _postgres_emptying() -> str:
    """DELETE, referencing tables first, then restart the ids (what TRUNCATE … RESTART IDENTITY
    CASCADE did). TRUNCATE gives every table and index new files: about 130 ms a test, and tens
    of thousands of files for the next checkpoint to fsync, which each CREATE or DROP DATABASE
    waits for. A DELETE of a test's few rows and setval() write in place: about 10 ms."""
    if not _emptying:
        keys = await connection().execute_query_dict(
            "SELECT child.relname AS child, parent.relname AS parent FROM pg_constraint"
            " JOIN pg_class child ON child.oid = conrelid"
            " JOIN pg_class parent ON parent.oid = confrelid WHERE contype = 'f'"
        )
        referencing: dict[str, set[str]] = {t: set() for t in TABLES}
        for child, parent in ((key["child"], key["parent"]) for key in keys):
            if child != parent and {child, parent} <= referencing.keys():
                referencing[parent].add(child)
        order = list(graphlib.TopologicalSorter(referencing).static_order())  # children first
        owned = await connection().execute_query_dict(
            "SELECT seq.relname AS seq, owner.relname AS owner FROM pg_class seq"
            " JOIN pg_depend ON objid = seq.oid AND deptype IN ('a', 'i')"
            " JOIN pg_class owner ON owner.oid = refobjid WHERE seq.relkind = 'S'"
        )
        sequences = sorted(row["seq"] for row in owned if row["owner"] in referencing)
        deletes = "".join(f"DELETE FROM {t};" for t in order)
        restarts = ", ".join(f"setval('{seq}', 1, false)" for seq in sequences)
        _emptying.append(f"{deletes}SELECT {restarts};" if sequences else deletes)
    return _emptying[0]


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
        self.background: list[str] = []  # the stock stream's own reads (not any request's)
        self.periodic: list[str] = []  # the stock feed's catch-up rounds (every few 100 ms)

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.lstrip().upper().startswith(("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")):
            task = asyncio.current_task() if _loop_running() else None
            name = task.get_name() if task is not None else None
            if name == CATCH_UP_TASK:
                self.periodic.append(message)
                return
            background = name in STREAM_TASKS
            (self.background if background else self.statements).append(message)


STREAM_TASKS = {"stock-publisher", "stock-feed-refresh"}  # app/services/stock_stream
CATCH_UP_TASK = "stock-feed-catch-up"  # its rounds run on a clock, not per change


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


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
