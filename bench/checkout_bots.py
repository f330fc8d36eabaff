"""The bots phase of bench/checkout_storm.py: what one client address can take off sale.

Each bot talks to the real API from an address of its own (X-Forwarded-For, which uvicorn
trusts from 127.0.0.1) and, where it sends one, a device id (X-Device-Id):

    createCart burst     300 createCart calls at once, no device id
    unpaid, one device   4 anonymous orders of 3 units (limit 3) of an 11-unit variant, each with
                         its own e-mail, one device id
    unpaid, new devices  the same with a new device id for every cart
    unpaid, no device    the same without any device id
    holds, one device    4 carts without contact add 2 units (limit 2) of an 8-unit variant in an
                         AT_CART drop
    holds, new devices   the same with a new device id for every cart
    holds, no device     the same without any device id

Then a shopper of their own (another address and device) tries to buy one unit of each
variant. Every figure is what the database holds afterwards.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from app.models.catalog import Collection, HoldMode, Product, Variant, Warehouse, WarehouseKind
from app.services.inventory.stock_snapshots import RawStockSnapshot, apply_stock_snapshots

ORDER_UNITS, ORDER_LIMIT = 11, 3
HOLD_UNITS, HOLD_LIMIT = 8, 2
BOT_CARTS = 4
BURST = 300
KINDS = ("one device", "new devices", "no device")

CREATE = "mutation { createCart { cart { token } errors { code retryAfter } } }"
ADD = """mutation A($c: String!, $v: ID!, $q: Int!) {
  addToCart(cartToken: $c, variantId: $v, quantity: $q) {
    cart { token } errors { code available } } }"""
CONTACT = """mutation C($c: String!, $e: String!) {
  setCartContact(cartToken: $c, contact: {email: $e, firstName: "Bot"}) {
    cart { token } errors { code } } }"""
DELIVERY = """mutation D($c: String!) {
  setCartDelivery(cartToken: $c, delivery: {method: COURIER, address: "1 Bot Street"}) {
    cart { token } errors { code } } }"""
PLACE = """mutation P($c: String!, $k: String!) {
  placeOrder(cartToken: $c, idempotencyKey: $k) { order { number } errors { code } } }"""


@dataclass(frozen=True)
class BotCatalog:
    ordered: dict[str, tuple[int, str]]  # bot kind -> (variant id, guid): AT_ORDER drop
    held: dict[str, tuple[int, str]]  # bot kind -> (variant id, guid): AT_CART drop


async def seed_bots() -> BotCatalog:
    """Two drops released an hour ago, one variant per bot kind in each."""
    now = datetime.now(UTC)
    online = await Warehouse.get(kind=WarehouseKind.ONLINE)
    made: dict[str, dict[str, tuple[int, str]]] = {}
    snapshots = []
    for mode, limit, units in (
        (HoldMode.AT_ORDER, ORDER_LIMIT, ORDER_UNITS),
        (HoldMode.AT_CART, HOLD_LIMIT, HOLD_UNITS),
    ):
        drop = await Collection.create(
            guid=str(uuid.uuid4()),
            name=f"Bots {mode.value}",
            slug=f"bots-{mode.value}",
            release_at=now - timedelta(hours=1),
            hold_mode=mode,
            purchase_limit=limit,
        )
        made[mode.value] = {}
        for kind in KINDS:
            slug = f"bots-{mode.value}-{kind.replace(' ', '-')}"
            product = await Product.create(
                guid=str(uuid.uuid4()),
                name=slug,
                slug=slug,
                collection_id=drop.id,
                sort_date=drop.release_at,
                price_from=499_000,
            )
            variant = await Variant.create(
                guid=str(uuid.uuid4()),
                product_id=product.id,
                sku=slug,
                size="M",
                colour="black",
                price=499_000,
            )
            made[mode.value][kind] = (variant.id, variant.guid)
            as_of = (now - timedelta(minutes=1)).isoformat()
            snapshots.append(RawStockSnapshot(variant.guid, online.guid, units, as_of))
    intake = await apply_stock_snapshots(rows=snapshots, max_rows=len(snapshots))
    if intake.applied != len(snapshots) or intake.problems:
        raise RuntimeError(f"bot stock seeding failed: {intake}")
    return BotCatalog(ordered=made[HoldMode.AT_ORDER.value], held=made[HoldMode.AT_CART.value])


@dataclass
class Bot:
    """One client address; `device` None sends no device id, "new" a new one per cart."""

    client: httpx.AsyncClient
    address: str
    device: str | None
    outcomes: Counter[str] = field(default_factory=Counter)
    refusal: dict[str, Any] = field(default_factory=dict)

    def headers(self, device: str | None) -> dict[str, str]:
        sent = {"X-Forwarded-For": self.address}
        if device is not None:
            sent["X-Device-Id"] = device
        return sent

    async def call(self, name: str, query: str, device: str | None, **variables: Any) -> Any:
        """The payload, or None when refused (then `refusal` holds its first error); every
        outcome is tallied."""
        response = await self.client.post(
            "/graphql", json={"query": query, "variables": variables}, headers=self.headers(device)
        )
        body = response.json() if response.status_code == 200 else {}
        if "data" not in body or body.get("errors"):
            self.outcomes[f"{name} HTTP {response.status_code} {body.get('errors')}"] += 1
            return None
        payload = body["data"][name]
        self.refusal = payload["errors"][0] if payload["errors"] else {}
        self.outcomes[f"{name} {self.refusal.get('code', 'ok')}"] += 1
        return None if payload["errors"] else payload

    def device_for_cart(self) -> str | None:
        return str(uuid.uuid4()) if self.device == "new" else self.device


async def _cart(bot: Bot, device: str | None, guid: str, quantity: int) -> str | None:
    cart = await bot.call("createCart", CREATE, device)
    if cart is None:
        return None
    token: str = cart["cart"]["token"]
    added = await bot.call("addToCart", ADD, device, c=token, v=guid, q=quantity)
    if added is None and bot.refusal.get("available"):  # take what is left, as a bot would
        left = bot.refusal["available"]
        added = await bot.call("addToCart", ADD, device, c=token, v=guid, q=left)
    return token if added else None


async def unpaid_orders(bot: Bot, guid: str, label: str) -> None:
    """BOT_CARTS anonymous orders of ORDER_LIMIT units, each with an e-mail of its own."""
    for n in range(BOT_CARTS):
        device = bot.device_for_cart()
        token = await _cart(bot, device, guid, ORDER_LIMIT)
        if token is None:
            continue
        email = f"bot-{label}-{n}-{uuid.uuid4().hex[:6]}@bots.example.com"
        await bot.call("setCartContact", CONTACT, device, c=token, e=email)
        await bot.call("setCartDelivery", DELIVERY, device, c=token)
        await bot.call("placeOrder", PLACE, device, c=token, k=f"bot-{uuid.uuid4().hex}")


async def contactless_holds(bot: Bot, guid: str) -> None:
    """BOT_CARTS carts without any contact, each adding HOLD_LIMIT units."""
    for _ in range(BOT_CARTS):
        await _cart(bot, bot.device_for_cart(), guid, HOLD_LIMIT)


async def cart_burst(bot: Bot) -> float:
    """BURST createCart calls at once; the seconds they took."""
    started = time.perf_counter()
    await asyncio.gather(*(bot.call("createCart", CREATE, None) for _ in range(BURST)))
    return time.perf_counter() - started


async def taken(db: Any, variant_id: int) -> int:
    """Units of the variant off sale now: its buffer (live orders and holds)."""
    buffer: int = await db.fetchval(
        "SELECT coalesce(sum(buffer), 0) FROM stock_level WHERE variant_id = $1", variant_id
    )
    return buffer


async def shopper_buys(client: httpx.AsyncClient, guid: str) -> str:
    """A shopper of their own adds one unit; what the API answered."""
    shopper = Bot(client, "198.51.100.23", str(uuid.uuid4()))
    cart = await shopper.call("createCart", CREATE, shopper.device)
    if cart is None:
        return "createCart refused"
    token = cart["cart"]["token"]
    await shopper.call("addToCart", ADD, shopper.device, c=token, v=guid, q=1)
    return ", ".join(k.removeprefix("addToCart ") for k in shopper.outcomes if "addToCart" in k)


async def run_bots(client: httpx.AsyncClient, db: Any, catalog: BotCatalog) -> None:
    """Every bot in turn, each from its own address; print what they took."""
    print("\n[bots] each bot from one address of its own")
    burst = Bot(client, "203.0.113.1", None)
    seconds = await cart_burst(burst)
    print(f"    createCart burst: {BURST} calls in {seconds:.2f} s: {dict(burst.outcomes)}")
    devices = {"one device": str(uuid.uuid4()), "new devices": "new", "no device": None}
    rows = []
    for n, kind in enumerate(KINDS):
        bot = Bot(client, f"203.0.113.{10 + n}", devices[kind])
        variant_id, guid = catalog.ordered[kind]
        await unpaid_orders(bot, guid, kind.replace(" ", "-"))
        rows.append(("unpaid orders", kind, ORDER_UNITS, await taken(db, variant_id), bot, guid))
    for n, kind in enumerate(KINDS):
        bot = Bot(client, f"203.0.113.{20 + n}", devices[kind])
        variant_id, guid = catalog.held[kind]
        await contactless_holds(bot, guid)
        rows.append(("contactless holds", kind, HOLD_UNITS, await taken(db, variant_id), bot, guid))
    print(f"    {'bot':18} {'device id':12} {'units':>5} {'taken':>5}  shopper after  calls")
    for what, kind, units, off_sale, bot, guid in rows:
        after = await shopper_buys(client, guid)
        calls = ", ".join(f"{k} {v}" for k, v in sorted(bot.outcomes.items()))
        print(f"    {what:18} {kind:12} {units:5} {off_sale:5}  {after:13}  {calls}")
