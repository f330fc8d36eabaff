"""Buying a look whose product is in a queued drop: the look needs the drop's pass, as
addToCart does (QUEUE_PASS_REQUIRED at the item), and takes it in X-Queue-Pass."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from redis.asyncio import Redis

from app.devtools.simulators.instagram import InstagramSimulator
from app.integrations.instagram.client import InstagramClient
from app.models.catalog import Collection, HoldMode, Product
from app.models.checkout import CartLine
from app.services.catalog import intake as catalog
from app.services.checkout import carts
from app.services.instashop.account import InstashopConfig
from app.services.instashop.store import FileStore
from app.services.waiting_room.store import Keys
from tests import factories
from tests.conftest import Clock
from tests.contract.documents import document
from tests.schema.instashop.test_looks import DRESS, SCARF, link, shop, variant

ADD = document("AddLookToCart")
DROP = factories.guid("collection/Queued")
ANNA = "1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b"
JOIN = """mutation J($c: ID!) { joinQueue(collectionId: $c) { status { token } } }"""
ASK = """query Q($t: String!) { queueStatus(token: $t) { status { state queuePass } } }"""


async def _call(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any], queue_pass: str = ""
) -> dict[str, Any]:
    headers = {"X-Device-Id": ANNA} | ({"X-Queue-Pass": queue_pass} if queue_pass else {})
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


async def _dress_in_a_queued_drop(clock: Clock) -> None:
    data = catalog.CollectionData(
        DROP, "Queued", factories.iso(clock.now - timedelta(minutes=1)), queue_mode="lottery"
    )
    assert not (await catalog.upsert_collections(items=[data])).problems
    queued = await Collection.get(guid=DROP)
    await Product.filter(guid=DRESS).update(collection_id=queued.id)


async def test_a_look_with_a_queued_drops_item_needs_its_pass_and_takes_it(
    client: httpx.AsyncClient,
    clock: Clock,
    redis_url: str,
    ig_sim: InstagramSimulator,
    instagram: InstagramClient,
    media_store: FileStore,
    ig_config: InstashopConfig,
) -> None:
    ids = await shop(clock, ig_sim, instagram, media_store, ig_config)
    await link(ids["dress"], SCARF)
    await _dress_in_a_queued_drop(clock)
    async with Redis.from_url(redis_url) as redis:
        await redis.flushdb()  # no other test's queue
    cart = await carts.create_cart()
    items = [
        {"productId": SCARF, "variantId": variant("Scarf", "OS", "olive")},  # not queued
        {"productId": DRESS, "variantId": variant("Dress", "M", "black")},  # queued
    ]
    variables = {"cartToken": cart.token, "lookId": ids["dress"], "items": items}

    refused = (await _call(client, ADD, variables))["addLookToCart"]
    token = (await _call(client, JOIN, {"c": DROP}))["joinQueue"]["status"]["token"]
    clock.advance(seconds=2)  # the first tick is due
    admitted = (await _call(client, ASK, {"t": token}))["queueStatus"]["status"]
    added = (await _call(client, ADD, variables, admitted["queuePass"]))["addLookToCart"]

    assert refused["cart"] is None
    assert [(e["code"], e["path"]) for e in refused["errors"]] == [
        ("QUEUE_PASS_REQUIRED", ["items", "1", "variantId"])
    ]
    assert admitted["state"] == "ADMITTED"
    assert added["errors"] == []
    lines = await CartLine.filter(cart_id=cart.id).order_by("id").prefetch_related("variant")
    assert [(line.variant.guid, line.quantity) for line in lines] == [
        (variant("Scarf", "OS", "olive"), 1),
        (variant("Dress", "M", "black"), 1),
    ]


async def test_a_look_marks_its_pass_as_holding_only_once_its_transaction_committed(
    client: httpx.AsyncClient,
    clock: Clock,
    redis_url: str,
    ig_sim: InstagramSimulator,
    instagram: InstagramClient,
    media_store: FileStore,
    ig_config: InstashopConfig,
) -> None:
    # given an admitted shopper and a look whose queued dress is held at cart (AT_CART)
    ids = await shop(clock, ig_sim, instagram, media_store, ig_config)
    await link(ids["dress"], SCARF)
    await _dress_in_a_queued_drop(clock)
    await Collection.filter(guid=DROP).update(hold_mode=HoldMode.AT_CART)
    served = Keys((await Collection.get(guid=DROP)).id).served
    async with Redis.from_url(redis_url) as redis:
        await redis.flushdb()  # no other test's queue
        cart = await carts.create_cart()
        token = (await _call(client, JOIN, {"c": DROP}))["joinQueue"]["status"]["token"]
        clock.advance(seconds=2)  # the first tick is due
        queue_pass = (await _call(client, ASK, {"t": token}))["queueStatus"]["status"]["queuePass"]
        dress = {"productId": DRESS, "variantId": variant("Dress", "M", "black")}
        stranger = {"productId": DRESS, "variantId": variant("Scarf", "OS", "olive")}

        # when the look is refused at its second item (the dress's hold is rolled back), then
        # bought as it should be
        refused = {"cartToken": cart.token, "lookId": ids["dress"], "items": [dress, stranger]}
        failed = (await _call(client, ADD, refused, queue_pass))["addLookToCart"]
        after_refusal = await redis.hlen(served)
        bought = {"cartToken": cart.token, "lookId": ids["dress"], "items": [dress]}
        added = (await _call(client, ADD, bought, queue_pass))["addLookToCart"]
        after_purchase = await redis.hlen(served)

    # then the refused look left no served mark behind, and the bought one made exactly one
    assert [e["path"] for e in failed["errors"]] == [["items", "1", "variantId"]]
    assert (after_refusal, added["errors"], after_purchase) == (0, [], 1)
