"""The tag versions stay bounded: a generation older than `keep_seconds` is dropped with every
version in it, and the floor it raises makes every entry those versions could have made stale
refused, so pruning never serves a stale entry."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from app.domain.response_cache import is_fresh
from app.services.response_cache.tags import GENERATION, PREFIX, SEQUENCE, VERSIONS, TagBook
from tests.services.response_cache.test_tags import until

KEEP = 0.05  # seconds: a generation this old is replaced by the next bump


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
    one = TagBook(redis, resync_seconds=0.1, keep_seconds=KEEP)
    other = TagBook(redis, resync_seconds=0.1, keep_seconds=KEEP)
    await one.start()
    await other.start()
    await until(lambda: one.healthy and other.healthy)
    yield one, other
    await one.close()
    await other.close()


async def _hashes(redis: Redis) -> dict[str, dict[str, int]]:
    found = {}
    async for key in redis.scan_iter(match=VERSIONS + "*"):
        raw = await redis.hgetall(key)  # type: ignore[misc]
        found[key.decode()] = {t.decode(): int(v) for t, v in raw.items()}
    return found


async def test_a_generation_older_than_keep_is_dropped_with_its_versions(
    books: tuple[TagBook, TagBook], redis: Redis
) -> None:
    one, other = books
    # given a product bumped, then two generations later another
    await one.bump(["product:old"])  # seq 1, generation 1
    await asyncio.sleep(KEEP * 2)
    await one.bump(["product:mid"])  # seq 2, generation 2 (floor 0)
    await asyncio.sleep(KEEP * 2)

    # when a bump starts the third generation
    await one.bump(["product:new"])  # seq 3, generation 3: generation 1 goes

    # then redis holds generations 2 and 3 only, the floor is generation 2's start
    assert await _hashes(redis) == {
        VERSIONS + ":2": {"product:mid": 2},
        VERSIONS + ":3": {"product:new": 3},
    }
    assert await redis.hget(GENERATION, "floor") == b"1"  # type: ignore[misc]
    # and every book forgot the dropped version and refuses entries filled below the floor
    assert (one.versions, one.floor) == ({"product:mid": 2, "product:new": 3}, 1)
    await until(lambda: other.floor == 1 and other.sequence == 3)
    assert other.versions == {"product:mid": 2, "product:new": 3}
    assert not is_fresh({"product:old"}, 0, other.versions, other.floor)  # stale before: refused
    assert is_fresh({"product:old"}, 1, other.versions, other.floor)  # fresh before: still is


async def test_a_new_book_reads_only_the_live_generations_and_the_floor(
    books: tuple[TagBook, TagBook], redis: Redis
) -> None:
    one, _ = books
    for tag in ("product:a", "product:b", "product:c"):
        await one.bump([tag])
        await asyncio.sleep(KEEP * 2)
    late = TagBook(redis, keep_seconds=KEEP)
    await late.start()
    await until(lambda: late.healthy)
    assert (late.versions, late.floor, late.sequence) == ({"product:b": 2, "product:c": 3}, 1, 3)
    await late.close()


async def test_the_one_hash_before_generations_is_read_then_replaced_by_the_first_bump(
    redis: Redis,
) -> None:
    # given versions written before generations existed (one hash, sequence 7)
    await redis.set(SEQUENCE, 7)
    await redis.hset(VERSIONS, mapping={"product:p1": 7, "list:products": 4})  # type: ignore[misc]
    book = TagBook(redis, resync_seconds=0.1, keep_seconds=KEEP)
    await book.start()
    await until(lambda: book.healthy)
    assert book.versions == {"product:p1": 7, "list:products": 4}

    # when the first bump under generations comes
    await book.bump(["product:p2"])  # seq 8

    # then the old hash is gone and everything filled before the bump's predecessor is refused
    assert await redis.exists(VERSIONS) == 0
    assert (book.floor, book.versions) == (7, {"product:p2": 8})
    assert not is_fresh({"list:products"}, 6, book.versions, book.floor)
    assert is_fresh({"product:p1", "list:products"}, 7, book.versions, book.floor)
    await book.close()


async def test_pruning_never_calls_an_entry_fresh_that_every_version_would_call_stale(
    books: tuple[TagBook, TagBook],
) -> None:
    # given a random run of bumps over a few tags, some generations apart
    one, other = books
    shuffle = random.Random(10)
    tags = [f"variant:v{i}" for i in range(6)]
    every: dict[str, int] = {}  # the unbounded truth
    for _ in range(40):
        bumped = shuffle.sample(tags, 2)
        sequence = await one.bump(bumped)
        every.update((t, sequence) for t in bumped)
        if shuffle.random() < 0.3:
            await asyncio.sleep(KEEP * 1.5)
    await until(lambda: other.sequence == one.sequence and other.floor == one.floor)
    assert one.floor > 0  # something was dropped
    assert len(other.versions) <= len(tags)

    # then for every entry (tag set, fill point), bounded fresh implies unbounded fresh
    for filled in range(one.sequence + 1):
        for tag in tags:
            for book in (one, other):
                if is_fresh({tag}, filled, book.versions, book.floor):
                    assert is_fresh({tag}, filled, every), (tag, filled)
