"""Live availability on the product page: graphql-transport-ws against the real app behind
uvicorn, fed by the stock stream; limits, the init timeout, keep-alive and clean-up."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import graphql
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from app.cli import LEAN_WS
from app.devtools.simulators.server import LocalServer
from app.main import create_app
from app.models.catalog import Variant
from app.models.stock import written_versions
from app.schema.documents import build_manifest, manifest_json
from app.schema.live.server import LiveServer
from app.schema.plans import PlannedExecutor, planned_executor
from app.services.stock_stream import StockFeed
from app.settings import Settings
from tests import factories
from tests.conftest import Clock, QueryCounter

DRESS = factories.guid("product/Dress")
DRESS_M = factories.guid("variant/Dress/M/black")
DRESS_L = factories.guid("variant/Dress/L/black")
SUBSCRIPTION = """subscription ProductAvailability($id: ID!) {
  productAvailability(productId: $id) { variantId available availability { warehouseId quantity } }
}"""
Message = dict[str, Any]


@dataclass
class Api:
    url: str
    feed: StockFeed
    settings: Settings
    live: LiveServer


@pytest.fixture
def live_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "stock_stream_key": f"test:stock:{uuid.uuid4().hex}",
            "stock_stream_block_ms": 200,
            "stock_stream_coalesce_ms": 100,  # the writer has committed when the publisher reads
            "ws_init_timeout_seconds": 0.3,
            "ws_ping_seconds": 0.2,
            "max_subscriptions_per_connection": 3,
            "max_subscriptions_per_process": 4,
        }
    )


@pytest.fixture
async def api(db: str, live_settings: Settings, redis_url: str, clock: Clock) -> AsyncIterator[Api]:
    written_versions.forget_all()
    app = create_app(live_settings, redis_url=redis_url, manage_db=False, clock=clock)
    async with app.router.lifespan_context(app), LocalServer(app, ws=LEAN_WS) as server:
        feed: StockFeed = app.state.stock_feed
        async with asyncio.timeout(5):
            while not feed.healthy:
                await asyncio.sleep(0.01)
        yield Api(
            url=f"ws://127.0.0.1:{server.port}/graphql",
            feed=feed,
            settings=live_settings,
            live=app.state.live,
        )


async def _settled(api: Api, clock: Clock) -> None:
    """Wait until the feed holds the dress's figure of the setup's last write (its publishes
    over: a subscription opened now starts from it and sees no change after)."""
    pk = (await Variant.get(guid=DRESS_M)).id
    await _eventually(lambda: (f := api.feed.latest(pk, clock())) is not None and f.available == 4)


async def _given_dress(clock: Clock) -> None:
    await factories.warehouses()
    await factories.product(
        "Dress",
        variants=[
            factories.variant("Dress", "M", "black"),
            factories.variant("Dress", "L", "black"),
        ],
    )
    await factories.stock(DRESS_M, factories.ONLINE, 3)
    await factories.stock(DRESS_M, factories.SHOP_A, 1)


class Socket:
    """A storefront's graphql-transport-ws connection (answers the server's pings)."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.pings = 0

    async def init(self) -> None:
        await self.ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert await self.receive() == {"type": "connection_ack"}

    async def subscribe(self, op: str, product_id: str) -> None:
        payload = {"query": SUBSCRIPTION, "variables": {"id": product_id}}
        await self.ws.send(json.dumps({"id": op, "type": "subscribe", "payload": payload}))

    async def receive(self, seconds: float = 5.0) -> Message:
        async with asyncio.timeout(seconds):
            while True:
                message: Message = json.loads(await self.ws.recv())
                if message["type"] != "ping":
                    return message
                self.pings += 1
                await self.ws.send(json.dumps({"type": "pong"}))

    async def figures(self, count: int) -> dict[str, int]:
        """The next `count` figures: variant id -> available."""
        got: dict[str, int] = {}
        for _ in range(count):
            message = await self.receive()
            assert message["type"] == "next", message
            data = message["payload"]["data"]["productAvailability"]
            got[data["variantId"]] = data["available"]
        return got


