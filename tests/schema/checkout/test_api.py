"""The shopper's checkout through the real ASGI app: cart, holds, order, payment, typed errors."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import httpx

from app.integrations.payments.dummy import DECLINED, STAYS_PENDING, SUCCEEDS
from app.models.catalog import Collection, HoldMode
from app.models.checkout import Cart, CartLine
from app.models.orders import Order, OrderLine, Payment
from app.models.stock import Reservation
from app.services.inventory.reservations import buffer_matches_reservations
from tests import factories
from tests.conftest import Clock, graphql
from tests.contract.documents import document

DRESS = factories.guid("variant/Dress/M/black")
SHIRT = factories.guid("variant/Shirt/M/white")
VELVET = factories.guid("variant/Velvet/M/black")

CART = """
  token
  lines { variant { id } quantity lineTotal { amount } available }
  email phone
  delivery { method address shop { id name address } }
  total { amount }
  holdExpiresAt
"""
ERRORS = "errors { code path message available }"
CREATE = f"mutation {{ createCart {{ cart {{ {CART} }} {ERRORS} }} }}"
ADD = f"""
mutation A($cart: String!, $variant: ID!, $quantity: Int!) {{
  addToCart(cartToken: $cart, variantId: $variant, quantity: $quantity) {{
    cart {{ {CART} }} {ERRORS}
  }}
}}"""
SET_LINE = f"""
mutation S($cart: String!, $variant: ID!, $quantity: Int!) {{
  setCartLine(cartToken: $cart, variantId: $variant, quantity: $quantity) {{
    cart {{ {CART} }} {ERRORS}
  }}
}}"""
VIEW = f"query V($token: String!) {{ cart(token: $token) {{ {CART} }} }}"
CONTACT = f"""
mutation C($cart: String!, $contact: ContactInput!) {{
  setCartContact(cartToken: $cart, contact: $contact) {{ cart {{ {CART} }} {ERRORS} }}
}}"""
DELIVERY = f"""
mutation D($cart: String!, $delivery: DeliveryInput!) {{
  setCartDelivery(cartToken: $cart, delivery: $delivery) {{ cart {{ {CART} }} {ERRORS} }}
}}"""
ORDER = """
  number token status total { amount } email phone paymentDeadline
  delivery { method address shop { id } }
  lines {
    variant { id } productName sku quantity unitPrice { amount }
    allocations { warehouse { id } quantity shopConfirmation }
  }
  history { fromStatus toStatus at reason }
"""
PLACE = f"""
mutation P($cart: String!, $key: String!) {{
  placeOrder(cartToken: $cart, idempotencyKey: $key) {{ order {{ {ORDER} }} {ERRORS} }}
}}"""
STATUS_PAGE = f"query O($token: String!) {{ order(token: $token) {{ {ORDER} }} }}"
PAY = f"""
mutation Pay($order: String!, $card: String, $key: String!) {{
  payOrder(orderToken: $order, cardNumber: $card, idempotencyKey: $key) {{
    order {{ status }} payment {{ provider status amount {{ amount }} confirmationUrl }} {ERRORS}
  }}
}}"""
CANCEL = f"""
mutation X($order: String!) {{
  cancelOrder(orderToken: $order) {{ order {{ status history {{ toStatus reason }} }} {ERRORS} }}
}}"""
STOREFRONT = 'query { product(slug: "dress") { variants { available } } }'


# --- given -------------------------------------------------------------------------------


async def _shop(clock: Clock) -> str:
    """A dress in an old drop (online 2, shop A 1, shop B 0) and a shirt (online 5)."""
    await factories.warehouses()
    autumn = await factories.collection("Autumn", clock.now - timedelta(days=30))
    await factories.product(
        "Dress",
        collection_guid=autumn,
        variants=[factories.variant("Dress", "M", "black", "4990.00")],
    )
    await factories.product("Shirt", variants=[factories.variant("Shirt", "M", "white", "2990.00")])
    for warehouse, quantity in (
        (factories.ONLINE, 2),
        (factories.SHOP_A, 1),
        (factories.SHOP_B, 0),
    ):
        await factories.stock(DRESS, warehouse, quantity)
    await factories.stock(SHIRT, factories.ONLINE, 5)
    return autumn


async def _holding_drop(clock: Clock) -> None:
    """The shop above, with the dress's drop holding stock for 10 minutes from addToCart."""
    autumn = await _shop(clock)
    await Collection.filter(guid=autumn).update(hold_mode=HoldMode.AT_CART, hold_minutes=10)


# --- when --------------------------------------------------------------------------------


async def _ok(client: httpx.AsyncClient, document: str, name: str, **variables: Any) -> Any:
    """Run an operation that should succeed; return its payload's main object."""
    body = await graphql(client, document, variables)
    assert "errors" not in body, body
    payload = body["data"][name]
    assert payload["errors"] == [], payload["errors"]
    return payload["cart" if "cart" in payload else "order"]


