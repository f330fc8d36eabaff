"""A publish lost after its commit (the writer died before its XADD) is caught up by every feed
within two rounds: the held figure's version is behind the database's, it is read live. A
publish merely in flight is not read live, variants a consumer tracks are read once so their
later losses show too, and a round costs one statement (none at idle)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

import pytest
from redis.asyncio import Redis

from app.db import connection
from app.models.catalog import Variant
from app.models.stock import written_versions
from app.services.stock_stream import StockFeed, StockPublisher, VariantStock, read_figures
from app.services.stock_stream.catch_up import database_versions, unvouched
from app.services.stock_stream.figures import read_behind
from app.settings import Settings
from tests import factories
from tests.services.stock_stream.conftest import at, until

DRESS = factories.guid("variant/Dress/M/black")
T = factories.T0 + timedelta(days=1)


@pytest.fixture
def manual(stream_settings: Settings) -> Settings:
    """A feed whose rounds the test runs itself."""
    return stream_settings.model_copy(update={"stock_feed_catch_up_ms": 0})


class CountedVersions:
    """The database's versions, counting the statements asked."""

    def __init__(self) -> None:
        self.calls: list[list[int]] = []

    async def __call__(self, held: Mapping[int, int]) -> dict[int, int]:
        self.calls.append(sorted(held))
        return await database_versions(held)


async def _dress_published(publisher: StockPublisher, feed: StockFeed, start: bool = True) -> int:
    await factories.warehouses()
    await factories.product("Dress")
    await factories.stock(DRESS, factories.ONLINE, 4)
    variant_id = (await Variant.get(guid=DRESS)).id
    if start:
        await feed.start()
    await until(lambda: feed.healthy)
    await publisher.publish_pending()
    await until(lambda: at(feed, variant_id, T) == 4)
    return variant_id


async def _lost_write(available: int, minutes: int) -> None:
    """A 1C figure committed by a process that died before publishing it."""
    await factories.stock(DRESS, factories.ONLINE, available, as_of=factories.later(minutes))
    written_versions.forget_all()


async def test_a_lost_publish_is_read_live_on_the_second_round(
    db: str, publisher: StockPublisher, redis: Redis, manual: Settings
) -> None:
    # given a feed holding the dress's published figure
    feed = StockFeed(redis, manual)
    try:
        variant_id = await _dress_published(publisher, feed)

        # when a change commits and its publish is lost
        await _lost_write(1, 5)

        # then the first round only notes the figure is behind, the second reads it live
        assert await feed.catch_up.round() == 0
        assert at(feed, variant_id, T) == 4
        assert await feed.catch_up.round() == 1
        assert at(feed, variant_id, T) == 1
        assert (feed.catch_up.counts.recovered, feed.catch_up.counts.seeded) == (1, 0)
        assert await feed.catch_up.round() == 0  # caught up: nothing more to read
    finally:
        await feed.close()


async def test_a_publish_in_flight_is_not_read_live(
    db: str, publisher: StockPublisher, redis: Redis, manual: Settings
) -> None:
    feed = StockFeed(redis, manual)
    try:
        variant_id = await _dress_published(publisher, feed)
        await factories.stock(DRESS, factories.ONLINE, 2, as_of=factories.later(5))
        assert await feed.catch_up.round() == 0  # behind: the publish has not gone out yet

        await publisher.publish_pending()  # it does, before the next round
        await until(lambda: at(feed, variant_id, T) == 2)

        assert await feed.catch_up.round() == 0
        assert feed.catch_up.counts.recovered == 0
    finally:
        await feed.close()


