"""The per-process feed: newest figure by version, expiry, gaps and redis loss, two processes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import pytest
from redis.asyncio import Redis

from app.models.catalog import Variant
from app.models.stock import written_versions
from app.services.stock_stream import StockFeed, StockPublisher, VariantStock
from app.settings import Settings
from tests import factories
from tests.services.stock_stream.conftest import at, until
from tests.services.stock_stream.proxy import RedisCut

DRESS = factories.guid("variant/Dress/M/black")
T = factories.T0 + timedelta(days=1)
NewFeed = Callable[..., StockFeed]


def _figure(variant_id: int, available: int, version: int, **extra: object) -> VariantStock:
    return VariantStock(
        variant_id=variant_id,
        available=available,
        by_warehouse={1: available},
        version=version,
        valid_until=extra.get("valid_until"),  # type: ignore[arg-type]
    )


async def _xadd(redis: Redis, settings: Settings, *figures: VariantStock) -> None:
    for figure in figures:
        await redis.xadd(settings.stock_stream_key, {"f": figure.encode()})


async def _healthy(feed: StockFeed) -> StockFeed:
    await feed.start()
    await until(lambda: feed.healthy)
    return feed


async def test_a_published_change_reaches_two_processes_once_each(
    db: str, publisher: StockPublisher, new_feed: NewFeed
) -> None:
    await factories.warehouses()
    await factories.product("Dress")
    await publisher.publish_pending()  # the warehouses' reset goes out before the feeds start
    variant_id = (await Variant.get(guid=DRESS)).id
    first, second = await _healthy(new_feed()), await _healthy(new_feed())
    seen: dict[str, list[int]] = {"first": [], "second": []}
    first.on_change(lambda f: seen["first"].append(f.available))
    second.on_change(lambda f: seen["second"].append(f.available))

    await factories.stock(DRESS, factories.ONLINE, 4)
    assert await publisher.publish_pending() == 1

    await until(lambda: at(first, variant_id, T) == 4 and at(second, variant_id, T) == 4)
    assert seen == {"first": [4], "second": [4]}
    assert (first.entries_read, second.entries_read) == (1, 1)


async def test_an_older_figure_arriving_later_is_ignored(
    redis: Redis, stream_settings: Settings, new_feed: NewFeed
) -> None:
    feed = await _healthy(new_feed())
    changes: list[int] = []
    feed.on_change(lambda f: changes.append(f.version))

    await _xadd(redis, stream_settings, _figure(7, 3, version=5), _figure(7, 9, version=4))
    await _xadd(redis, stream_settings, _figure(8, 1, version=1))  # a marker: both were read

    await until(lambda: at(feed, 8, T) == 1)
    assert at(feed, 7, T) == 3
    assert changes == [5, 1]


async def test_a_figure_is_unknown_once_a_hold_it_counted_expires(
    redis: Redis, stream_settings: Settings, new_feed: NewFeed
) -> None:
    feed = await _healthy(new_feed())

    await _xadd(redis, stream_settings, _figure(7, 3, version=2, valid_until=T))

    await until(lambda: at(feed, 7, T - timedelta(seconds=1)) == 3)
    assert feed.latest(7, T) is None
    assert feed.latest(99, T) is None  # never published since the feed started: read live


async def test_entries_trimmed_before_they_were_read_make_the_feed_resync(
    redis: Redis, stream_settings: Settings, new_feed: NewFeed
) -> None:
    feed = await _healthy(new_feed())
    await _xadd(redis, stream_settings, _figure(7, 3, version=1))
    await until(lambda: at(feed, 7, T) == 3)
    generation = feed.generation

    async with redis.pipeline(transaction=True) as pipe:  # atomic: the feed cannot read between
        pipe.xadd(stream_settings.stock_stream_key, {"f": _figure(7, 0, version=2).encode()})
        pipe.xtrim(stream_settings.stock_stream_key, maxlen=0)
        await pipe.execute()

    await until(lambda: feed.generation == generation + 1)
    await until(lambda: feed.healthy)
    assert feed.latest(7, T) is None  # the lost 0 is not replaced by the old 3
    await _xadd(redis, stream_settings, _figure(7, 2, version=3))
    await until(lambda: at(feed, 7, T) == 2)


async def test_a_deleted_stream_makes_the_feed_resync(
    redis: Redis, stream_settings: Settings, new_feed: NewFeed
) -> None:
    feed = await _healthy(new_feed())
    await _xadd(redis, stream_settings, _figure(7, 3, version=1))
    await until(lambda: at(feed, 7, T) == 3)
    generation = feed.generation

    async with redis.pipeline(transaction=True) as pipe:  # a flush, then a new stream at once
        pipe.delete(stream_settings.stock_stream_key)
        pipe.xadd(stream_settings.stock_stream_key, {"f": _figure(8, 1, version=1).encode()})
        await pipe.execute()

    await until(lambda: feed.generation == generation + 1)
    await until(lambda: feed.healthy)
    assert feed.latest(7, T) is None
    await _xadd(redis, stream_settings, _figure(7, 5, version=4))
    await until(lambda: at(feed, 7, T) == 5)


@pytest.fixture
async def cut(redis_url: str) -> AsyncIterator[RedisCut]:
    proxy = RedisCut(redis_url)
    await proxy.restore()
    yield proxy
    await proxy.cut()


async def test_redis_going_away_hides_every_figure_until_the_feed_resynced(
    redis: Redis, stream_settings: Settings, new_feed: NewFeed, cut: RedisCut
) -> None:
    through = Redis.from_url(cut.url)
    try:
        feed = await _healthy(new_feed(through))
        await _xadd(redis, stream_settings, _figure(7, 3, version=1))
        await until(lambda: at(feed, 7, T) == 3)
        generation = feed.generation

        await cut.cut()

        await until(lambda: not feed.healthy)
        assert (feed.latest(7, T), feed.generation) == (None, generation + 1)
        await _xadd(redis, stream_settings, _figure(7, 1, version=2))  # missed while down
        await cut.restore()
        await until(lambda: feed.healthy)
        assert feed.latest(7, T) is None  # what it missed is not replayed: read live
        assert feed.generation == generation + 1
        await _xadd(redis, stream_settings, _figure(7, 0, version=3))
        await until(lambda: at(feed, 7, T) == 0)
    finally:
        await through.aclose()


async def test_a_watch_gets_newer_figures_and_leaves_nothing_behind(
    redis: Redis, stream_settings: Settings, new_feed: NewFeed
) -> None:
    feed = await _healthy(new_feed())
    watch = feed.watch(frozenset({7}))
    assert feed.watcher_count == 1

    await _xadd(redis, stream_settings, _figure(8, 1, version=1), _figure(7, 3, version=1))
    got = await anext(watch)
    watch.offer(_figure(7, 3, version=1))  # the same figure again: nothing to send
    watch.offer(_figure(7, 9, version=0))  # an older one: ignored
    await _xadd(redis, stream_settings, _figure(7, 2, version=2))
    newer = await anext(watch)
    await watch.aclose()

    assert (got.available, newer.available) == (3, 2)
    assert feed.watcher_count == 0


async def test_closing_the_feed_ends_its_watches(new_feed: NewFeed) -> None:
    feed = await _healthy(new_feed())
    watch = feed.watch(frozenset({7}))

    await feed.close()

    assert [f async for f in watch] == []
    assert (feed.watcher_count, feed.healthy) == (0, False)


async def test_while_redis_is_away_watched_variants_are_read_live(
    db: str, new_feed: NewFeed, cut: RedisCut
) -> None:
    await factories.warehouses()
    await factories.product("Dress")
    await factories.stock(DRESS, factories.ONLINE, 4)
    variant_id = (await Variant.get(guid=DRESS)).id
    through = Redis.from_url(cut.url)
    try:
        feed = await _healthy(new_feed(through, clock=lambda: T))
        watch = feed.watch(frozenset({variant_id}))
        await cut.cut()
        await until(lambda: not feed.healthy)

        first = await anext(watch)  # read live: one query for every watcher
        await factories.stock(DRESS, factories.ONLINE, 1, as_of=factories.later(5))  # unpublished
        second = await anext(watch)
        await watch.aclose()
    finally:
        await through.aclose()

    assert (first.available, second.available) == (4, 1)
    assert feed.latest(variant_id, T) is None  # live reads reach watchers, never `latest`


async def test_a_reset_entry_drops_every_figure_but_keeps_the_feed_healthy(
    redis: Redis, stream_settings: Settings, new_feed: NewFeed, publisher: StockPublisher
) -> None:
    feed = await _healthy(new_feed())
    await _xadd(redis, stream_settings, _figure(7, 3, version=1))
    await until(lambda: at(feed, 7, T) == 3)
    generation = feed.generation

    written_versions.note_reset()  # a warehouse stopped selling online
    await publisher.publish_pending()

    await until(lambda: feed.generation == generation + 1)
    assert (feed.latest(7, T), feed.healthy) == (None, True)
    await _xadd(redis, stream_settings, _figure(7, 2, version=2))
    await until(lambda: at(feed, 7, T) == 2)


async def test_after_a_gap_watchers_get_the_figure_they_missed_read_live(
    db: str, redis: Redis, stream_settings: Settings, new_feed: NewFeed
) -> None:
    await factories.warehouses()
    await factories.product("Dress")
    await factories.stock(DRESS, factories.ONLINE, 4)
    variant_id = (await Variant.get(guid=DRESS)).id
    feed = await _healthy(new_feed(clock=lambda: T))
    watch = feed.watch(frozenset({variant_id}))
    await factories.stock(DRESS, factories.ONLINE, 2, as_of=factories.later(5))

    async with redis.pipeline(transaction=True) as pipe:  # its figure is lost in a gap
        pipe.xadd(stream_settings.stock_stream_key, {"f": _figure(variant_id, 2, 2).encode()})
        pipe.xtrim(stream_settings.stock_stream_key, maxlen=0)
        await pipe.execute()

    missed = await anext(watch)
    await watch.aclose()
    assert (missed.available, missed.version) == (2, 2)