async def _refused(
    client: httpx.AsyncClient, document: str, name: str, **variables: Any
) -> list[dict[str, Any]]:
    """Run an operation that should be refused with typed errors; return them."""
    body = await graphql(client, document, variables)
    assert "errors" not in body, body
    payload = body["data"][name]
    assert payload.get("cart") is None and payload.get("order") is None, payload
    errors: list[dict[str, Any]] = payload["errors"]
    return errors


def _error(
    code: str, path: list[str], message: str, available: int | None = None
) -> list[dict[str, Any]]:
    return [{"code": code, "path": path, "message": message, "available": available}]


async def _new_cart(client: httpx.AsyncClient) -> str:
    token: str = (await _ok(client, CREATE, "createCart"))["token"]
    return token


async def _add(client: httpx.AsyncClient, cart: str, variant: str, quantity: int = 1) -> Any:
    return await _ok(client, ADD, "addToCart", cart=cart, variant=variant, quantity=quantity)


async def _view(client: httpx.AsyncClient, cart: str) -> Any:
    return (await graphql(client, VIEW, {"token": cart}))["data"]["cart"]


async def _ready_cart(
    client: httpx.AsyncClient,
    lines: list[tuple[str, int]],
    *,
    pickup: str | None = None,
    email: str = "anna@example.com",
) -> str:
    cart = await _new_cart(client)
    for variant, quantity in lines:
        await _add(client, cart, variant, quantity)
    await _ok(client, CONTACT, "setCartContact", cart=cart, contact={"email": email})
    delivery = (
        {"method": "PICKUP", "shopId": pickup}
        if pickup
        else {"method": "COURIER", "address": "Москва, Тверская, 7"}
    )
    await _ok(client, DELIVERY, "setCartDelivery", cart=cart, delivery=delivery)
    return cart


async def _place(client: httpx.AsyncClient, cart: str, key: str = "checkout-0001") -> Any:
    return await _ok(client, PLACE, "placeOrder", cart=cart, key=key)


async def _pay(client: httpx.AsyncClient, order: str, card: str, key: str | None = None) -> Any:
    variables = {"order": order, "card": card, "key": key or f"pay-{uuid.uuid4()}"}
    body = await graphql(client, PAY, variables)
    assert "errors" not in body, body
    return body["data"]["payOrder"]


async def _storefront_available(client: httpx.AsyncClient) -> int:
    body = await graphql(client, STOREFRONT)
    available: int = body["data"]["product"]["variants"][0]["available"]
    return available


def _at(clock: Clock, **delta: float) -> str:
    return (clock.now + timedelta(**delta)).isoformat()


def _allocation(warehouse: str, quantity: int, confirmation: str) -> dict[str, Any]:
    return {"warehouse": {"id": warehouse}, "quantity": quantity, "shopConfirmation": confirmation}


UNTOUCHED_DRESS = {factories.ONLINE: (2, 0), factories.SHOP_A: (1, 0), factories.SHOP_B: (0, 0)}


# --- cart --------------------------------------------------------------------------------


async def test_a_new_cart_is_empty(client: httpx.AsyncClient, clock: Clock) -> None:
    cart = await _ok(client, CREATE, "createCart")
    assert len(cart["token"]) >= 32
    assert cart == {
        "token": cart["token"],
        "lines": [],
        "email": None,
        "phone": None,
        "delivery": None,
        "total": {"amount": "0.00"},
        "holdExpiresAt": None,
    }
    assert await Cart.all().count() == 1


