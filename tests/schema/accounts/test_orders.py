"""Order history: orders placed signed in, or as a guest with a contact the account proved; never
anyone else's."""

from __future__ import annotations

import httpx
import pytest

from app.domain.orders import DeliveryKind
from app.models.customers import Customer
from app.models.orders import Order
from app.services.checkout import carts
from tests import factories
from tests.conftest import Clock, graphql
from tests.schema.accounts.flows import ME_ORDERS, errors_of, flush_redis, last_code, ok, sign_up

DRESS = factories.guid("variant/Dress/M/black")
PHONE = "+79161234567"
MY_ORDER = """query O($number: String!) { me { order(number: $number) { number email } } }"""
CREATE_CART = "mutation { createCart { cart { token } errors { code } } }"
ATTACH = """mutation A($cart: String!) { attachCart(cartToken: $cart) {
  cart { token } errors { code path message } } }"""
UPDATE_PROFILE = """mutation U($input: ProfileInput!) { updateProfile(input: $input) {
  account { phone phoneVerified } errors { code path message } } }"""
REQUEST_SMS = """mutation { requestPhoneVerification { phone errors { code } } }"""
CONFIRM_PHONE = """mutation C($code: String!) { confirmPhone(code: $code) {
  account { phone phoneVerified } errors { code path message } } }"""


@pytest.fixture(autouse=True)
async def _fresh_redis(redis_url: str) -> None:
    await flush_redis(redis_url)


async def _on_sale() -> None:
    await factories.warehouses()
    await factories.product("Dress", variants=[factories.variant("Dress", "M", "black")])
    await factories.stock(DRESS, factories.ONLINE, 20)


async def _order(
    clock: Clock, *, email: str | None = None, phone: str | None = None, cart: str | None = None
) -> str:
    """Place an order (as a guest unless the cart is an account's); its number."""
    token = cart or (await carts.create_cart()).token
    await carts.set_line(cart_token=token, variant_guid=DRESS, quantity=1, now=clock.now)
    await carts.set_contact(
        cart_token=token, email=email, phone=phone, first_name="Анна", last_name=""
    )
    await carts.set_delivery(
        cart_token=token,
        kind=DeliveryKind.COURIER,
        address="Москва, Тверская, 7",
        shop_guid=None,
        now=clock.now,
    )
    return (await factories.place(token, now=clock.now)).order.number


async def _numbers(client: httpx.AsyncClient, token: str, first: int = 50) -> list[str]:
    body = await graphql(client, ME_ORDERS, {"first": first}, token)
    assert "errors" not in body, body
    return [o["number"] for o in body["data"]["me"]["orders"]["nodes"]]


