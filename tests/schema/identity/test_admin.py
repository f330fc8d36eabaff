"""Customer 360 and the graph's staff operations through the real API: scopes, logged reads,
typed errors, suggestions decided once, unmerge, and a segment export."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from redis.asyncio import Redis
from tortoise.transactions import in_transaction

from app.domain.access import Scope
from app.domain.identity import CustomerSource
from app.models.identity import IdentityLink, IdentityRecord, IdentitySuggestion, ProfileAccess
from app.models.outbox import OutboxEvent
from app.services.identity.observe import observe_customer
from tests import factories
from tests.conftest import Clock, graphql

PROFILE = """query P($phone: String) { customerProfile(phone: $phone) { id
  records { source externalId phone phoneRaw phoneVerified }
  links { rule value actor removedAt } channels { channel orders }
  consents { usable } } }"""
SUGGESTIONS = """query { identitySuggestions { nodes { id kind value state } hasNextPage } }"""
DECIDE = """mutation D($id: ID!, $accept: Boolean!) { decideIdentitySuggestion(id: $id,
  accept: $accept) { suggestion { state decidedBy } link { rule actor }
  errors { code path message } } }"""
UNMERGE = """mutation U($id: ID!) { unmergeIdentityLink(id: $id) { profileIds
  errors { code path message } } }"""
SEGMENT = """query S($rules: [SegmentRuleInput!]!) { customerSegment(rules: $rules) {
  count profileIds } }"""
EXPORT = """mutation X($rules: [SegmentRuleInput!]!) { exportCustomerSegment(rules: $rules,
  code: "vip", channel: EMAIL) { exportId matched exported errors { code path message } } }"""
PHONE = "+79165551234"


@pytest.fixture(autouse=True)
async def no_spent_exports(redis_url: str) -> AsyncIterator[None]:
    """An earlier test's segment exports do not count against this one's staff token."""
    redis = Redis.from_url(redis_url)
    keys = [key async for key in redis.scan_iter(match="vitrina:segment-export:*")]
    if keys:
        await redis.delete(*keys)
    await redis.aclose()
    yield


async def _observe(clock: Clock, source: CustomerSource, key: str, verified: bool) -> int:
    async with in_transaction() as conn:
        return await observe_customer(
            conn,
            source=source,
            external_id=key,
            now=clock(),
            actor="test",
            phone=PHONE,
            phone_verified=verified,
        )


async def test_the_profile_needs_customers_read_and_each_read_is_logged(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    await _observe(clock, CustomerSource.SITE, "s-1", True)
    await _observe(clock, CustomerSource.SHOP_TILL, "c-1", False)
    reader = await factories.token(Scope.CUSTOMERS_READ)
    other = await factories.token(Scope.SHOPS_READ)

    refused = await graphql(client, PROFILE, {"phone": PHONE}, other)
    body = await graphql(client, PROFILE, {"phone": "8 916 555 12 34"}, reader)

    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    profile = body["data"]["customerProfile"]
    assert [r["source"] for r in profile["records"]] == ["SITE", "SHOP_TILL"]
    assert profile["links"] == [
        {"rule": "PHONE", "value": PHONE, "actor": "test", "removedAt": None}
    ]
    assert profile["consents"] == {"usable": []}
    log = await ProfileAccess.all()
    assert [(x.actor, x.action, x.profile_id) for x in log] == [
        ("token:test", "customer360", int(profile["id"]))
    ]


async def test_an_unknown_profile_is_a_typed_error(client: httpx.AsyncClient) -> None:
    reader = await factories.token(Scope.CUSTOMERS_READ)

    body = await graphql(client, PROFILE, {"phone": "+79160000001"}, reader)

    assert body["errors"][0]["extensions"] == {"code": "NOT_FOUND", "field": ["id"]}


async def test_a_suggestion_is_accepted_once_then_its_link_unmerged(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    a = await _observe(clock, CustomerSource.SHOP_TILL, "c-1", False)
    b = await _observe(clock, CustomerSource.RETAILCRM, "77", False)
    staff = await factories.token(Scope.CUSTOMERS_READ, Scope.CUSTOMERS_WRITE)
    listed = (await graphql(client, SUGGESTIONS, {}, staff))["data"]["identitySuggestions"]
    assert [(n["kind"], n["value"], n["state"]) for n in listed["nodes"]] == [
        ("PHONE", PHONE, "OPEN")
    ]
    sid = listed["nodes"][0]["id"]

    accepted = (await graphql(client, DECIDE, {"id": sid, "accept": True}, staff))["data"]
    again = (await graphql(client, DECIDE, {"id": sid, "accept": False}, staff))["data"]

    assert accepted["decideIdentitySuggestion"] == {
        "suggestion": {"state": "ACCEPTED", "decidedBy": "token:test"},
        "link": {"rule": "STAFF", "actor": "token:test"},
        "errors": [],
    }
    assert again["decideIdentitySuggestion"]["errors"] == [
        {"code": "INVALID_TRANSITION", "path": ["id"], "message": "already accepted"}
    ]
    assert (await IdentityRecord.get(id=b)).profile_id == a
    link = await IdentityLink.get()

    cut = (await graphql(client, UNMERGE, {"id": str(link.id)}, staff))["data"]

    assert cut["unmergeIdentityLink"] == {"profileIds": [str(a), str(b)], "errors": []}
    assert (await IdentityRecord.get(id=b)).profile_id == b
    assert (await IdentitySuggestion.get()).state.value == "accepted"


async def test_a_rule_with_two_conditions_is_refused_and_nothing_is_exported(
    client: httpx.AsyncClient,
) -> None:
    staff = await factories.token(Scope.CUSTOMERS_WRITE)
    rules = [{"lapsedDays": 30, "spendMinKopecks": 10}]

    body = await graphql(client, EXPORT, {"rules": rules}, staff)

    assert body["data"]["exportCustomerSegment"]["errors"] == [
        {"code": "INVALID", "path": ["rules", "0"], "message": "one condition a rule"}
    ]
    assert await OutboxEvent.all().count() == 0


async def test_a_segment_is_counted_and_the_query_logged(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    reader = await factories.token(Scope.CUSTOMERS_READ)

    body = await graphql(client, SEGMENT, {"rules": [{"lapsedDays": 30}]}, reader)

    assert body["data"]["customerSegment"] == {"count": 0, "profileIds": []}
    assert await ProfileAccess.filter(action="segment").count() == 1


async def test_a_staff_token_exports_six_segments_an_hour_then_is_told_when_to_retry(
    client: httpx.AsyncClient,
) -> None:
    staff = await factories.token(Scope.CUSTOMERS_WRITE)
    rules = [{"lapsedDays": 30}]
    for _ in range(6):
        body = await graphql(client, EXPORT, {"rules": rules}, staff)
        assert body["data"]["exportCustomerSegment"]["errors"] == []

    refused = await graphql(client, EXPORT, {"rules": rules}, staff)

    [error] = refused["data"]["exportCustomerSegment"]["errors"]
    assert error["code"] == "TOO_MANY_ATTEMPTS"
    assert await ProfileAccess.filter(action="segment_export").count() == 6