async def test_lines_are_added_set_and_removed_with_live_availability(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    await _shop(clock)
    cart = await _new_cart(client)
    await _add(client, cart, DRESS)
    added = await _add(client, cart, DRESS)  # adding again adds to the line
    assert added["lines"] == [
        {
            "variant": {"id": DRESS},
            "quantity": 2,
            "lineTotal": {"amount": "9980.00"},
            "available": 3,
        }
    ]
    await _add(client, cart, SHIRT, 2)
    shirts = await _ok(client, SET_LINE, "setCartLine", cart=cart, variant=SHIRT, quantity=4)
    assert [(line["variant"]["id"], line["quantity"]) for line in shirts["lines"]] == [
        (DRESS, 2),
        (SHIRT, 4),
    ]
    assert shirts["total"] == {"amount": "21940.00"}
    removed = await _ok(client, SET_LINE, "setCartLine", cart=cart, variant=SHIRT, quantity=0)
    assert [line["variant"]["id"] for line in removed["lines"]] == [DRESS]
    # 1C sells one dress in the online warehouse: the cart sees it on its next read
    await factories.stock(DRESS, factories.ONLINE, 1, as_of=factories.later(5))
    view = await _view(client, cart)
    assert view["lines"] == [
        {
            "variant": {"id": DRESS},
            "quantity": 2,
            "lineTotal": {"amount": "9980.00"},
            "available": 2,
        }
    ]
    assert (view["total"], view["holdExpiresAt"]) == ({"amount": "9980.00"}, None)
    # a cart in a drop without holds takes nothing off the shelf
    assert await Reservation.all().count() == 0
    assert await factories.positions(DRESS) == {
        factories.ONLINE: (1, 0),
        factories.SHOP_A: (1, 0),
        factories.SHOP_B: (0, 0),
    }


async def test_contact_is_normalised_and_bad_contact_is_refused(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    cart = await _new_cart(client)
    contact = {"email": " Anna@Example.COM ", "phone": "8 (916) 123-45-67", "firstName": "Анна"}
    saved = await _ok(client, CONTACT, "setCartContact", cart=cart, contact=contact)
    assert (saved["email"], saved["phone"]) == ("anna@example.com", "+79161234567")
    cases: list[tuple[dict[str, str], list[dict[str, Any]]]] = [
        ({}, _error("CONTACT_REQUIRED", ["email"], "an e-mail or a phone is needed")),
        ({"phone": "12-34"}, _error("INVALID", ["phone"], "not a phone number: '12-34'")),
        ({"email": "anna@"}, _error("INVALID", ["email"], "not an e-mail address: 'anna@'")),
    ]
    for bad, expected in cases:
        errors = await _refused(client, CONTACT, "setCartContact", cart=cart, contact=bad)
        assert errors == expected
    view = await _view(client, cart)
    assert (view["email"], view["phone"]) == ("anna@example.com", "+79161234567")


async def test_courier_or_pickup_and_pickup_counts_the_chosen_shop_only(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    await _shop(clock)
    cart = await _new_cart(client)
    await _add(client, cart, DRESS)
    courier = {"method": "COURIER", "address": "  Москва, Тверская, 7 "}
    by_courier = await _ok(client, DELIVERY, "setCartDelivery", cart=cart, delivery=courier)
    assert by_courier["delivery"] == {
        "method": "COURIER",
        "address": "Москва, Тверская, 7",
        "shop": None,
    }
    assert by_courier["lines"][0]["available"] == 3
    shop_a = {"method": "PICKUP", "shopId": factories.SHOP_A, "address": "ignored"}
    at_shop_a = await _ok(client, DELIVERY, "setCartDelivery", cart=cart, delivery=shop_a)
    assert at_shop_a["delivery"] == {
        "method": "PICKUP",
        "address": "",
        "shop": {"id": factories.SHOP_A, "name": "Shop A", "address": "Тверская, 1"},
    }
    assert at_shop_a["lines"][0]["available"] == 1
    shop_b = {"method": "PICKUP", "shopId": factories.SHOP_B}
    at_shop_b = await _ok(client, DELIVERY, "setCartDelivery", cart=cart, delivery=shop_b)
    assert at_shop_b["lines"][0]["available"] == 0


async def test_a_bad_delivery_is_refused_and_the_old_one_kept(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    await _shop(clock)
    cart = await _new_cart(client)
    shop_a = {"method": "PICKUP", "shopId": factories.SHOP_A}
    await _ok(client, DELIVERY, "setCartDelivery", cart=cart, delivery=shop_a)
    no_such_shop = _error("NOT_FOUND", ["shopId"], "no such shop")
    cases: list[tuple[dict[str, str], list[dict[str, Any]]]] = [
        (
            {"method": "COURIER", "address": "  "},
            _error("DELIVERY_REQUIRED", ["address"], "a courier needs an address"),
        ),
        ({"method": "PICKUP"}, no_such_shop),
        ({"method": "PICKUP", "shopId": factories.guid("warehouse/nowhere")}, no_such_shop),
        ({"method": "PICKUP", "shopId": factories.ONLINE}, no_such_shop),  # a warehouse, not a shop
    ]
    for bad, expected in cases:
        errors = await _refused(client, DELIVERY, "setCartDelivery", cart=cart, delivery=bad)
        assert errors == expected
    assert (await _view(client, cart))["delivery"]["shop"]["id"] == factories.SHOP_A


async def test_cart_mistakes_are_typed_errors_and_change_nothing(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    await _shop(clock)
    cart = await _new_cart(client)
    await _add(client, cart, DRESS, 2)
    before = await _view(client, cart)
    # two in the cart, three on sale: the answer says how many units the line may hold
    short = _error("INSUFFICIENT_STOCK", ["variantId"], "only 3 available", 3)
    too_few = _error("INVALID_QUANTITY", ["quantity"], "add at least 1")
    too_many = _error("INVALID_QUANTITY", ["quantity"], "quantity must be 0..50")
    no_variant = _error("NOT_FOUND", ["variantId"], "no such variant")
    no_cart = _error("CART_NOT_FOUND", ["cartToken"], "no such cart")
    cases: list[tuple[str, dict[str, Any], list[dict[str, Any]]]] = [
        ("addToCart", {"quantity": 2}, short),
        ("setCartLine", {"quantity": 4}, short),
        ("addToCart", {"quantity": 0}, too_few),
        ("addToCart", {"quantity": -3}, too_few),
        ("addToCart", {"quantity": 49}, too_many),  # 2 + 49 > 50
        ("addToCart", {"quantity": 2_000_000_000}, too_many),
        ("setCartLine", {"quantity": -1}, too_many),
        ("setCartLine", {"quantity": 51}, too_many),
        ("addToCart", {"variant": factories.guid("variant/never")}, no_variant),
        ("addToCart", {"variant": "not-a-guid"}, no_variant),
        ("setCartLine", {"variant": factories.guid("variant/never")}, no_variant),
        ("addToCart", {"cart": "nobodys-cart"}, no_cart),
        ("setCartLine", {"cart": "nobodys-cart"}, no_cart),
    ]
    for name, change, expected in cases:
        document = ADD if name == "addToCart" else SET_LINE
        variables = {"cart": cart, "variant": DRESS, "quantity": 1, **change}
        assert await _refused(client, document, name, **variables) == expected, (name, change)
    assert await _view(client, cart) == before
    assert await CartLine.all().count() == 1 and await Cart.all().count() == 1
    assert await Reservation.all().count() == 0
    assert await factories.positions(DRESS) == UNTOUCHED_DRESS


async def test_adding_by_another_spelling_of_the_id_adds_to_the_same_line(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    await _shop(clock)
    cart = await _new_cart(client)
    await _add(client, cart, SHIRT)
    again = await _add(client, cart, uuid.UUID(SHIRT).hex)  # accepted: it parses as the GUID
    assert [line["quantity"] for line in again["lines"]] == [2]


async def test_a_quantity_beyond_graphql_int_is_refused_by_graphql(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    await _shop(clock)
    cart = await _new_cart(client)
    body = await graphql(client, ADD, {"cart": cart, "variant": DRESS, "quantity": 2**31})
    assert body["data"] is None
    assert "non 32-bit signed integer" in body["errors"][0]["message"]
    assert await CartLine.all().count() == 0


async def test_an_unknown_cart_or_order_token_reads_as_nothing(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    assert await _view(client, "nobodys-cart") is None
    body = await graphql(client, STATUS_PAGE, {"token": "nobodys-order"})
    assert body == {"data": {"order": None}}


async def test_a_drop_is_refused_before_its_release_and_sold_from_that_instant(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    await factories.warehouses()
    release = clock.now + timedelta(hours=1)
    drop = await factories.collection("December", release)
    await factories.product("Velvet", collection_guid=drop)
    await factories.stock(VELVET, factories.ONLINE, 5)
    cart = await _new_cart(client)
    errors = await _refused(client, ADD, "addToCart", cart=cart, variant=VELVET, quantity=1)
    assert errors == _error("NOT_RELEASED", ["variantId"], f"on sale from {release.isoformat()}")
    clock.advance(minutes=59, seconds=59)
    assert (await _refused(client, ADD, "addToCart", cart=cart, variant=VELVET, quantity=1))[0][
        "code"
    ] == "NOT_RELEASED"
    assert await CartLine.all().count() == 0
    clock.advance(seconds=1)
    added = await _add(client, cart, VELVET)
    assert [(line["variant"]["id"], line["quantity"]) for line in added["lines"]] == [(VELVET, 1)]


# --- holds in a drop ---------------------------------------------------------------------


async def test_a_cart_hold_takes_units_off_sale_for_everyone_until_it_expires(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    await _holding_drop(clock)
    assert await _storefront_available(client) == 3
    anna = await _new_cart(client)
    held = await _add(client, anna, DRESS, 2)
    assert held["holdExpiresAt"] == _at(clock, minutes=10)
    assert await _storefront_available(client) == 1
    assert await factories.positions(DRESS) == {
        factories.ONLINE: (2, 2),
        factories.SHOP_A: (1, 0),
        factories.SHOP_B: (0, 0),
    }
    boris = await _new_cart(client)
    errors = await _refused(client, ADD, "addToCart", cart=boris, variant=DRESS, quantity=2)
    assert errors == _error("INSUFFICIENT_STOCK", ["variantId"], "only 1 available", 1)
    assert await CartLine.filter(cart__token=boris).count() == 0
    clock.advance(minutes=9, seconds=59)
    assert await _storefront_available(client) == 1
    clock.advance(seconds=1)
    # the hold ran out: back on sale at once, though no job has released it yet
    assert await _storefront_available(client) == 3
    assert (await _view(client, anna))["holdExpiresAt"] is None
    assert (await factories.positions(DRESS))[factories.ONLINE] == (2, 2)
    # someone else may now take them; Anna's line is still there but holds nothing
    taken = await _add(client, boris, DRESS, 2)
    assert taken["holdExpiresAt"] == _at(clock, minutes=10)
    assert await factories.positions(DRESS) == {
        factories.ONLINE: (2, 2),
        factories.SHOP_A: (1, 0),
        factories.SHOP_B: (0, 0),
    }
    assert await _storefront_available(client) == 1
    again = await _refused(client, SET_LINE, "setCartLine", cart=anna, variant=DRESS, quantity=2)
    assert again == _error("INSUFFICIENT_STOCK", ["variantId"], "only 1 available", 1)
    assert await buffer_matches_reservations() == []


async def test_coming_back_after_the_hold_expired_holds_anew(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    await _holding_drop(clock)
    cart = await _new_cart(client)
    await _add(client, cart, DRESS, 1)
    clock.advance(minutes=15)
    assert await _storefront_available(client) == 3
    # setting the same quantity renews the hold
    renewed = await _ok(client, SET_LINE, "setCartLine", cart=cart, variant=DRESS, quantity=1)
    assert renewed["holdExpiresAt"] == _at(clock, minutes=10)
    assert await _storefront_available(client) == 2
    clock.advance(minutes=15)
    # and so does adding more
    again = await _add(client, cart, DRESS, 1)
    assert (again["lines"][0]["quantity"], again["holdExpiresAt"]) == (2, _at(clock, minutes=10))
    assert await _storefront_available(client) == 1
    assert await factories.positions(DRESS) == {
        factories.ONLINE: (2, 2),
        factories.SHOP_A: (1, 0),
        factories.SHOP_B: (0, 0),
    }
    assert await buffer_matches_reservations() == []


async def test_shopper_activity_keeps_a_live_hold(client: httpx.AsyncClient, clock: Clock) -> None:
    await _holding_drop(clock)
    cart = await _new_cart(client)
    await _add(client, cart, DRESS, 1)
    clock.advance(minutes=6)
    courier = {"method": "COURIER", "address": "Москва"}
    moved = await _ok(client, DELIVERY, "setCartDelivery", cart=cart, delivery=courier)
    assert moved["holdExpiresAt"] == _at(clock, minutes=10)
    clock.advance(minutes=6)  # 12 minutes after adding, 6 after the last action
    assert await _storefront_available(client) == 2


async def test_a_held_cart_becomes_an_order_with_the_same_units(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    await _holding_drop(clock)
    cart = await _ready_cart(client, [(DRESS, 2)])
    order = await _place(client, cart)
    assert order["lines"][0]["allocations"] == [_allocation(factories.ONLINE, 2, "NOT_NEEDED")]
    assert await factories.positions(DRESS) == {
        factories.ONLINE: (2, 2),
        factories.SHOP_A: (1, 0),
        factories.SHOP_B: (0, 0),
    }
    clock.advance(minutes=11)  # the order keeps the units; only holds expire
    assert await _storefront_available(client) == 1
    assert await buffer_matches_reservations() == []


# --- orders ------------------------------------------------------------------------------


async def test_placing_an_order_reserves_every_line_and_the_status_page_shows_it(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    await _shop(clock)
    cart = await _ready_cart(client, [(DRESS, 3), (SHIRT, 1)])
    order = await _place(client, cart)
    assert order == {
        "number": "V-000001",
        "token": order["token"],
        "status": "AWAITING_PAYMENT",
        "total": {"amount": "17960.00"},
        "email": "anna@example.com",
        "phone": None,
        "paymentDeadline": _at(clock, minutes=15),
        "delivery": {"method": "COURIER", "address": "Москва, Тверская, 7", "shop": None},
        "lines": [
            {
                "variant": {"id": DRESS},
                "productName": "Dress",
                "sku": "Dress-M-black",
                "quantity": 3,
                "unitPrice": {"amount": "4990.00"},
                # the online warehouse first, then the shop, whose staff must confirm
                "allocations": [
                    _allocation(factories.ONLINE, 2, "NOT_NEEDED"),
                    _allocation(factories.SHOP_A, 1, "REQUESTED"),
                ],
            },
            {
                "variant": {"id": SHIRT},
                "productName": "Shirt",
                "sku": "Shirt-M-white",
                "quantity": 1,
                "unitPrice": {"amount": "2990.00"},
                "allocations": [_allocation(factories.ONLINE, 1, "NOT_NEEDED")],
            },
        ],
        "history": [
            {
                "fromStatus": None,
                "toStatus": "AWAITING_PAYMENT",
                "at": clock.now.isoformat(),
                "reason": "placed",
            }
        ],
    }
    page = await graphql(client, STATUS_PAGE, {"token": order["token"]})
    assert page == {"data": {"order": order}}
    assert (await _view(client, cart))["lines"] == []
    assert await _storefront_available(client) == 0
    assert await factories.positions(DRESS) == {
        factories.ONLINE: (2, 2),
        factories.SHOP_A: (1, 1),
        factories.SHOP_B: (0, 0),
    }
    assert await buffer_matches_reservations() == []


async def test_a_pickup_order_is_served_by_the_chosen_shop(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    await _shop(clock)
    cart = await _ready_cart(client, [(DRESS, 1)], pickup=factories.SHOP_A)
    order = await _place(client, cart)
    assert order["delivery"] == {
        "method": "PICKUP",
        "address": "",
        "shop": {"id": factories.SHOP_A},
    }
    assert order["lines"][0]["allocations"] == [_allocation(factories.SHOP_A, 1, "REQUESTED")]
    assert await factories.positions(DRESS) == {
        factories.ONLINE: (2, 0),
        factories.SHOP_A: (1, 1),
        factories.SHOP_B: (0, 0),
    }


async def test_carts_that_cannot_become_orders_are_refused_and_nothing_is_written(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    await _shop(clock)
    empty = await _ready_cart(client, [])
    bare = await _new_cart(client)
    await _add(client, bare, DRESS)
    no_delivery = await _new_cart(client)
    await _add(client, no_delivery, DRESS)
    await _ok(client, CONTACT, "setCartContact", cart=no_delivery, contact={"phone": "9161234567"})
    key = "checkout-0001"
    bad_key = _error("INVALID", ["idempotencyKey"], "8 to 100 characters")
    no_contact = _error("CONTACT_REQUIRED", ["email"], "an e-mail or a phone is needed")
    no_method = _error("DELIVERY_REQUIRED", ["delivery"], "choose courier or pickup")
    cases: list[tuple[str, str, list[dict[str, Any]]]] = [
        (empty, key, _error("EMPTY_CART", ["cartToken"], "the cart is empty")),
        ("nobodys-cart", key, _error("CART_NOT_FOUND", ["cartToken"], "no such cart")),
        (bare, "short", bad_key),
        (bare, "k" * 101, bad_key),
        (bare, key, no_contact),
        (no_delivery, key, no_method),
    ]
    for cart, attempt, expected in cases:
        refused = await _refused(client, PLACE, "placeOrder", cart=cart, key=attempt)
        assert refused == expected, (cart, attempt)
    assert await Order.all().count() == 0 and await Reservation.all().count() == 0
    assert await CartLine.all().count() == 2
    assert await factories.positions(DRESS) == UNTOUCHED_DRESS


async def test_an_order_takes_every_line_or_none(client: httpx.AsyncClient, clock: Clock) -> None:
    await _shop(clock)
    cart = await _ready_cart(client, [(DRESS, 1), (SHIRT, 2)])
    await factories.stock(
        SHIRT, factories.ONLINE, 1, as_of=factories.later(5)
    )  # 1C sold shirts meanwhile
    errors = await _refused(client, PLACE, "placeOrder", cart=cart, key="checkout-0001")
    assert errors == _error("INSUFFICIENT_STOCK", ["lines", "1"], "only 1 available", 1)
    assert await Order.all().count() == 0 and await OrderLine.all().count() == 0
    assert await Reservation.all().count() == 0
    assert await factories.positions(DRESS) == UNTOUCHED_DRESS  # the dress was not kept
    assert [line["quantity"] for line in (await _view(client, cart))["lines"]] == [1, 2]


async def test_the_same_key_returns_the_same_order_and_another_cart_may_not_reuse_it(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    await _shop(clock)
    cart = await _ready_cart(client, [(DRESS, 1)])
    first = await _place(client, cart, key="checkout-7f3a")
    again = await _place(client, cart, key="checkout-7f3a")  # a retry after a lost answer
    assert again == first and first["number"] == "V-000001"
    other = await _ready_cart(client, [(DRESS, 1)], email="boris@example.com")
    errors = await _refused(client, PLACE, "placeOrder", cart=other, key="checkout-7f3a")
    assert errors == _error(
        "IDEMPOTENCY_KEY_REUSED", ["idempotencyKey"], "this key placed another cart's order"
    )
    assert await Order.all().count() == 1
    assert (await factories.positions(DRESS))[factories.ONLINE] == (2, 1)
    assert len((await _view(client, other))["lines"]) == 1


async def test_one_cart_submitted_twice_at_once_becomes_one_order(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    await _shop(clock)
    cart = await _ready_cart(client, [(DRESS, 1)])
    answers = await asyncio.gather(
        graphql(client, PLACE, {"cart": cart, "key": "checkout-tab-1"}),
        graphql(client, PLACE, {"cart": cart, "key": "checkout-tab-2"}),
    )
    codes = sorted(e["code"] for a in answers for e in a["data"]["placeOrder"]["errors"])
    assert codes == ["EMPTY_CART"]
    assert await Order.all().count() == 1
    assert (await factories.positions(DRESS))[factories.ONLINE] == (2, 1)


# --- payment and cancellation ------------------------------------------------------------


async def _placed(client: httpx.AsyncClient, clock: Clock) -> str:
    await _shop(clock)
    token: str = (await _place(client, await _ready_cart(client, [(DRESS, 2)])))["token"]
    return token


async def test_a_good_card_pays_the_order(client: httpx.AsyncClient, clock: Clock) -> None:
    order = await _placed(client, clock)
    clock.advance(minutes=3)
    paid = await _pay(client, order, SUCCEEDS)
    assert paid == {
        "order": {"status": "PAID"},
        "payment": {
            "provider": "dummy",
            "status": "SUCCEEDED",
            "amount": {"amount": "9980.00"},
            "confirmationUrl": None,
        },
        "errors": [],
    }
    page = (await graphql(client, STATUS_PAGE, {"token": order}))["data"]["order"]
    assert page["history"] == [
        {
            "fromStatus": None,
            "toStatus": "AWAITING_PAYMENT",
            "at": _at(clock, minutes=-3),
            "reason": "placed",
        },
        {
            "fromStatus": "AWAITING_PAYMENT",
            "toStatus": "PAID",
            "at": clock.now.isoformat(),
            "reason": "paid (dummy)",
        },
    ]
    # paid is paid: neither a second payment nor a cancellation
    twice = await _pay(client, order, SUCCEEDS)
    assert twice == {
        "order": None,
        "payment": None,
        "errors": _error("INVALID_TRANSITION", ["orderToken"], "the order is paid"),
    }
    cancel = await _refused(client, CANCEL, "cancelOrder", order=order)
    assert cancel == _error("INVALID_TRANSITION", [], "an order paid cannot become cancelled")
    assert await Payment.all().count() == 1
    assert (await factories.positions(DRESS))[factories.ONLINE] == (2, 2)


async def test_a_declined_card_leaves_the_order_waiting_for_another_try(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    order = await _placed(client, clock)
    declined = await _pay(client, order, DECLINED)
    assert declined == {
        "order": {"status": "AWAITING_PAYMENT"},
        "payment": {
            "provider": "dummy",
            "status": "CANCELLED",
            "amount": {"amount": "9980.00"},
            "confirmationUrl": None,
        },
        "errors": _error(
            "PAYMENT_DECLINED",
            ["cardNumber"],
            "the payment was declined; try again with a new idempotencyKey",
        ),
    }
    assert (await factories.positions(DRESS))[factories.ONLINE] == (2, 2)  # the units stay reserved
    assert (await _pay(client, order, SUCCEEDS))["order"] == {"status": "PAID"}


async def test_a_pending_payment_leaves_the_order_waiting(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    order = await _placed(client, clock)
    pending = await _pay(client, order, STAYS_PENDING)
    assert pending == {
        "order": {"status": "AWAITING_PAYMENT"},
        "payment": {
            "provider": "dummy",
            "status": "PENDING",
            "amount": {"amount": "9980.00"},
            "confirmationUrl": None,
        },
        "errors": [],
    }
    page = (await graphql(client, STATUS_PAGE, {"token": order}))["data"]["order"]
    assert [h["toStatus"] for h in page["history"]] == ["AWAITING_PAYMENT"]


async def test_cancelling_an_unpaid_order_puts_its_items_back_on_sale(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    order = await _placed(client, clock)
    assert await _storefront_available(client) == 1
    cancelled = await _ok(client, CANCEL, "cancelOrder", order=order)
    assert cancelled == {
        "status": "CANCELLED",
        "history": [
            {"toStatus": "AWAITING_PAYMENT", "reason": "placed"},
            {"toStatus": "CANCELLED", "reason": "cancelled by the shopper"},
        ],
    }
    assert await _storefront_available(client) == 3
    assert await factories.positions(DRESS) == UNTOUCHED_DRESS
    page = (await graphql(client, STATUS_PAGE, {"token": order}))["data"]["order"]
    assert (page["status"], page["lines"][0]["allocations"]) == ("CANCELLED", [])
    again = await _refused(client, CANCEL, "cancelOrder", order=order)
    assert [e["code"] for e in again] == ["INVALID_TRANSITION"]
    unpaid = await _pay(client, order, SUCCEEDS)
    assert unpaid["errors"] == _error(
        "INVALID_TRANSITION", ["orderToken"], "the order is cancelled"
    )
    nobody = await _refused(client, CANCEL, "cancelOrder", order="nobodys-order")
    assert nobody == _error("ORDER_NOT_FOUND", ["orderToken"], "no such order")
    assert await Payment.all().count() == 0
    assert await factories.positions(DRESS) == UNTOUCHED_DRESS


async def test_an_order_past_its_payment_deadline_cannot_be_paid(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    order = await _placed(client, clock)
    clock.advance(minutes=15)
    late = await _pay(client, order, SUCCEEDS)
    assert late["errors"] == _error("INVALID_TRANSITION", ["orderToken"], "the order is cancelled")
    page = (await graphql(client, STATUS_PAGE, {"token": order}))["data"]["order"]
    assert page["history"][-1] == {
        "fromStatus": "AWAITING_PAYMENT",
        "toStatus": "CANCELLED",
        "at": clock.now.isoformat(),
        "reason": "payment time is over",
    }
    assert await Payment.all().count() == 0
    assert await factories.positions(DRESS) == UNTOUCHED_DRESS


# --- the storefront's own operations -----------------------------------------------------


async def _run(client: httpx.AsyncClient, name: str, **variables: Any) -> Any:
    body = await graphql(client, document(name), variables)
    assert "errors" not in body, body
    return body["data"]


async def test_the_contract_operations_run_a_whole_checkout(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    await _shop(clock)
    cart = (await _run(client, "CreateCart"))["createCart"]["cart"]["token"]
    await _run(client, "AddToCart", cartToken=cart, variantId=DRESS)
    await _run(client, "AddToCart", cartToken=cart, variantId=SHIRT, quantity=2)
    await _run(client, "SetCartLine", cartToken=cart, variantId=SHIRT, quantity=1)
    contact = {"email": "anna@example.com", "phone": "+7 916 123 45 67", "firstName": "Анна"}
    await _run(client, "SetCartContact", cartToken=cart, contact=contact)
    pickup = {"method": "PICKUP", "shopId": factories.SHOP_A}
    await _run(client, "SetCartDelivery", cartToken=cart, delivery=pickup)
    view = (await _run(client, "CartView", token=cart))["cart"]
    assert [(line["quantity"], line["available"]) for line in view["lines"]] == [(1, 1), (1, 0)]
    courier = {"method": "COURIER", "address": "Москва, Тверская, 7"}
    await _run(client, "SetCartDelivery", cartToken=cart, delivery=courier)
    placed = await _run(client, "PlaceOrder", cartToken=cart, idempotencyKey="checkout-0001")
    order = placed["placeOrder"]["order"]
    assert (order["number"], order["phone"], order["total"]) == (
        "V-000001",
        "+79161234567",
        {"amount": "7980.00", "currency": "RUB"},
    )
    paid = await _run(
        client,
        "PayOrder",
        orderToken=order["token"],
        idempotencyKey="pay-attempt-0001",
        cardNumber=SUCCEEDS,
    )
    assert (paid["payOrder"]["order"]["status"], paid["payOrder"]["errors"]) == ("PAID", [])
    page = (await _run(client, "OrderStatusPage", token=order["token"]))["order"]
    assert [p["status"] for p in page["payments"]] == ["SUCCEEDED"]
    refused = await _run(client, "CancelOrder", orderToken=order["token"])
    assert [e["code"] for e in refused["cancelOrder"]["errors"]] == ["INVALID_TRANSITION"]


# --- bugs found by these tests, fixed ---------------------------------------------------


async def test_a_line_whose_product_was_withdrawn_can_still_be_removed(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    await _shop(clock)
    cart = await _new_cart(client)
    await _add(client, cart, SHIRT)
    withdrawn = [factories.variant("Shirt", "M", "white", "2990.00")]
    await factories.product("Shirt", variants=withdrawn, published=False)  # 1C takes it off sale
    removed = await _ok(client, SET_LINE, "setCartLine", cart=cart, variant=SHIRT, quantity=0)
    assert removed["lines"] == [] and await CartLine.all().count() == 0


async def test_a_held_line_shows_the_quantity_it_may_be_set_to(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    await _holding_drop(clock)
    cart = await _new_cart(client)
    held = await _add(client, cart, DRESS, 2)
    errors = await _refused(client, SET_LINE, "setCartLine", cart=cart, variant=DRESS, quantity=4)
    assert errors == _error("INSUFFICIENT_STOCK", ["variantId"], "only 3 available", 3)
    assert held["lines"][0]["available"] == 3  # the 2 it holds and the 1 still on sale


async def test_a_place_order_error_points_at_the_line_as_the_cart_lists_it(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    await _shop(clock)
    cart = await _ready_cart(client, [(SHIRT, 2), (DRESS, 1)])
    listed = [line["variant"]["id"] for line in (await _view(client, cart))["lines"]]
    assert listed == [SHIRT, DRESS]
    await factories.stock(SHIRT, factories.ONLINE, 1, as_of=factories.later(5))
    errors = await _refused(client, PLACE, "placeOrder", cart=cart, key="checkout-0001")
    assert errors == _error("INSUFFICIENT_STOCK", ["lines", "0"], "only 1 available", 1)


async def test_a_double_click_on_add_to_cart_adds_twice(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    await _shop(clock)
    cart = await _new_cart(client)
    await _add(client, cart, SHIRT)
    one = {"cart": cart, "variant": SHIRT, "quantity": 1}
    answers = await asyncio.gather(graphql(client, ADD, one), graphql(client, ADD, one))
    assert [a["data"]["addToCart"]["errors"] for a in answers] == [[], []]
    assert [line["quantity"] for line in (await _view(client, cart))["lines"]] == [3]
