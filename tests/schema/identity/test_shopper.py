"""The shopper's side through the real API: shop purchases appear in `me.purchases` once the
account's phone is verified; consents per channel; a copy of their data; erasure."""

from __future__ import annotations

import json

import httpx
import pytest
from tortoise.transactions import in_transaction

from app.domain.identity import Channel, CustomerSource, PurchaseLine
from app.models.customers import CustomerSession
from app.models.identity import ConsentEvent
from app.services.identity.observe import observe_customer, record_purchase
from tests.conftest import Clock, graphql
from tests.schema.accounts.flows import flush_redis, last_code, ok, sign_up

UPDATE = """mutation U($input: ProfileInput!) { updateProfile(input: $input) {
  account { phone } errors { code path message } } }"""
REQUEST_SMS = """mutation { requestPhoneVerification { phone errors { code path message } } }"""
CONFIRM_PHONE = """mutation C($code: String!) { confirmPhone(code: $code) {
  account { phoneVerified } errors { code path message } } }"""
PURCHASES = """query { me { purchases(first: 10) { channel reference isReturn amountKopecks
  lines { quantity amountKopecks } } } }"""
CONSENTS = """query { me { consents { personalData { granted } usable
  marketing { channel granted changedAt } } } }"""
SET_MARKETING = """mutation M($channel: MarketingChannel!, $granted: Boolean!, $v: String!) {
  setMarketingConsent(channel: $channel, granted: $granted, textVersion: $v) {
    consents { usable } errors { code path message } } }"""
SET_PD = """mutation P($granted: Boolean!, $v: String!) {
  setPersonalDataConsent(granted: $granted, textVersion: $v) {
    consents { usable personalData { granted } } errors { code path message } } }"""
EXPORT = """mutation { requestMyData { document errors { code path message } } }"""
ERASE = """mutation E($v: String!) { eraseMyData(textVersion: $v) { erased
  errors { code path message } } }"""


@pytest.fixture(autouse=True)
async def _fresh_redis(redis_url: str) -> None:
    await flush_redis(redis_url)


async def _till_receipt(clock: Clock) -> None:
    """A shop receipt for card 5001, the phone typed at the till as the shopper said it."""
    async with in_transaction() as conn:
        record = await observe_customer(
            conn,
            source=CustomerSource.SHOP_TILL,
            external_id="5001",
            now=clock(),
            actor="1c",
            loyalty_card="5001",
            phone="8 916 555-12-34",
        )
        await record_purchase(
            conn,
            record_id=record,
            channel=Channel.SHOP,
            external_ref="R-77",
            at=clock(),
            lines=[PurchaseLine(None, 1, 790_000)],
        )


async def _purchases(client: httpx.AsyncClient, token: str) -> list[dict[str, object]]:
    body = await graphql(client, PURCHASES, {}, token)
    assert "errors" not in body, body
    found: list[dict[str, object]] = body["data"]["me"]["purchases"]
    return found


async def test_shop_purchases_show_once_the_phone_is_verified(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    tokens = await sign_up(client, "ann@shop.ru")
    auth = tokens["accessToken"]
    await _till_receipt(clock)
    await ok(client, UPDATE, "updateProfile", auth, input={"phone": "+79165551234"})
    assert await _purchases(client, auth) == []

    await ok(client, REQUEST_SMS, "requestPhoneVerification", auth)
    await ok(client, CONFIRM_PHONE, "confirmPhone", auth, code=await last_code("+79165551234"))

    assert await _purchases(client, auth) == [
        {
            "channel": "SHOP",
            "reference": "R-77",
            "isReturn": False,
            "amountKopecks": 790_000,
            "lines": [{"quantity": 1, "amountKopecks": 790_000}],
        },
    ]


async def test_advertising_needs_both_consents_and_a_withdrawal_works_at_once(
    client: httpx.AsyncClient,
) -> None:
    auth = (await sign_up(client, "ann@shop.ru"))["accessToken"]

    after_mk = await ok(
        client,
        SET_MARKETING,
        "setMarketingConsent",
        auth,
        channel="EMAIL",
        granted=True,
        v="mk-2025-09",
    )
    after_pd = await ok(client, SET_PD, "setPersonalDataConsent", auth, granted=True, v="pd-1")
    withdrawn = await ok(
        client,
        SET_MARKETING,
        "setMarketingConsent",
        auth,
        channel="EMAIL",
        granted=False,
        v="mk-2025-09",
    )

    assert after_mk["consents"]["usable"] == []
    assert after_pd["consents"]["usable"] == ["EMAIL"]
    assert withdrawn["consents"]["usable"] == []
    body = await graphql(client, CONSENTS, {}, auth)
    marketing = body["data"]["me"]["consents"]["marketing"]
    assert [(m["channel"], m["granted"]) for m in marketing] == [
        ("EMAIL", False),
        ("SMS", False),
        ("CALLS", False),
        ("MESSENGERS", False),
    ]
    assert marketing[1]["changedAt"] is None


async def test_a_consent_without_a_text_version_is_a_typed_error(client: httpx.AsyncClient) -> None:
    auth = (await sign_up(client, "ann@shop.ru"))["accessToken"]

    body = await graphql(client, SET_PD, {"granted": True, "v": ""}, auth)

    assert body["data"]["setPersonalDataConsent"] == {
        "consents": None,
        "errors": [
            {
                "code": "INVALID",
                "path": ["textVersion"],
                "message": "a consent needs its text version",
            }
        ],
    }


async def test_signed_out_callers_get_a_typed_error(client: httpx.AsyncClient) -> None:
    body = await graphql(client, EXPORT, {}, None)

    assert body["data"]["requestMyData"]["errors"][0]["code"] == "UNAUTHENTICATED"


async def test_the_export_then_erasure_ends_every_session(client: httpx.AsyncClient) -> None:
    auth = (await sign_up(client, "ann@shop.ru"))["accessToken"]
    exported = await ok(client, EXPORT, "requestMyData", auth)
    document = json.loads(exported["document"])
    assert document["account"]["email"] == "ann@shop.ru"

    erased = await ok(client, ERASE, "eraseMyData", auth, v="erase-1")

    assert erased["erased"] is True
    assert await CustomerSession.filter(revoked_at=None).count() == 0
    body = await graphql(client, "query { me { email } }", {}, auth)
    assert body["data"]["me"] is None  # the access token stopped working at once


async def test_a_page_of_purchases_is_limited(client: httpx.AsyncClient) -> None:
    auth = (await sign_up(client, "ann@shop.ru"))["accessToken"]

    body = await graphql(client, "query { me { purchases(first: 500) { reference } } }", {}, auth)

    assert body["errors"][0]["extensions"] == {"code": "INVALID", "field": ["first"]}


async def test_consent_changes_are_limited_per_hour(client: httpx.AsyncClient) -> None:
    auth = (await sign_up(client, "ann@shop.ru"))["accessToken"]
    for n in range(30):
        await ok(client, SET_PD, "setPersonalDataConsent", auth, granted=n % 2 == 0, v="pd-1")

    body = await graphql(client, SET_PD, {"granted": True, "v": "pd-1"}, auth)

    (error,) = body["data"]["setPersonalDataConsent"]["errors"]
    assert (error["code"], error["message"]) == ("TOO_MANY_ATTEMPTS", "too many consent changes")
    assert await ConsentEvent.filter(purpose="personal_data").count() == 30
