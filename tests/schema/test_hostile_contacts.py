"""Contact details through the API: hidden characters, markup, other scripts' digits and
impossible numbers are refused with INVALID at the field and change nothing; a phone is
stored as E.164 with what the shopper typed kept beside it (cart, order, account profile)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.models.checkout import Cart
from app.models.customers import Customer
from app.models.orders import Order
from tests import factories
from tests.conftest import Clock, graphql
from tests.schema.accounts.flows import errors_of, flush_redis, messages, ok, sign_up

DRESS = factories.guid("variant/Dress/M/black")
ERRORS = "errors { code path }"
CONTACT = f"""mutation C($cart: String!, $contact: ContactInput!) {{
  setCartContact(cartToken: $cart, contact: $contact) {{ cart {{ email phone }} {ERRORS} }} }}"""
UPDATE = f"""mutation U($input: ProfileInput!) {{ updateProfile(input: $input) {{
  account {{ phone }} {ERRORS} }} }}"""
REQUEST_SMS_TO = f"""mutation S($phone: String) {{ requestPhoneVerification(phone: $phone) {{
  phone {ERRORS} }} }}"""
CONFIRM_PHONE = f"""mutation C($code: String!) {{ confirmPhone(code: $code) {{
  account {{ phone phoneVerified }} {ERRORS} }} }}"""
TYPED = "8 (916) 123-45-67"
E164 = "+79161234567"
HOSTILE_EMAILS = [
    "anna\u202e@example.com",  # right-to-left override
    "an\u200bna@example.com",  # zero-width space
    "anna@exam\u200bple.com",
    "<b>anna</b>@example.com",
    "anna@example.com<script>alert(1)</script>",
    "Anna <anna@example.com>",
    "аnna@example.com",  # Cyrillic а
]
HOSTILE_PHONES = [
    "+٧٩١٦١٢٣٤٥٦٧",  # Arabic-Indic digits
    "+７９１６１２３４５６７",  # full-width digits
    "+0000000000",
    "+7 916 123\u200b45 67",
    "+7 916 123 45 67\u202e",
    "+7 916 123 45 67 <b>",
    "8 800 FLOWERS",
    "1" * 65,
]


@pytest.fixture(autouse=True)
async def _fresh_redis(redis_url: str) -> None:
    await flush_redis(redis_url)


async def _cart(client: httpx.AsyncClient) -> str:
    body = await graphql(client, "mutation { createCart { cart { token } } }")
    token: str = body["data"]["createCart"]["cart"]["token"]
    return token


async def _set_contact(client: httpx.AsyncClient, cart: str, **contact: str) -> dict[str, Any]:
    body = await graphql(client, CONTACT, {"cart": cart, "contact": contact})
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["setCartContact"]
    return payload


async def _contact_row(token: str) -> tuple[str | None, str | None, str | None]:
    cart = await Cart.get(token=token)
    return cart.email, cart.phone, cart.phone_raw


async def test_hidden_characters_markup_and_other_digits_are_refused_and_change_nothing(
    client: httpx.AsyncClient,
) -> None:
    cart = await _cart(client)
    await _set_contact(client, cart, email="anna@example.com", phone=TYPED)
    before = await _contact_row(cart)

    answers = [("email", v, await _set_contact(client, cart, email=v)) for v in HOSTILE_EMAILS]
    answers += [("phone", v, await _set_contact(client, cart, phone=v)) for v in HOSTILE_PHONES]

    for field, value, payload in answers:
        assert payload == {"cart": None, "errors": [{"code": "INVALID", "path": [field]}]}, value
    assert await _contact_row(cart) == before == ("anna@example.com", E164, TYPED)


async def test_one_address_in_several_spellings_is_one_stored_address(
    client: httpx.AsyncClient,
) -> None:
    cart = await _cart(client)
    stored = set()
    for spelling in ("anna@example.com", " Anna@EXAMPLE.com ", "anna@ｅxample.com"):
        payload = await _set_contact(client, cart, email=spelling)
        assert payload["errors"] == []
        stored.add((await _contact_row(cart))[0])
    assert stored == {"anna@example.com"}


async def test_the_phone_is_kept_as_typed_on_the_cart_and_its_order(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    await factories.warehouses()
    await factories.product("Dress", variants=[factories.variant("Dress", "M", "black", "4990.00")])
    await factories.stock(DRESS, factories.ONLINE, 5)
    cart = await factories.cart_with([(DRESS, 1)], now=clock.now)

    payload = await _set_contact(client, cart, email="anna@example.com", phone=f"  {TYPED} ")
    order = (await factories.place(cart, now=clock.now)).order

    assert payload["cart"] == {"email": "anna@example.com", "phone": E164}
    assert await _contact_row(cart) == ("anna@example.com", E164, TYPED)
    row = await Order.get(id=order.id)
    assert (row.phone, row.phone_raw) == (E164, TYPED)


async def test_the_profile_keeps_the_phone_as_typed_and_refuses_other_digits(
    client: httpx.AsyncClient,
) -> None:
    tokens = await sign_up(client, "anna@example.com")
    auth = tokens["accessToken"]
    saved = await ok(client, UPDATE, "updateProfile", auth, input={"phone": TYPED})
    assert saved["account"] == {"phone": E164}
    customer = await Customer.get(email="anna@example.com")
    assert (customer.phone, customer.phone_raw) == (E164, TYPED)

    for bad in HOSTILE_PHONES:
        refused = await errors_of(client, UPDATE, "updateProfile", auth, input={"phone": bad})
        assert refused == [{"code": "INVALID", "path": ["phone"]}], bad
        sms = await errors_of(client, REQUEST_SMS_TO, "requestPhoneVerification", auth, phone=bad)
        assert sms == [{"code": "INVALID", "path": ["phone"]}], bad
    after = await Customer.get(id=customer.id)
    assert (after.phone, after.phone_raw, after.updated_at) == (E164, TYPED, customer.updated_at)

    await ok(client, UPDATE, "updateProfile", auth, input={"phone": ""})
    removed = await Customer.get(id=customer.id)
    assert (removed.phone, removed.phone_raw) == (None, None)


async def test_a_number_proven_by_sms_keeps_the_spelling_it_was_asked_for_in(
    client: httpx.AsyncClient,
) -> None:
    tokens = await sign_up(client, "anna@example.com")
    auth = tokens["accessToken"]

    asked = await ok(client, REQUEST_SMS_TO, "requestPhoneVerification", auth, phone="916 1234567")
    [sms] = await messages(E164)
    confirmed = await ok(client, CONFIRM_PHONE, "confirmPhone", auth, code=sms["params"]["code"])

    assert asked["phone"] == E164
    assert confirmed["account"] == {"phone": E164, "phoneVerified": True}
    customer = await Customer.get(email="anna@example.com")
    assert (customer.phone, customer.phone_raw) == (E164, "916 1234567")
