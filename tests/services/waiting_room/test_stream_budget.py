"""The admission budget from the one stock-change stream: no query per tick while the stream
is healthy, exactly one while it is not (never an old figure), the queue moving on a change."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis

from app.domain.waiting_room import WaiterState
from app.models.catalog import Variant
from app.services.stock_stream import StockFeed, StockPublisher
from app.services.waiting_room.stock import DropFigures, DropShapes, TickSources
from app.settings import Settings
from tests import factories
from tests.conftest import QueryCounter
from tests.services.waiting_room.conftest import (
    RELEASE,
    Shopper,
    device,
    given_drop,
    tick,
    variant_guid,
)
from tests.waiting import wait_until

AFTER = RELEASE + timedelta(seconds=1)


@dataclass
class Stream:
    feed: StockFeed
    publisher: StockPublisher


@pytest.fixture
async def stream(db: str, redis: Redis, settings: Settings) -> AsyncIterator[Stream]:
    live = settings.model_copy(
        update={
            "stock_stream_key": f"test:stock:{uuid.uuid4().hex}",
            "stock_stream_block_ms": 100,
            "stock_stream_coalesce_ms": 20,
        }
    )
    feed, publisher = StockFeed(redis, live), StockPublisher(redis, live)
    await feed.start()
    await publisher.start()
    await wait_until(lambda: feed.healthy, within=5, what="the feed synced")
    yield Stream(feed, publisher)
    await publisher.close()
    await feed.close()


def _sources(feed: StockFeed) -> TickSources:
    return TickSources(DropShapes(), DropFigures(feed, lag=timedelta(0)))


async def _counted(sql: QueryCounter, work: object) -> int:
    sql.statements.clear()
    await work  # type: ignore[misc]
    return len(sql.statements)


async def test_a_healthy_stream_costs_no_query_per_tick(
    redis: Redis, stream: Stream, sql_counter: QueryCounter
) -> None:
    collection = await given_drop(redis, [2, 2])
    line = [Shopper(redis, device(n)) for n in range(1, 8)]
    for shopper in line:
        await shopper.join(AFTER)
    sources = _sources(stream.feed)
    ids = await Variant.all().values_list("id", flat=True)
    await wait_until(
        lambda: all(stream.feed.latest(v, AFTER) for v in ids),  # type: ignore[arg-type]
        within=5,
        what="the drop's stock writes streamed",
    )

    def ticking(seconds: int) -> object:
        at = AFTER + timedelta(seconds=seconds)
        return tick(redis, collection, at, sources=sources)

    first = await _counted(sql_counter, ticking(0))  # the drop's shape, once per 10 s
    steady = [await _counted(sql_counter, ticking(s)) for s in (1, 2, 3)]

    assert (first, steady) == (2, [0, 0, 0])
    assert [(await s.ask(AFTER)).state for s in line].count(WaiterState.ADMITTED) == 4


async def test_a_stock_change_reaches_the_budget_through_the_stream(
    redis: Redis, stream: Stream, sql_counter: QueryCounter
) -> None:
    collection = await given_drop(redis, [1, 0])
    line = [Shopper(redis, device(n)) for n in range(1, 5)]
    for shopper in line:
        await shopper.join(AFTER)
    sources = _sources(stream.feed)
    assert await tick(redis, collection, AFTER, sources=sources) == 1
    second = await Variant.get(guid=variant_guid(1))

    await factories.stock(variant_guid(1), factories.ONLINE, 2, as_of=factories.later(5))
    await wait_until(
        lambda: (f := stream.feed.latest(second.id, AFTER)) is not None and f.available == 2,
        within=5,
        what="the new figure streamed",
    )
    queries = await _counted(
        sql_counter, tick(redis, collection, AFTER + timedelta(seconds=1), sources=sources)
    )

    assert queries == 0
    assert [(await s.ask(AFTER)).state for s in line].count(WaiterState.ADMITTED) == 3


async def test_an_unhealthy_stream_costs_one_live_read_per_tick_never_an_old_figure(
    redis: Redis, stream: Stream, sql_counter: QueryCounter
) -> None:
    collection = await given_drop(redis, [2, 2])
    line = [Shopper(redis, device(n)) for n in range(1, 8)]
    for shopper in line:
        await shopper.join(AFTER)
    sources = _sources(stream.feed)
    await tick(redis, collection, AFTER, sources=sources)  # 4 admitted, the figures kept
    await stream.feed.close()  # the stream is lost: nothing it said counts any more

    await factories.stock(variant_guid(0), factories.ONLINE, 3, as_of=factories.later(5))
    queries = await _counted(
        sql_counter, tick(redis, collection, AFTER + timedelta(seconds=1), sources=sources)
    )

    assert queries == 1  # the figures, read live
    assert [(await s.ask(AFTER)).state for s in line].count(WaiterState.ADMITTED) == 5


async def test_without_a_stream_a_tick_reads_the_drop_and_its_figures(
    redis: Redis, db: str, sql_counter: QueryCounter
) -> None:
    collection = await given_drop(redis, [2])
    await Shopper(redis, device(1)).join(AFTER)

    queries = await _counted(sql_counter, tick(redis, collection, AFTER))

    assert queries == 3  # the collection, its variants, their figures (one statement)


async def test_a_hold_turned_into_an_order_is_sold_out_though_the_stream_names_the_hold(
    redis: Redis, stream: Stream, sql_counter: QueryCounter
) -> None:
    now = datetime.now(UTC)  # the publisher reads holds at the wall clock: so must we
    collection = await given_drop(redis, [1], hold="at_cart")
    first, second = Shopper(redis, device(1)), Shopper(redis, device(2))
    for shopper in (first, second):
        await shopper.join(now)
    sources = _sources(stream.feed)
    await tick(redis, collection, now, sources=sources)
    await first.ask(now)
    variant = await Variant.get(guid=variant_guid(0))
    await first.add(variant_guid(0), now)
    await wait_until(
        lambda: (f := stream.feed.latest(variant.id, now)) is not None and f.available == 0,
        within=5,
        what="the hold streamed",
    )
    await first.order(now)  # the hold becomes the order's: the stream still names the hold

    queries = await _counted(
        sql_counter, tick(redis, collection, now + timedelta(seconds=1), sources=sources)
    )
    again = await _counted(
        sql_counter, tick(redis, collection, now + timedelta(seconds=2), sources=sources)
    )

    assert (await second.ask(now)).state is WaiterState.SOLD_OUT
    assert (queries, again) == (1, 0)  # the held variant read live once, then known