@asynccontextmanager
async def _socket(api: Api, *, init: bool = True) -> AsyncIterator[Socket]:
    async with connect(api.url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        socket = Socket(ws)
        if init:
            await socket.init()
        yield socket


async def _eventually(check: Callable[[], bool], seconds: float = 5.0) -> None:
    async with asyncio.timeout(seconds):
        while not check():
            await asyncio.sleep(0.01)


async def test_a_subscriber_gets_the_current_figures_then_each_change(
    api: Api, clock: Clock
) -> None:
    await _given_dress(clock)
    async with _socket(api) as socket:
        await socket.subscribe("1", DRESS)
        first = await socket.receive()
        second = await socket.receive()

        await factories.stock(DRESS_M, factories.ONLINE, 1, as_of=factories.later(5))
        changed = await socket.figures(1)

    data = [m["payload"]["data"]["productAvailability"] for m in (first, second)]
    by_variant = {d["variantId"]: d for d in data}
    assert {v: d["available"] for v, d in by_variant.items()} == {DRESS_M: 4, DRESS_L: 0}
    assert by_variant[DRESS_M]["availability"] == [
        {"warehouseId": factories.ONLINE, "quantity": 3},
        {"warehouseId": factories.SHOP_A, "quantity": 1},
        {"warehouseId": factories.SHOP_B, "quantity": 0},
    ]
    assert changed == {DRESS_M: 2}


async def test_one_change_costs_one_database_read_however_many_watch(
    api: Api, clock: Clock, sql_counter: QueryCounter
) -> None:
    await _given_dress(clock)
    await _settled(api, clock)
    async with _socket(api) as a, _socket(api) as b, _socket(api) as c:
        for socket in (a, b, c):
            await socket.subscribe("1", DRESS)
            await socket.figures(2)
        await asyncio.sleep(0.1)  # the setup's own publishing is over
        sql_counter.statements.clear()
        api.feed.on_change(lambda _: None)  # the overlay and the waiting room listen too

        await factories.stock(DRESS_M, factories.ONLINE, 0, as_of=factories.later(5))
        sql_counter.background.clear()  # (the change's own statements are in `statements`)
        got = [await s.figures(1) for s in (a, b, c)]

    assert got == [{DRESS_M: 1}] * 3
    [read] = sql_counter.background  # the publisher's, once; the feed and sockets read nothing
    assert "FROM variant v CROSS JOIN warehouse w" in read


@pytest.mark.parametrize("kind", ["unknown", "unreleased"])
async def test_an_unknown_or_unreleased_product_is_a_typed_error(
    api: Api, clock: Clock, kind: str
) -> None:
    await factories.warehouses()
    drop = await factories.collection("Drop", clock() + timedelta(hours=1))
    await factories.product("Dress", collection_guid=drop)
    product = factories.guid("product/nothing") if kind == "unknown" else DRESS

    async with _socket(api) as socket:
        await socket.subscribe("1", product)
        message = await socket.receive()

    assert message["type"] == "next"
    [error] = message["payload"]["errors"]
    assert error["extensions"]["code"] == "UNKNOWN_PRODUCT"
    assert error["extensions"]["field"] == ["productId"]
    assert api.feed.watcher_count == 0


async def test_a_connection_that_does_not_init_is_closed_after_the_timeout(api: Api) -> None:
    async with _socket(api, init=False) as socket:
        with pytest.raises(ConnectionClosed) as closed:
            await socket.receive(seconds=2)

    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (
        4408,
        "Connection initialisation timeout",
    )


def test_the_init_timeout_is_three_seconds_by_default() -> None:
    assert Settings(environment="test").ws_init_timeout_seconds == 3.0


async def test_the_server_pings_an_idle_connection(api: Api, clock: Clock) -> None:
    await _given_dress(clock)
    await _settled(api, clock)
    async with _socket(api) as socket:
        await socket.subscribe("1", DRESS)
        await socket.figures(2)
        try:
            unexpected: Message | None = await socket.receive(seconds=0.7)
        except TimeoutError:  # no change: only pings came (and were answered)
            unexpected = None

    assert unexpected is None
    assert socket.pings >= 2


async def test_subscriptions_per_connection_and_per_process_are_limited(
    api: Api, clock: Clock
) -> None:
    await _given_dress(clock)
    async with _socket(api) as first, _socket(api) as second:
        for op in ("1", "2", "3"):
            await first.subscribe(op, DRESS)
            await first.figures(2)
        await first.subscribe("4", DRESS)
        over_connection = await first.receive()
        await second.subscribe("1", DRESS)
        await second.figures(2)
        await second.subscribe("2", DRESS)  # the process's fifth
        over_process = await second.receive()

    assert over_connection["type"] == "error"
    assert over_connection["payload"][0]["message"] == "Subscription limit reached"
    assert over_process["type"] == "next"
    assert over_process["payload"]["errors"][0]["extensions"]["code"] == "TOO_MANY_ATTEMPTS"


async def test_a_dropped_client_leaves_no_subscription_behind(api: Api, clock: Clock) -> None:
    await _given_dress(clock)
    async with _socket(api) as socket:
        for op in ("1", "2", "3"):
            await socket.subscribe(op, DRESS)
            await socket.figures(2)
        # three subscriptions counted, one upstream (one feed watcher) for the product
        assert (api.live.hub.live, api.live.hub.channels, api.feed.watcher_count) == (3, 1, 1)
        assert api.live.clock.connections == 1
        socket.ws.transport.abort()  # no close frame: the client just vanished

    await _eventually(
        lambda: (
            (api.live.hub.live, api.live.hub.channels, api.feed.watcher_count) == (0, 0, 0)
            and api.live.clock.connections == 0
        )
    )
    async with _socket(api) as again:  # the process serves the next shopper as before
        await again.subscribe("1", DRESS)
        assert len(await again.figures(2)) == 2
        await again.ws.send(json.dumps({"id": "1", "type": "complete"}))
        await _eventually(lambda: api.feed.watcher_count == 0)


@pytest.fixture
async def strict_api(
    db: str, live_settings: Settings, redis_url: str, clock: Clock, tmp_path: Path
) -> AsyncIterator[Api]:
    manifest = tmp_path / "persisted-documents.json"  # the committed one may lag this change
    manifest.write_text(manifest_json(build_manifest()))
    strict = live_settings.model_copy(
        update={"trusted_documents": "strict", "persisted_documents_file": manifest}
    )
    app = create_app(strict, redis_url=redis_url, manage_db=False, clock=clock)
    async with app.router.lifespan_context(app), LocalServer(app, ws=LEAN_WS) as server:
        yield Api(
            url=f"ws://127.0.0.1:{server.port}/graphql",
            feed=app.state.stock_feed,
            settings=strict,
            live=app.state.live,
        )


async def test_strict_trusted_documents_take_the_registered_id_and_refuse_free_form_text(
    strict_api: Api, clock: Clock
) -> None:
    await _given_dress(clock)
    registered = {v["name"]: k for k, v in build_manifest().items()}["ProductAvailability"]

    async with _socket(strict_api) as socket:
        await socket.subscribe("1", DRESS)  # free-form text
        refused = await socket.receive()
        by_id = {"documentId": registered, "variables": {"productId": DRESS}}
        await socket.ws.send(json.dumps({"id": "2", "type": "subscribe", "payload": by_id}))
        figures = await socket.figures(2)

    assert refused["type"] == "error"
    assert refused["payload"][0]["extensions"]["code"] == "PERSISTED_QUERY_REQUIRED"
    assert figures == {DRESS_M: 4, DRESS_L: 0}


async def test_a_long_subscription_memoizes_nothing_per_event_it_delivered() -> None:
    # given a subscription whose events carry nested objects, run by the app's executor
    schema = graphql.build_schema(
        "type Query { x: Int } type W { id: ID q: Int } type A { v: ID w: [W] } "
        "type Subscription { a: A }"
    )

    async def events() -> AsyncIterator[dict[str, Any]]:
        for n in range(500):
            yield {"a": {"v": str(n), "w": [{"id": "1", "q": n}]}}

    field = schema.subscription_type.fields["a"]  # type: ignore[union-attr]
    field.subscribe = lambda root, info: events()
    field.resolve = lambda event, info: event["a"]
    built: list[PlannedExecutor] = []

    class Recorded(planned_executor([])):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            built.append(self)  # the subscription's own executor (per-event ones are copies)

    # when it delivers 500 events
    stream = graphql.subscribe(
        schema, graphql.parse("subscription { a { v w { id q } } }"), executor_class=Recorded
    )
    assert not isinstance(stream, graphql.ExecutionResult)
    results = [result async for result in stream]  # type: ignore[union-attr]

    # then every event was answered, and the subscription's executor kept no memo per event
    assert len(results) == 500
    assert results[-1].data == {"a": {"v": "499", "w": [{"id": "1", "q": 499}]}}
    assert len(built) == 1
    assert built[0]._relevant_sub_fields == {}
