"""Tag versions across processes: a bump reaches another book by pub/sub, a lost message is
caught by the sequence check, a book without redis is not healthy."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
from redis.asyncio import Redis

from app.services.response_cache.tags import PREFIX, SEQUENCE, VERSIONS, TagBook


async def until(check: Callable[[], bool], seconds: float = 2.0) -> None:
    for _ in range(int(seconds / 0.01)):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("not within the time")


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    keys = [k async for k in client.scan_iter(match=PREFIX + "*")]
    if keys:
        await client.delete(*keys)
    yield client
    await client.aclose()


@pytest.fixture
async def books(redis: Redis) -> AsyncIterator[tuple[TagBook, TagBook]]:
    one, other = TagBook(redis, resync_seconds=0.1), TagBook(redis, resync_seconds=0.1)
    await one.start()
    await other.start()
    await until(lambda: one.healthy and other.healthy)
    yield one, other
    await one.close()
    await other.close()


async def test_a_bump_is_seen_here_at_once_and_by_the_other_book_by_message(
    books: tuple[TagBook, TagBook],
) -> None:
    one, other = books
    await one.bump(["product:p1", "list:products"])
    assert one.versions == {"product:p1": 1, "list:products": 1} and one.sequence == 1
    await until(lambda: other.sequence == 1)
    assert other.versions == {"product:p1": 1, "list:products": 1}
    await other.bump(["product:p1"])
    await until(lambda: one.versions["product:p1"] == 2)
    assert one.versions["list:products"] == 1


async def test_a_lost_message_is_caught_by_the_sequence_check(
    books: tuple[TagBook, TagBook], redis: Redis
) -> None:
    one, _ = books
    await redis.incr(SEQUENCE)
    await redis.hset(VERSIONS, "category:c1", "1")  # type: ignore[misc]  # never published
    await until(lambda: one.versions.get("category:c1") == 1)
    assert one.sequence == 1


async def test_a_new_book_starts_from_every_version_in_redis(
    books: tuple[TagBook, TagBook], redis: Redis
) -> None:
    one, _ = books
    await one.bump(["warehouse:w1"])
    late = TagBook(redis)
    await late.start()
    await until(lambda: late.healthy)
    assert late.versions == {"warehouse:w1": 1} and late.sequence == 1
    await late.close()


async def test_a_book_without_redis_is_not_healthy() -> None:
    gone = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    book = TagBook(gone, resync_seconds=0.05)
    await book.start()
    await asyncio.sleep(0.3)
    assert not book.healthy
    await book.close()
    await gone.aclose()


async def test_books_of_two_databases_of_one_server_listen_on_channels_of_their_own() -> None:
    # pub/sub channels are not per database: a bump in db 4 must not reach a book of db 5
    four, five = Redis.from_url("redis://127.0.0.1:1/4"), Redis.from_url("redis://127.0.0.1:1/5")
    assert TagBook(four).channel == PREFIX + "invalidated:4"
    assert TagBook(five).channel == PREFIX + "invalidated:5"
    await four.aclose()
    await five.aclose()
