"""The profile: names, a phone normalised to E.164 and confirmed by SMS; sign-in required."""

from __future__ import annotations

import httpx
import pytest

from app.domain.outbox import EventKind
from app.models.customers import Customer
from app.models.outbox import OutboxEvent
from tests.conftest import graphql
from tests.schema.accounts.flows import (
    ME,
    errors_of,
    flush_redis,
    me,
    messages,
    ok,
    sign_up,
)

UPDATE = """mutation U($input: ProfileInput!) { updateProfile(input: $input) {
  account { firstName lastName phone phoneVerified } errors { code path message } } }"""
REQUEST_SMS = """mutation { requestPhoneVerification { phone errors { code path message } } }"""
REQUEST_SMS_TO = """mutation S($phone: String) { requestPhoneVerification(phone: $phone) {
  phone errors { code path message } } }"""
CONFIRM_PHONE = """mutation C($code: String!) { confirmPhone(code: $code) {
  account { phone phoneVerified } errors { code path message } } }"""
SIGN_IN_FIRST = {
    "code": "UNAUTHENTICATED",
    "path": [],
    "message": "sign in first: Authorization: Bearer <accessToken>",
}


@pytest.fixture(autouse=True)
async def _fresh_redis(redis_url: str) -> None:
    await flush_redis(redis_url)


async def test_the_profile_is_updated_and_the_phone_normalised(client: httpx.AsyncClient) -> None:
    tokens = await sign_up(client, "anna@example.com")
    customer = await Customer.get(email="anna@example.com")
    before = await OutboxEvent.filter(kind=EventKind.CUSTOMER_UPSERTED).count()
    payload = await ok(
        client,
        UPDATE,
        "updateProfile",
        tokens["accessToken"],
        input={"firstName": " Анна ", "lastName": "Петрова", "phone": "8 (916) 123-45-67"},
    )
    assert payload["account"] == {
        "firstName": "Анна",
        "lastName": "Петрова",
        "phone": "+79161234567",
        "phoneVerified": False,
    }
    assert (await Customer.get(id=customer.id)).phone == "+79161234567"
    assert await OutboxEvent.filter(kind=EventKind.CUSTOMER_UPSERTED).count() == before + 2
    only_last = await ok(
        client, UPDATE, "updateProfile", tokens["accessToken"], input={"lastName": "Иванова"}
    )
    assert only_last["account"]["firstName"] == "Анна"
    assert only_last["account"]["phone"] == "+79161234567"


async def test_a_bad_phone_or_another_accounts_phone_is_refused_and_nothing_changes(
    client: httpx.AsyncClient,
) -> None:
    boris = await sign_up(client, "boris@example.com")
    await ok(client, UPDATE, "updateProfile", boris["accessToken"], input={"phone": "+79160000000"})
    anna = await sign_up(client, "anna@example.com", firstName="Анна")
    bad = await errors_of(
        client,
        UPDATE,
        "updateProfile",
        anna["accessToken"],
        input={"phone": "12", "firstName": "X"},
    )
    taken = await errors_of(
        client,
        UPDATE,
        "updateProfile",
        anna["accessToken"],
        input={"phone": "89160000000", "firstName": "X"},
    )
    assert [(e["code"], e["path"]) for e in bad] == [("INVALID", ["phone"])]
    assert [(e["code"], e["path"]) for e in taken] == [("CONTACT_TAKEN", ["phone"])]
    account = await me(client, anna["accessToken"])
    assert (account["firstName"], account["phone"]) == ("Анна", None)
    sms = await errors_of(
        client,
        REQUEST_SMS_TO,
        "requestPhoneVerification",
        anna["accessToken"],
        phone="+79160000000",
    )
    assert sms == [
        {
            "code": "CONTACT_TAKEN",
            "path": ["phone"],
            "message": "this phone number belongs to another account",
        }
    ]
    assert await messages("+79160000000") == []


async def test_the_phone_is_confirmed_by_the_texted_code(client: httpx.AsyncClient) -> None:
    tokens = await sign_up(client, "anna@example.com")
    await ok(client, UPDATE, "updateProfile", tokens["accessToken"], input={"phone": "9161234567"})
    await ok(client, REQUEST_SMS, "requestPhoneVerification", tokens["accessToken"])
    [sms] = await messages("+79161234567")
    assert (sms["channel"], sms["template"]) == ("sms", "phone_code")
    code = sms["params"]["code"]
    wrong = await errors_of(
        client,
        CONFIRM_PHONE,
        "confirmPhone",
        tokens["accessToken"],
        code="000000" if code != "000000" else "1",
    )
    assert [(e["code"], e["path"]) for e in wrong] == [("INVALID_CODE", ["code"])]
    assert (await me(client, tokens["accessToken"]))["phoneVerified"] is False
    confirmed = await ok(client, CONFIRM_PHONE, "confirmPhone", tokens["accessToken"], code=code)
    assert confirmed["account"] == {"phone": "+79161234567", "phoneVerified": True}
    changed = await ok(
        client, UPDATE, "updateProfile", tokens["accessToken"], input={"phone": "+79161112233"}
    )
    assert changed["account"]["phoneVerified"] is False  # a new number is unconfirmed again


async def test_requesting_a_code_without_a_phone_is_refused(client: httpx.AsyncClient) -> None:
    tokens = await sign_up(client, "anna@example.com")
    errors = await errors_of(client, REQUEST_SMS, "requestPhoneVerification", tokens["accessToken"])
    assert errors == [{"code": "INVALID", "path": ["phone"], "message": "add a phone number first"}]
    sent = await OutboxEvent.filter(kind=EventKind.CUSTOMER_MESSAGE)
    assert [e.payload["template"] for e in sent] == ["signup_code"]


async def test_account_operations_need_a_signed_in_customer(client: httpx.AsyncClient) -> None:
    assert (await graphql(client, ME)) == {"data": {"me": None}}
    assert await errors_of(client, UPDATE, "updateProfile", input={"firstName": "X"}) == [
        SIGN_IN_FIRST
    ]
    assert await errors_of(client, REQUEST_SMS, "requestPhoneVerification") == [SIGN_IN_FIRST]
    assert await errors_of(client, CONFIRM_PHONE, "confirmPhone", code="123456") == [SIGN_IN_FIRST]
    assert await errors_of(client, UPDATE, "updateProfile", "vit_integration-token", input={}) == [
        SIGN_IN_FIRST
    ]