async def test_a_guest_order_with_the_email_shows_once_the_email_is_an_account(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    await _on_sale()
    earlier = await _order(clock, email="anna@example.com")
    tokens = await sign_up(client, "anna@example.com")
    assert await _numbers(client, tokens["accessToken"]) == [earlier]


async def test_a_guest_order_with_the_phone_shows_only_after_the_phone_is_confirmed(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    await _on_sale()
    tokens = await sign_up(client, "anna@example.com")
    await ok(client, UPDATE_PROFILE, "updateProfile", tokens["accessToken"], input={"phone": PHONE})
    # a stranger's guest order with that (unconfirmed) number joins the account's customer row
    by_phone = await _order(clock, email="someone@example.com", phone=PHONE)
    anna = await Customer.get(email="anna@example.com")
    assert (await Order.get(number=by_phone)).customer_id == anna.id
    assert await _numbers(client, tokens["accessToken"]) == []
    asked = await ok(client, REQUEST_SMS, "requestPhoneVerification", tokens["accessToken"])
    assert asked == {"phone": PHONE, "errors": []}
    code = await last_code(PHONE)
    confirmed = await ok(client, CONFIRM_PHONE, "confirmPhone", tokens["accessToken"], code=code)
    assert confirmed["account"] == {"phone": PHONE, "phoneVerified": True}
    assert await _numbers(client, tokens["accessToken"]) == [by_phone]


async def test_a_guest_holding_the_phone_gives_it_up_when_the_account_confirms_it(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    await _on_sale()
    by_phone = await _order(clock, phone=PHONE)  # a guest customer now holds the number
    tokens = await sign_up(client, "anna@example.com")
    taken = await errors_of(
        client, UPDATE_PROFILE, "updateProfile", tokens["accessToken"], input={"phone": PHONE}
    )
    assert [(e["code"], e["path"]) for e in taken] == [("CONTACT_TAKEN", ["phone"])]
    asked = await ok(
        client,
        'mutation { requestPhoneVerification(phone: "8 916 123-45-67") { phone errors { code } } }',
        "requestPhoneVerification",
        tokens["accessToken"],
    )
    assert asked["phone"] == PHONE
    assert await _numbers(client, tokens["accessToken"]) == []
    await ok(
        client, CONFIRM_PHONE, "confirmPhone", tokens["accessToken"], code=await last_code(PHONE)
    )
    assert await _numbers(client, tokens["accessToken"]) == [by_phone]


async def test_an_order_placed_signed_in_is_the_accounts_whatever_the_contact(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    await _on_sale()
    tokens = await sign_up(client, "anna@example.com")
    cart = (await ok(client, CREATE_CART, "createCart", tokens["accessToken"]))["cart"]["token"]
    number = await _order(clock, email="gift-for-mum@example.com", cart=cart)
    order = await Order.get(number=number).prefetch_related("customer")
    assert order.customer is not None and order.customer.email == "anna@example.com"
    assert await _numbers(client, tokens["accessToken"]) == [number]


async def test_a_guest_cart_attached_after_login_becomes_the_accounts(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    await _on_sale()
    cart = (await ok(client, CREATE_CART, "createCart"))["cart"]["token"]
    tokens = await sign_up(client, "anna@example.com")
    await ok(client, ATTACH, "attachCart", tokens["accessToken"], cart=cart)
    number = await _order(clock, email="other@example.com", cart=cart)
    assert await _numbers(client, tokens["accessToken"]) == [number]


async def test_nobody_sees_or_takes_another_accounts_orders_or_carts(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    await _on_sale()
    anna = await sign_up(client, "anna@example.com")
    boris = await sign_up(client, "boris@example.com")
    annas_cart = (await ok(client, CREATE_CART, "createCart", anna["accessToken"]))["cart"]
    annas = [await _order(clock, email="anna@example.com"), await _order(clock, email="x@y.ru")]
    annas.append(await _order(clock, email="z@y.ru", cart=annas_cart["token"]))

    assert await _numbers(client, boris["accessToken"]) == []
    for number in annas:
        body = await graphql(client, MY_ORDER, {"number": number}, boris["accessToken"])
        assert body == {"data": {"me": {"order": None}}}
    unknown = await graphql(client, MY_ORDER, {"number": "V-999999"}, boris["accessToken"])
    assert unknown == {"data": {"me": {"order": None}}}
    mine = await graphql(client, MY_ORDER, {"number": annas[0]}, anna["accessToken"])
    assert mine["data"]["me"]["order"] == {"number": annas[0], "email": "anna@example.com"}

    taken = await errors_of(client, ATTACH, "attachCart", boris["accessToken"], cart="no-such-cart")
    other = await errors_of(
        client, ATTACH, "attachCart", boris["accessToken"], cart=annas_cart["token"]
    )
    assert (
        taken
        == other
        == [{"code": "CART_NOT_FOUND", "path": ["cartToken"], "message": "no such cart"}]
    )


async def test_orders_come_newest_first_a_page_at_a_time(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    await _on_sale()
    numbers = [await _order(clock, email="anna@example.com") for _ in range(3)]
    tokens = await sign_up(client, "anna@example.com")
    first = await graphql(client, ME_ORDERS, {"first": 2}, tokens["accessToken"])
    page = first["data"]["me"]["orders"]
    assert [o["number"] for o in page["nodes"]] == numbers[::-1][:2]
    assert page["pageInfo"]["hasNextPage"] is True
    rest = await graphql(
        client,
        ME_ORDERS,
        {"first": 2, "after": page["pageInfo"]["endCursor"]},
        tokens["accessToken"],
    )
    last = rest["data"]["me"]["orders"]
    assert [o["number"] for o in last["nodes"]] == [numbers[0]]
    assert last["pageInfo"]["hasNextPage"] is False
