"""A drop's waiting room through the real ASGI app: 1C turns it on, shoppers join and poll,
the pass (X-Queue-Pass) opens the cart and checkout, ops read the figures."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from app.domain.access import Scope
from app.main import create_app
from app.models.catalog import Collection
from app.models.orders import Order
from app.services.waiting_room.store import Keys
from app.settings import Settings
from tests import factories
from tests.conftest import Clock

DROP = factories.guid("collection/Queued")
PLAIN = factories.guid("collection/Plain")
TEE = factories.guid("variant/Tee/M/black")
ANNA = "1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b"
BORIS = "6fa459ea-ee8a-3ca4-894e-db77e160355e"

ERRORS = "errors { code path message retryAfter }"
STATUS = "state token position estimateSeconds pollAfter releaseAt queuePass passExpiresAt"
JOIN = f"""mutation J($c: ID!) {{ joinQueue(collectionId: $c) {{
  status {{ {STATUS} }} {ERRORS} }} }}"""
ASK = f"""query Q($t: String!) {{ queueStatus(token: $t) {{ status {{ {STATUS} }} {ERRORS} }} }}"""
CREATE = f"mutation {{ createCart {{ cart {{ token }} {ERRORS} }} }}"
ADD = f"""mutation A($cart: String!) {{ addToCart(cartToken: $cart, variantId: "{TEE}") {{
  cart {{ lines {{ quantity }} }} {ERRORS} }} }}"""
CONTACT = f"""mutation C($cart: String!) {{ setCartContact(cartToken: $cart,
  contact: {{email: "anna@example.com"}}) {{ cart {{ token }} {ERRORS} }} }}"""
DELIVERY = f"""mutation D($cart: String!) {{ setCartDelivery(cartToken: $cart,
  delivery: {{method: COURIER, address: "Москва"}}) {{ cart {{ token }} {ERRORS} }} }}"""
PLACE = f"""mutation P($cart: String!) {{
  placeOrder(cartToken: $cart, idempotencyKey: "key-0001") {{ order {{ number }} {ERRORS} }} }}"""
CATALOG = """mutation C($input: CatalogInput!) {
  upsertCatalog(input: $input) { collections { created updated } errors { code path message } }
}"""
COLLECTIONS = "query { collections(includeUpcoming: true) { id queueMode } }"
FIGURES = """query F($c: ID!) { waitingRoom(collectionId: $c) {
  available drawn queueLength preQueue inLine admitted passesLive soldOut soldOutAt } }"""


async def _call(
    client: httpx.AsyncClient,
    document: str,
    variables: dict[str, Any] | None = None,
    *,
    device: str | None = ANNA,
    queue_pass: str | None = None,
    token: str | None = None,
) -> dict[str, Any]:
    headers = {"X-Device-Id": device} if device else {}
    if queue_pass:
        headers["X-Queue-Pass"] = queue_pass
    if token:
        headers["Authorization"] = f"Bearer {token}"
    response = await client.post(
        "/graphql", json={"query": document, "variables": variables or {}}, headers=headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


async def _given_queued_drop(client: httpx.AsyncClient, clock: Clock, units: int = 3) -> int:
    """A drop released in 10 minutes with a waiting room (set by 1C), one tee with `units`."""
    await factories.warehouses()
    token = await factories.token(Scope.CATALOG_WRITE)
    release = factories.iso(clock.now + timedelta(minutes=10))
    collection = {"guid": DROP, "name": "Queued", "releaseAt": release, "queueMode": "LOTTERY"}
    done = await _call(client, CATALOG, {"input": {"collections": [collection]}}, token=token)
    assert done["upsertCatalog"]["errors"] == []
    await factories.product("Tee", collection_guid=DROP)
    await factories.stock(TEE, factories.ONLINE, units)
    return (await Collection.get(guid=DROP)).id


@pytest.fixture
async def client(
    db: str, settings: Settings, redis_url: str, clock: Clock
) -> AsyncIterator[httpx.AsyncClient]:
    """The real app on a redis emptied for the test (an earlier test's queue must not count)."""
    redis = Redis.from_url(redis_url)
    await redis.flushdb()
    await redis.aclose()
    app = create_app(settings, redis_url=redis_url, manage_db=False, clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://vitrina.test") as c:
            yield c


async def _next_tick(redis_url: str, collection: int) -> None:
    """A second passes: the lock of the last tick is gone (the tests' clock is frozen)."""
    redis = Redis.from_url(redis_url)
    await redis.delete(Keys(collection).tick)
    await redis.aclose()


async def _cart(client: httpx.AsyncClient) -> str:
    token: str = (await _call(client, CREATE))["createCart"]["cart"]["token"]
    return token


async def test_1c_turns_the_waiting_room_on_and_the_catalog_says_so(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    await _given_queued_drop(client, clock)

    collections = (await _call(client, COLLECTIONS))["collections"]

    assert collections == [{"id": DROP, "queueMode": "LOTTERY"}]


async def test_a_shopper_waits_for_the_draw_is_admitted_and_buys_with_the_pass(
    client: httpx.AsyncClient, clock: Clock, redis_url: str
) -> None:
    collection = await _given_queued_drop(client, clock)
    joined = (await _call(client, JOIN, {"c": DROP}))["joinQueue"]
    waiting = joined["status"]
    clock.advance(minutes=10, seconds=1)
    await _next_tick(redis_url, collection)
    cart = await _cart(client)
    refused = (await _call(client, ADD, {"cart": cart}))["addToCart"]

    admitted = (await _call(client, ASK, {"t": waiting["token"]}))["queueStatus"]["status"]
    queue_pass = admitted["queuePass"]
    added = (await _call(client, ADD, {"cart": cart}, queue_pass=queue_pass))["addToCart"]
    await _call(client, CONTACT, {"cart": cart})
    await _call(client, DELIVERY, {"cart": cart})
    unpassed = (await _call(client, PLACE, {"cart": cart}))["placeOrder"]
    placed = (await _call(client, PLACE, {"cart": cart}, queue_pass=queue_pass))["placeOrder"]

    assert joined["errors"] == []
    assert (waiting["state"], waiting["position"], waiting["pollAfter"]) == ("WAITING", None, 30)
    assert refused["cart"] is None
    assert [(e["code"], e["path"]) for e in refused["errors"]] == [
        ("QUEUE_PASS_REQUIRED", ["variantId"])
    ]
    assert admitted["state"] == "ADMITTED"
    assert queue_pass.startswith("p1.")
    assert added == {"cart": {"lines": [{"quantity": 1}]}, "errors": []}
    assert [(e["code"], e["path"]) for e in unpassed["errors"]] == [
        ("QUEUE_PASS_REQUIRED", ["lines", "0"])
    ]
    assert placed["errors"] == [] and placed["order"]["number"].startswith("V-")
    assert await Order.all().count() == 1


async def test_a_place_answers_only_its_own_device_and_only_queued_drops_have_one(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    await _given_queued_drop(client, clock)
    await factories.collection("Plain", clock.now)
    token = (await _call(client, JOIN, {"c": DROP}))["joinQueue"]["status"]["token"]

    stolen = (await _call(client, ASK, {"t": token}, device=BORIS))["queueStatus"]
    forged = (await _call(client, ASK, {"t": token + "x"}))["queueStatus"]
    plain = (await _call(client, JOIN, {"c": PLAIN}))["joinQueue"]

    assert stolen["status"] is None
    assert [(e["code"], e["path"]) for e in stolen["errors"]] == [("INVALID_TOKEN", ["token"])]
    assert [e["code"] for e in forged["errors"]] == ["INVALID_TOKEN"]
    assert [(e["code"], e["path"]) for e in plain["errors"]] == [("NOT_FOUND", ["collectionId"])]


async def test_joining_is_throttled_per_device(
    db: str, settings: Settings, redis_url: str, clock: Clock
) -> None:
    wired = settings.model_copy(
        update={"checkout_throttles": True, "throttle_join_queue_per_device": 2}
    )
    redis = Redis.from_url(redis_url)
    await redis.flushdb()
    await redis.aclose()
    app = create_app(wired, redis_url=redis_url, manage_db=False, clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            await _given_queued_drop(client, clock)
            answers = [(await _call(client, JOIN, {"c": DROP}))["joinQueue"] for _ in range(3)]

    assert [a["errors"] for a in answers[:2]] == [[], []]
    assert answers[2]["status"] is None
    assert [(e["code"], e["retryAfter"]) for e in answers[2]["errors"]] == [
        ("TOO_MANY_ATTEMPTS", 30)
    ]


async def test_ops_see_the_rooms_figures_with_an_admin_token(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    await _given_queued_drop(client, clock)
    for device in (ANNA, BORIS):
        await _call(client, JOIN, {"c": DROP}, device=device)
    admin = await factories.token(Scope.ADMIN)

    figures = (await _call(client, FIGURES, {"c": DROP}, token=admin))["waitingRoom"]
    response = await client.post("/graphql", json={"query": FIGURES, "variables": {"c": DROP}})

    assert figures == {
        "available": True,
        "drawn": False,
        "queueLength": 2,
        "preQueue": 2,
        "inLine": 0,
        "admitted": 0,
        "passesLive": 0,
        "soldOut": False,
        "soldOutAt": None,
    }
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_restarted_api_answers_the_same_place(
    client: httpx.AsyncClient, clock: Clock, settings: Settings, redis_url: str
) -> None:
    await _given_queued_drop(client, clock)
    await _call(client, JOIN, {"c": DROP}, device=BORIS)
    status = (await _call(client, JOIN, {"c": DROP}))["joinQueue"]["status"]

    restarted = create_app(settings, redis_url=redis_url, manage_db=False, clock=clock)
    async with restarted.router.lifespan_context(restarted):
        transport = httpx.ASGITransport(app=restarted)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as other:
            again = (await _call(other, ASK, {"t": status["token"]}))["queueStatus"]["status"]

    assert again == status