async def test_a_tracked_variant_is_read_once_so_its_later_loss_shows(
    db: str, publisher: StockPublisher, redis: Redis, manual: Settings
) -> None:
    # given a healthy feed that never heard of the dress (published before it synced)
    await factories.warehouses()
    await factories.product("Dress")
    await factories.stock(DRESS, factories.ONLINE, 4)
    await publisher.publish_pending()
    variant_id = (await Variant.get(guid=DRESS)).id
    feed = StockFeed(redis, manual)
    try:
        await feed.start()
        await until(lambda: feed.healthy)
        assert feed.latest(variant_id, T) is None

        # when an overlaid entry tracks it
        feed.track([variant_id])

        # then one round reads it, and a later lost publish is caught two rounds on
        assert await feed.catch_up.round() == 1
        assert at(feed, variant_id, T) == 4
        await _lost_write(0, 5)
        assert [await feed.catch_up.round(), await feed.catch_up.round()] == [0, 1]
        assert at(feed, variant_id, T) == 0
        assert (feed.catch_up.counts.seeded, feed.catch_up.counts.recovered) == (1, 1)
    finally:
        await feed.close()


async def test_a_round_costs_one_statement_and_none_at_idle(
    db: str, publisher: StockPublisher, redis: Redis, manual: Settings
) -> None:
    versions = CountedVersions()
    feed = StockFeed(redis, manual, versions=versions)
    try:
        await feed.start()
        await until(lambda: feed.healthy)
        await feed.catch_up.round()
        assert versions.calls == []  # nothing held: nothing asked

        variant_id = await _dress_published(publisher, feed, start=False)
        await feed.catch_up.round()
        assert versions.calls == [[variant_id]]
    finally:
        await feed.close()


async def test_an_unhealthy_feed_does_not_catch_up(
    db: str, publisher: StockPublisher, redis: Redis, manual: Settings
) -> None:
    versions = CountedVersions()
    feed = StockFeed(redis, manual, versions=versions)
    feed.track([1])
    assert await feed.catch_up.round() == 0  # not started: not healthy
    assert versions.calls == [] and feed.catch_up.counts.rounds == 0


async def test_on_its_own_schedule_a_lost_publish_shows_within_a_second(
    db: str, publisher: StockPublisher, redis: Redis, stream_settings: Settings
) -> None:
    # the default schedule (400 ms rounds): a lost change is live within two rounds
    settings = stream_settings.model_copy(update={"stock_feed_catch_up_ms": 400})
    feed = StockFeed(redis, settings)
    try:
        variant_id = await _dress_published(publisher, feed)
        await _lost_write(3, 5)
        await until(lambda: at(feed, variant_id, T) == 3, seconds=1.0)
        assert feed.catch_up.counts.recovered == 1
    finally:
        await feed.close()


async def test_the_database_answers_only_the_variants_it_is_ahead_of(db: str) -> None:
    # given three variants with stock rows, one of them written again, and one with none
    await factories.warehouses()
    sizes = [factories.variant("Dress", s, "black") for s in ("S", "M", "L", "XL")]
    await factories.product("Dress", variants=sizes)
    pk = dict(await Variant.all().values_list("guid", "id"))
    s, m, large, xl = (
        pk[factories.guid(f"variant/Dress/{n}/black")] for n in ("S", "M", "L", "XL")
    )
    for size in ("S", "M", "L"):
        await factories.stock(factories.guid(f"variant/Dress/{size}/black"), factories.ONLINE, 1)
    await factories.stock(factories.guid("variant/Dress/M/black"), factories.SHOP_A, 2)
    committed = await read_figures(connection(), [s, m, large], now=T)
    held = {v: f.version for v, f in committed.figures.items()}  # S 1, M 2, L 1

    # when the held versions are compared: L is held one behind, XL (no stock row) at 0
    behind = await read_behind(connection(), {**held, large: 0, xl: 0})

    # then only L comes back, with its committed version
    assert behind == {large: 1}
    assert await read_behind(connection(), held) == {}
    assert await read_behind(connection(), {}) == {}


def test_unvouched_are_the_relied_on_without_a_figure_and_the_figures_a_hold_expiry_ended() -> None:
    held = {
        1: VariantStock(1, 3, {1: 3}, 5, None),
        2: VariantStock(2, 1, {1: 1}, 7, T),  # counted a hold that expires at T
        3: VariantStock(3, 1, {1: 1}, 7, T + timedelta(minutes=1)),
    }
    assert unvouched([1, 4], [5], held, T) == {2, 4, 5}
    assert unvouched([], [], held, T - timedelta(seconds=1)) == set()
