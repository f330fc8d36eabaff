"""Drop day: hundreds of shoppers at once never oversell, and never deadlock."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime

import httpx

from app.models.orders import Order
from app.services.inventory.reservations import buffer_matches_reservations
from tests import factories
from tests.conftest import graphql

PLACE = """mutation P($cart: String!, $key: String!) {
  placeOrder(cartToken: $cart, idempotencyKey: $key) { order { number } errors { code } } }"""
NOW = datetime.now(UTC)
HOT = factories.guid("variant/Hot/M/black")
OTHER = factories.guid("variant/Other/M/black")


async def _given_hot_stock(hot: int, other: int = 0) -> None:
    await factories.warehouses()
    await factories.product("Hot", variants=[factories.variant("Hot", "M", "black")])
    await factories.product("Other", variants=[factories.variant("Other", "M", "black")])
    await factories.stock(HOT, factories.ONLINE, hot)
    await factories.stock(OTHER, factories.ONLINE, other)


async def _storm(client: httpx.AsyncClient, carts: list[str]) -> Counter[str]:
    async def buy(cart: str) -> str:
        body = await graphql(client, PLACE, {"cart": cart, "key": f"storm-{cart}"})
        assert "errors" not in body, body
        payload = body["data"]["placeOrder"]
        return "ok" if payload["order"] else payload["errors"][0]["code"]

    return Counter(await asyncio.gather(*(buy(c) for c in carts)))


async def test_200_buyers_10_units_exactly_10_orders(client: httpx.AsyncClient) -> None:
    await _given_hot_stock(hot=10)
    carts = [
        await factories.cart_with([(HOT, 1)], now=NOW, email=f"b{i}@example.com")
        for i in range(200)
    ]
    outcome = await _storm(client, carts)
    assert outcome == Counter({"ok": 10, "INSUFFICIENT_STOCK": 190})
    assert (await factories.positions(HOT))[factories.ONLINE] == (10, 10)
    assert await Order.all().count() == 10
    assert await buffer_matches_reservations() == []


async def test_shared_hot_variants_in_opposite_orders_stay_all_or_nothing(
    client: httpx.AsyncClient,
) -> None:
    await _given_hot_stock(hot=30, other=20)
    carts = []
    for i in range(60):
        lines = [(HOT, 1), (OTHER, 1)] if i % 2 else [(OTHER, 1), (HOT, 1)]
        carts.append(await factories.cart_with(lines, now=NOW, email=f"b{i}@example.com"))
    outcome = await _storm(client, carts)
    assert outcome == Counter({"ok": 20, "INSUFFICIENT_STOCK": 40})
    # every order took both or neither: the hot variant's 10 spare units are still free
    assert (await factories.positions(HOT))[factories.ONLINE] == (30, 20)
    assert (await factories.positions(OTHER))[factories.ONLINE] == (20, 20)
    assert await buffer_matches_reservations() == []


async def test_split_lines_across_warehouses_under_contention(client: httpx.AsyncClient) -> None:
    await _given_hot_stock(hot=3)
    await factories.stock(HOT, factories.SHOP_A, 4)
    await factories.stock(HOT, factories.SHOP_B, 5)
    carts = [
        await factories.cart_with([(HOT, 2)], now=NOW, email=f"b{i}@example.com") for i in range(40)
    ]
    outcome = await _storm(client, carts)
    positions = await factories.positions(HOT)
    assert outcome["ok"] == 6  # 12 units, 2 each
    assert all(buffer <= on_hand for on_hand, buffer in positions.values())
    assert sum(buffer for _, buffer in positions.values()) == 12
    assert await buffer_matches_reservations() == []
