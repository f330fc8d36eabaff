"""`queueStatus` as a subscription: graphql-transport-ws against the real app behind uvicorn.
The first answer is the query's; then the drop's loop pushes each change (admitted with the
pass, sold out), and a token of another device is a typed error."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from websockets.asyncio.client import ClientConnection, connect

from app.cli import LEAN_WS
from app.devtools.simulators.server import LocalServer
from app.main import create_app
from app.models.stock import written_versions
from app.services.catalog import intake as catalog
from app.settings import Settings
from tests import factories
from tests.conftest import Clock

DROP = factories.guid("collection/Queued")
TEE = factories.guid("variant/Tee/M/black")
ANNA = "1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b"
BORIS = "6fa459ea-ee8a-3ca4-894e-db77e160355e"
ERRORS = "errors { code path }"
JOIN = f"""mutation J($c: ID!) {{ joinQueue(collectionId: $c) {{
  status {{ token state }} {ERRORS} }} }}"""
WATCH = f"""subscription W($t: String!, $d: String) {{ queueStatus(token: $t, deviceId: $d) {{
  status {{ state position queuePass passExpiresAt }} {ERRORS} }} }}"""
CART = "mutation { createCart { cart { token } } }"
ADD = f"""mutation A($cart: String!) {{ addToCart(cartToken: $cart, variantId: "{TEE}") {{
  {ERRORS} }} }}"""
CONTACT = f"""mutation C($cart: String!) {{ setCartContact(cartToken: $cart,
  contact: {{email: "anna@example.com"}}) {{ {ERRORS} }} }}"""
DELIVERY = f"""mutation D($cart: String!) {{ setCartDelivery(cartToken: $cart,
  delivery: {{method: COURIER, address: "Москва"}}) {{ {ERRORS} }} }}"""
PLACE = f"""mutation P($cart: String!) {{
  placeOrder(cartToken: $cart, idempotencyKey: "key-0001") {{ {ERRORS} }} }}"""
Message = dict[str, Any]


@dataclass
class Api:
    http: httpx.AsyncClient
    ws_url: str


@pytest.fixture
async def api(db: str, settings: Settings, redis_url: str, clock: Clock) -> AsyncIterator[Api]:
    live = settings.model_copy(
        update={"stock_stream_key": f"test:stock:{uuid.uuid4().hex}", "stock_stream_block_ms": 200}
    )
    async with Redis.from_url(redis_url) as redis:
        await redis.flushdb()  # an earlier test's queue must not count
    written_versions.forget_all()
    app = create_app(live, redis_url=redis_url, manage_db=False, clock=clock)
    async with app.router.lifespan_context(app), LocalServer(app, ws=LEAN_WS) as server:
        base = f"127.0.0.1:{server.port}"
        async with httpx.AsyncClient(base_url=f"http://{base}") as http:
            yield Api(http=http, ws_url=f"ws://{base}/graphql")


async def _given_released_drop(clock: Clock, units: int) -> None:
    await factories.warehouses()
    data = catalog.CollectionData(
        DROP, "Queued", factories.iso(clock.now - timedelta(minutes=1)), queue_mode="lottery"
    )
    assert not (await catalog.upsert_collections(items=[data])).problems
    await factories.product("Tee", collection_guid=DROP)
    await factories.stock(TEE, factories.ONLINE, units)


async def _call(api: Api, document: str, device: str, **variables: Any) -> dict[str, Any]:
    headers = {"X-Device-Id": device}
    if "queue_pass" in variables:
        headers["X-Queue-Pass"] = variables.pop("queue_pass")
    response = await api.http.post(
        "/graphql", json={"query": document, "variables": variables}, headers=headers
    )
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


class Socket:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    async def receive(self, seconds: float = 5.0) -> Message:
        async with asyncio.timeout(seconds):
            while True:
                message: Message = json.loads(await self.ws.recv())
                if message["type"] != "ping":
                    return message
                await self.ws.send(json.dumps({"type": "pong"}))

    async def status(self) -> dict[str, Any]:
        message = await self.receive()
        assert message["type"] == "next", message
        answer: dict[str, Any] = message["payload"]["data"]["queueStatus"]
        return answer


@asynccontextmanager
async def _watching(api: Api, token: str, device: str) -> AsyncIterator[Socket]:
    async with connect(api.ws_url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        socket = Socket(ws)
        assert await socket.receive() == {"type": "connection_ack"}
        payload = {"query": WATCH, "variables": {"t": token, "d": device}}
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        yield socket


async def test_a_waiter_hears_the_admission_then_the_sell_out_without_asking(
    api: Api, clock: Clock
) -> None:
    await _given_released_drop(clock, units=1)
    anna = (await _call(api, JOIN, ANNA, c=DROP))["joinQueue"]["status"]["token"]
    boris = (await _call(api, JOIN, BORIS, c=DROP))["joinQueue"]["status"]["token"]
    clock.advance(seconds=2)  # the first tick is due (the tests' clock stands still otherwise)

    async with _watching(api, anna, ANNA) as annas, _watching(api, boris, BORIS) as boriss:
        admitted = await annas.status()  # one unit: anna, first in line, is admitted
        waiting = await boriss.status()
        pass_ = admitted["status"]["queuePass"]
        cart = (await _call(api, CART, ANNA))["createCart"]["cart"]["token"]
        for step in (ADD, CONTACT, DELIVERY, PLACE):
            answer = await _call(api, step, ANNA, cart=cart, queue_pass=pass_)
            assert all(not a["errors"] for a in answer.values()), answer
        clock.advance(seconds=2)  # the next tick is due
        used = await annas.status()  # pushed: neither asked
        sold_out = await boriss.status()

    assert admitted["errors"] == [] and admitted["status"]["state"] == "ADMITTED"
    assert pass_.startswith("p1.")
    assert waiting["status"] == {
        "state": "WAITING",
        "position": 1,
        "queuePass": None,
        "passExpiresAt": None,
    }
    assert used["status"]["state"] == "USED"
    assert sold_out["status"] == {
        "state": "SOLD_OUT",
        "position": 1,
        "queuePass": None,
        "passExpiresAt": None,
    }


async def test_a_token_of_another_device_is_a_typed_error_and_the_stream_ends(
    api: Api, clock: Clock
) -> None:
    await _given_released_drop(clock, units=1)
    anna = (await _call(api, JOIN, ANNA, c=DROP))["joinQueue"]["status"]["token"]

    async with _watching(api, anna, BORIS) as socket:
        refused = await socket.status()
        complete = await socket.receive()

    assert refused == {"status": None, "errors": [{"code": "INVALID_TOKEN", "path": ["token"]}]}
    assert complete == {"id": "1", "type": "complete"}
