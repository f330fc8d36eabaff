"""requestPasswordReset does the same work whether the address has an account or not, so its
time tells nothing: the same SQL statements and the same redis commands, one after the other.

Counted rather than timed (a timing assertion would be flaky on a shared machine); the
figures are in bench/reset_timing.py. SQL through the `sql_counter` fixture, redis with
MONITOR on the test's database (what the server received, pipelines included)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
import pytest
from redis.asyncio import Redis

from app.models.outbox import OutboxEvent
from app.services.accounts.messages import digest
from app.services.accounts.recovery import ANSWER_FLOOR
from tests.conftest import QueryCounter
from tests.schema.accounts.flows import errors_of, flush_redis, messages, ok, sign_up

ACCOUNT, NOBODY = "anna@example.com", "nobody@example.com"
RESET_REQUEST = """mutation Q($email: String!) { requestPasswordReset(email: $email) {
  ok errors { code } } }"""
RESET = """mutation R($token: String!, $password: String!) {
  resetPassword(token: $token, newPassword: $password) { errors { code path } } }"""
RESET_KEYS = "vitrina:account:reset:*"
KNOWN = "a-token-the-test-knows"


@pytest.fixture(autouse=True)
async def _fresh_redis(redis_url: str) -> None:
    await flush_redis(redis_url)


@dataclass(frozen=True)
class Work:
    sql: list[str]  # the first word of each statement: SELECT, INSERT, …
    redis: list[str]  # each command's name, in the order the server received them


async def reset(client: httpx.AsyncClient, email: str) -> None:
    assert await ok(client, RESET_REQUEST, "requestPasswordReset", email=email) == {
        "ok": True,
        "errors": [],
    }


async def redis_commands(redis_url: str, action: Callable[[], Awaitable[None]]) -> list[str]:
    """The commands the server received on our database while `action` ran."""
    marker = f"end-{uuid.uuid4()}"
    observer, watcher = Redis.from_url(redis_url), Redis.from_url(redis_url)
    db = observer.connection_pool.connection_kwargs.get("db", 0)
    seen: list[str] = []
    try:
        async with watcher.monitor() as monitor:
            await observer.ping()  # the MONITOR is in place once its first command arrives
            while "PING" not in (await monitor.next_command())["command"].upper():
                pass
            await action()
            await observer.echo(marker)
            while marker not in (command := await monitor.next_command())["command"]:
                if command["db"] == db:
                    seen.append(command["command"].split()[0].upper())
    finally:
        await observer.aclose()
        await watcher.aclose()
    return seen


async def work_of(
    client: httpx.AsyncClient, counter: QueryCounter, redis_url: str, email: str
) -> Work:
    counter.statements.clear()
    commands = await redis_commands(redis_url, lambda: reset(client, email))
    return Work([s.split()[0].upper() for s in counter.statements], commands)


async def test_an_address_without_an_account_costs_the_same_statements_and_commands(
    client: httpx.AsyncClient, sql_counter: QueryCounter, redis_url: str
) -> None:
    await sign_up(client, ACCOUNT)
    for email in (ACCOUNT, NOBODY):  # warm up: connections opened, statements prepared
        await reset(client, email)

    with_account = await work_of(client, sql_counter, redis_url, ACCOUNT)
    without = await work_of(client, sql_counter, redis_url, NOBODY)

    assert without == with_account, (with_account, without)
    assert "INSERT" in with_account.sql and "SET" in with_account.redis  # the work is counted
    resets = [m for m in await messages(ACCOUNT) if m["template"] == "password_reset"]
    assert len(resets) == 2 and await messages(NOBODY) == []


async def test_the_token_made_for_nobody_expires_and_resets_nothing(
    client: httpx.AsyncClient, redis_url: str
) -> None:
    outbox_before = await OutboxEvent.all().count()

    await reset(client, NOBODY)

    redis = Redis.from_url(redis_url)
    try:
        (key,) = [k async for k in redis.scan_iter(match=RESET_KEYS)]
        assert await redis.get(key) == b""  # owned by nobody
        assert 0 < await redis.ttl(key) <= 30 * 60
        # a token whose digest is kept like that one (its own is never shown) resets nothing
        await redis.set(f"vitrina:account:reset:{digest(KNOWN)}", b"", ex=60)
    finally:
        await redis.aclose()
    assert await OutboxEvent.all().count() == outbox_before  # the message was rolled back
    refused = await errors_of(client, RESET, "resetPassword", token=KNOWN, password="p" * 12)
    assert refused == [{"code": "INVALID_TOKEN", "path": ["token"]}]


async def test_both_answers_wait_out_the_same_floor(client: httpx.AsyncClient) -> None:
    await sign_up(client, ACCOUNT)
    loop = asyncio.get_running_loop()
    for email in (ACCOUNT, NOBODY):
        started = loop.time()
        await reset(client, email)
        assert loop.time() - started >= ANSWER_FLOOR
