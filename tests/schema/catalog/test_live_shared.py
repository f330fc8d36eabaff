"""One upstream execution per product, fanned out to every socket subscribed to it."""

from __future__ import annotations

import json

from tests import factories
from tests.conftest import Clock, QueryCounter
from tests.schema.catalog import test_availability_subscription as subscriptions
from tests.schema.catalog.test_availability_subscription import (
    DRESS,
    DRESS_L,
    DRESS_M,
    Api,
    _eventually,
    _given_dress,
    _socket,
)

api = subscriptions.api  # the fixture, shared
live_settings = subscriptions.live_settings  # the fixture, shared

SKIRT = factories.guid("product/Skirt")
FIGURE_READ = "FROM variant v CROSS JOIN warehouse w"  # the publisher's read
SUBSCRIBE_READS = ('FROM "product"', 'FROM "variant"', 'FROM "warehouse"')  # watched_product
WITHOUT_IDENTITY = """subscription Bare($id: ID!) {
  productAvailability(productId: $id) { available }
}"""


async def test_a_second_socket_on_the_same_product_reads_nothing_and_shares_the_upstream(
    api: Api, clock: Clock, sql_counter: QueryCounter
) -> None:
    # given a socket subscribed to the dress
    await _given_dress(clock)
    async with _socket(api) as first, _socket(api) as second:
        sql_counter.statements.clear()
        await first.subscribe("1", DRESS)
        assert await first.figures(2) == {DRESS_M: 4, DRESS_L: 0}
        assert [q for q in sql_counter.statements if any(t in q for t in SUBSCRIBE_READS)]
        sql_counter.statements.clear()
        sql_counter.background.clear()

        # when a second socket subscribes to it
        await second.subscribe("7", DRESS)
        replayed = await second.figures(2)
        # (the feed's own catch-up may read figures meanwhile: process-wide, not this join's)
        reads = [q for q in sql_counter.statements if any(t in q for t in SUBSCRIBE_READS)]

        # then it gets the current figures from the shared execution without a read
        assert replayed == {DRESS_M: 4, DRESS_L: 0}
        assert reads == []  # the resolver did not run again
        assert (api.live.hub.live, api.live.hub.channels, api.feed.watcher_count) == (2, 1, 1)

        # and one change reaches both through the one read the publisher makes
        await factories.stock(DRESS_M, factories.ONLINE, 0, as_of=factories.later(5))
        assert await first.figures(1) == {DRESS_M: 1}
        assert await second.figures(1) == {DRESS_M: 1}
        everything = [*sql_counter.statements, *sql_counter.background]
        assert any(FIGURE_READ in statement for statement in everything)  # the publisher's


async def test_one_socket_drops_and_the_other_keeps_receiving(api: Api, clock: Clock) -> None:
    await _given_dress(clock)
    async with _socket(api) as staying:
        await staying.subscribe("1", DRESS)
        await staying.figures(2)
        async with _socket(api) as leaving:
            await leaving.subscribe("1", DRESS)
            await leaving.figures(2)
            leaving.ws.transport.abort()  # gone without a close frame
        await _eventually(lambda: api.live.hub.live == 1)

        await factories.stock(DRESS_M, factories.ONLINE, 2, as_of=factories.later(5))
        changed = await staying.figures(1)

    assert changed == {DRESS_M: 3}
    await _eventually(lambda: (api.live.hub.channels, api.feed.watcher_count) == (0, 0))


async def test_the_last_subscriber_leaving_tears_the_upstream_down(api: Api, clock: Clock) -> None:
    await _given_dress(clock)
    await factories.product("Skirt", variants=[factories.variant("Skirt", "S", "black")])
    async with _socket(api) as a, _socket(api) as b:
        await a.subscribe("1", DRESS)
        await a.figures(2)
        await b.subscribe("1", DRESS)
        await b.figures(2)
        await b.subscribe("2", SKIRT)
        await b.figures(1)
        assert (api.live.hub.channels, api.feed.watcher_count) == (2, 2)

        await a.ws.send(json.dumps({"id": "1", "type": "complete"}))
        await _eventually(lambda: api.live.hub.live == 2)
        still = (api.live.hub.channels, api.feed.watcher_count)
        await b.ws.send(json.dumps({"id": "1", "type": "complete"}))
        await _eventually(lambda: (api.live.hub.channels, api.feed.watcher_count) == (1, 1))

    assert still == (2, 2)  # the dress still had a subscriber
    await _eventually(lambda: (api.live.hub.live, api.live.hub.channels) == (0, 0))
    await _eventually(lambda: api.feed.watcher_count == 0)


async def test_a_document_without_the_identity_field_runs_on_its_own(
    api: Api, clock: Clock
) -> None:
    await _given_dress(clock)
    async with _socket(api) as socket:
        payload = {"query": WITHOUT_IDENTITY, "variables": {"id": DRESS}}
        await socket.ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        first = await socket.receive()
        counted = (api.live.hub.live, api.live.hub.general, api.live.hub.channels)

    assert first["type"] == "next"
    assert "available" in first["payload"]["data"]["productAvailability"]
    assert counted == (1, 1, 0)
    await _eventually(lambda: (api.live.hub.live, api.feed.watcher_count) == (0, 0))


async def test_protocol_errors_close_with_graphql_transport_ws_codes(api: Api) -> None:
    async with _socket(api, init=False) as early:
        await early.subscribe("1", DRESS)  # before connection_init
        await early.ws.wait_closed()
        closed_early = early.ws.close_code
    async with _socket(api) as twice:
        await twice.ws.send(json.dumps({"type": "connection_init"}))
        await twice.ws.wait_closed()
    async with _socket(api) as dup:
        await dup.subscribe("1", DRESS)
        await dup.subscribe("1", DRESS)
        await dup.ws.wait_closed()
    async with _socket(api) as unknown:
        await unknown.ws.send(json.dumps({"type": "hello"}))
        await unknown.ws.wait_closed()

    assert closed_early == 4401
    assert (twice.ws.close_code, dup.ws.close_code, unknown.ws.close_code) == (4429, 4409, 4400)
    assert unknown.ws.close_reason == "Unknown message type: hello"
