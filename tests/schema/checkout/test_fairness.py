"""Fair under bots, through the real ASGI app: throttles per client address and per device id
(X-Device-Id), and one unpaid order per device in a drop."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from app.domain.checkout import device_key
from app.main import create_app
from app.models.checkout import Cart, CartLine
from app.models.orders import Order
from app.settings import Settings
from tests import factories
from tests.conftest import Clock, graphql

DRESS = factories.guid("variant/Dress/M/black")
PHONE = "1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b"
LAPTOP = "6fa459ea-ee8a-3ca4-894e-db77e160355e"
HOME = "203.0.113.7"

ERRORS = "errors { code path message retryAfter }"
CREATE = f"mutation {{ createCart {{ cart {{ token }} {ERRORS} }} }}"
ADD = f"""mutation A($cart: String!, $quantity: Int!) {{
  addToCart(cartToken: $cart, variantId: "{DRESS}", quantity: $quantity) {{
    cart {{ lines {{ quantity }} }} {ERRORS} }} }}"""
SET_LINE = f"""mutation S($cart: String!, $quantity: Int!) {{
  setCartLine(cartToken: $cart, variantId: "{DRESS}", quantity: $quantity) {{
    cart {{ lines {{ quantity }} }} {ERRORS} }} }}"""
CONTACT = f"""mutation C($cart: String!, $email: String!) {{
  setCartContact(cartToken: $cart, contact: {{email: $email}}) {{ cart {{ token }} {ERRORS} }} }}"""
DELIVERY = f"""mutation D($cart: String!) {{
  setCartDelivery(cartToken: $cart, delivery: {{method: COURIER, address: "Москва"}}) {{
    cart {{ token }} {ERRORS} }} }}"""
PLACE = f"""mutation P($cart: String!, $key: String!) {{
  placeOrder(cartToken: $cart, idempotencyKey: $key) {{ order {{ number }} {ERRORS} }} }}"""

Shopper = Callable[..., Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def shoppers(
    db: str, settings: Settings, redis_url: str, clock: Clock
) -> AsyncIterator[Shopper]:
    """`shopper(address, device_id=None, **settings)`: a client of the real app from an address
    of its own, sending X-Device-Id if given, the checkout throttles on (as in prod)."""
    redis = Redis.from_url(redis_url)
    await redis.flushdb()  # an earlier test's buckets must not count here
    await redis.aclose()
    async with AsyncExitStack() as stack:
        apps: dict[tuple[tuple[str, Any], ...], Any] = {}

        async def app_for(figures: dict[str, Any]) -> Any:
            key = tuple(sorted(figures.items()))
            if key not in apps:
                wired = settings.model_copy(update={"checkout_throttles": True, **figures})
                app = create_app(wired, redis_url=redis_url, manage_db=False, clock=clock)
                await stack.enter_async_context(app.router.lifespan_context(app))
                apps[key] = app
            return apps[key]

        async def shopper(
            address: str, device_id: str | None = None, **figures: Any
        ) -> httpx.AsyncClient:
            transport = httpx.ASGITransport(app=await app_for(figures), client=(address, 50000))
            headers = {"X-Device-Id": device_id} if device_id else {}
            client = httpx.AsyncClient(transport=transport, base_url="http://t", headers=headers)
            return await stack.enter_async_context(client)

        yield shopper


async def _call(client: httpx.AsyncClient, document: str, name: str, **variables: Any) -> Any:
    body = await graphql(client, document, variables)
    assert "errors" not in body, body
    return body["data"][name]


async def _cart(client: httpx.AsyncClient) -> str:
    created = await _call(client, CREATE, "createCart")
    assert created["errors"] == [], created
    token: str = created["cart"]["token"]
    return token


def _throttled(payload: dict[str, Any], retry_after: int) -> None:
    assert payload == {
        **{k: None for k in payload if k != "errors"},
        "errors": [
            {
                "code": "TOO_MANY_ATTEMPTS",
                "path": [],
                "message": "too many requests from this device or network; "
                f"try again in {retry_after} s",
                "retryAfter": retry_after,
            }
        ],
    }


async def _given_drop(clock: Clock, *, hours_ago: int = 1) -> None:
    await factories.warehouses()
    drop = await factories.collection("Drop", clock.now - timedelta(hours=hours_ago))
    await factories.product("Dress", collection_guid=drop)
    await factories.stock(DRESS, factories.ONLINE, 10)


# --- throttles -------------------------------------------------------------------------------


async def test_a_burst_of_carts_from_one_address_is_throttled_and_creates_nothing(
    shoppers: Shopper, clock: Clock
) -> None:
    figures = {"throttle_create_cart_per_address": 3}
    bot = await shoppers(HOME, **figures)
    made = [await _call(bot, CREATE, "createCart") for _ in range(4)]
    assert [m["errors"] for m in made[:3]] == [[], [], []]
    _throttled(made[3], 20)
    assert await Cart.all().count() == 3
    # another address is not held back; the bot's address is again a minute later
    assert (await _call(await shoppers("198.51.100.1", **figures), CREATE, "createCart"))["cart"]
    clock.advance(seconds=20)
    assert (await _call(bot, CREATE, "createCart"))["errors"] == []


async def test_adding_and_setting_lines_share_a_devices_budget(
    shoppers: Shopper, clock: Clock
) -> None:
    await _given_drop(clock)
    figures = {"throttle_change_cart_per_device": 2}
    phone = await shoppers(HOME, PHONE, **figures)
    cart = await _cart(phone)
    assert (await _call(phone, ADD, "addToCart", cart=cart, quantity=1))["errors"] == []
    assert (await _call(phone, SET_LINE, "setCartLine", cart=cart, quantity=3))["errors"] == []
    _throttled(await _call(phone, ADD, "addToCart", cart=cart, quantity=1), 30)
    assert [line.quantity for line in await CartLine.all()] == [
        3
    ]  # the refused add changed nothing
    # the laptop at the same address has a budget of its own
    laptop = await shoppers(HOME, LAPTOP, **figures)
    assert (await _call(laptop, ADD, "addToCart", cart=cart, quantity=1))["errors"] == []
    assert [line.quantity for line in await CartLine.all()] == [4]


async def test_place_order_is_throttled_per_device_whatever_the_cart(
    shoppers: Shopper, clock: Clock
) -> None:
    figures = {"throttle_place_order_per_device": 2}
    phone = await shoppers(HOME, PHONE, **figures)
    carts = [await _cart(phone) for _ in range(3)]
    tried = [await _call(phone, PLACE, "placeOrder", cart=c, key=f"key-of-{c}") for c in carts]
    assert [e["code"] for e in tried[0]["errors"] + tried[1]["errors"]] == ["EMPTY_CART"] * 2
    _throttled(tried[2], 30)


async def test_a_shopper_buying_as_people_do_never_meets_the_default_throttles(
    shoppers: Shopper, clock: Clock, settings: Settings
) -> None:
    await _given_drop(clock)
    shopper = await shoppers(HOME, PHONE)  # the default figures
    for _ in range(settings.throttle_create_cart_per_device):  # a new tab each time
        cart = await _cart(shopper)
    for quantity in (1, 2, 1, 3, 2):  # changes of mind
        assert (await _call(shopper, SET_LINE, "setCartLine", cart=cart, quantity=quantity))[
            "errors"
        ] == []
    await _call(shopper, CONTACT, "setCartContact", cart=cart, email="anna@example.com")
    await _call(shopper, DELIVERY, "setCartDelivery", cart=cart)
    placed = await _call(shopper, PLACE, "placeOrder", cart=cart, key="checkout-0001")
    assert (placed["errors"], placed["order"]["number"]) == ([], "V-000001")


# --- the device ------------------------------------------------------------------------------


async def test_the_device_is_its_id_or_else_its_address_and_only_a_digest_is_kept(
    shoppers: Shopper, clock: Clock
) -> None:
    with_id = await _cart(await shoppers(HOME, PHONE))
    without = await _cart(await shoppers(HOME))
    invalid = await _cart(await shoppers(HOME, "not-a-uuid"))
    devices = [(await Cart.get(token=t)).device for t in (with_id, without, invalid)]
    assert devices == [
        device_key(PHONE, HOME),
        device_key(None, HOME),
        device_key(None, HOME),  # an invalid id is no id: the address counts
    ]
    assert PHONE not in str(devices) and HOME not in str(devices)


async def test_one_unpaid_order_per_device_in_a_drop_whatever_the_e_mail(
    shoppers: Shopper, clock: Clock
) -> None:
    await _given_drop(clock)
    phone = await shoppers(HOME, PHONE)
    placed = []
    for n, client in enumerate([phone, phone, await shoppers(HOME), await shoppers(HOME)]):
        cart = await _cart(client)
        await _call(client, ADD, "addToCart", cart=cart, quantity=1)
        await _call(client, CONTACT, "setCartContact", cart=cart, email=f"bot-{n}@example.com")
        await _call(client, DELIVERY, "setCartDelivery", cart=cart)
        placed.append(await _call(client, PLACE, "placeOrder", cart=cart, key=f"checkout-{n}-x"))
    # the phone once; the clients without a device id share their address: once too
    assert [p["errors"][0]["code"] if p["errors"] else "ok" for p in placed] == [
        "ok",
        "UNPAID_ORDER_EXISTS",
        "ok",
        "UNPAID_ORDER_EXISTS",
    ]
    assert placed[1]["errors"][0]["path"] == ["lines", "0"]
    assert await Order.all().count() == 2
    assert (await factories.positions(DRESS))[factories.ONLINE] == (10, 2)
