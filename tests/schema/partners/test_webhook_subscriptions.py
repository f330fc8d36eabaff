"""Partners manage their own webhook subscriptions with their tokens; nobody sees another's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from app.domain.access import Scope
from app.domain.outbox import EventKind, EventState, Target
from app.main import create_app
from app.models.outbox import OutboxEvent
from app.models.partners import WebhookSubscription
from app.services.partners.apps import issue_partner_token
from app.settings import Settings
from tests import factories
from tests.conftest import Clock, graphql, graphql_whole

CREATE = """mutation C($input: WebhookSubscriptionInput!) { createWebhookSubscription(input: $input)
  { subscription { id partnerId url events state apiVersion } secret
    errors { code path message } } }"""
LIST = "query L { webhookSubscriptions { id partnerId url } }"
DELIVERIES = """query D($id: ID!, $state: OutboxEventState) {
  webhookDeliveries(subscriptionId: $id, state: $state) {
    nodes { id event about state attempts responseStatus } } }"""
UPDATE = """mutation U($id: ID!, $changes: WebhookSubscriptionChanges!) {
  updateWebhookSubscription(id: $id, changes: $changes) {
    subscription { id url events } errors { code path } } }"""
DELETE = """mutation X($id: ID!) { deleteWebhookSubscription(id: $id) {
  deletedId errors { code path } } }"""
REPLAY = """mutation R($id: ID!) { replayWebhookDeliveries(subscriptionId: $id, all: true) {
  replayed errors { code path } } }"""
PAUSE = """mutation P($id: ID!) { pauseWebhookSubscription(id: $id) {
  subscription { state pauseReason } errors { code } } }"""
ROTATE = """mutation S($id: ID!) { rotateWebhookSecret(id: $id) { secret errors { code } } }"""
HOOK = "http://127.0.0.1:9/hook"


@asynccontextmanager
async def _app(
    settings: Settings, redis_url: str, clock: Clock, burst: int
) -> AsyncIterator[httpx.AsyncClient]:
    redis = Redis.from_url(redis_url)
    await redis.flushdb()  # token ids start again at 1 in every test: so would their buckets
    await redis.aclose()
    limited = settings.model_copy(update={"partner_rate_limit_burst": burst})
    app = create_app(limited, redis_url=redis_url, manage_db=False, clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://vitrina.test") as c:
            yield c


@pytest.fixture
async def api(
    db: str, settings: Settings, redis_url: str, clock: Clock
) -> AsyncIterator[httpx.AsyncClient]:
    async with _app(settings, redis_url, clock, burst=100) as client:
        yield client


@pytest.fixture
async def small_bucket(
    db: str, settings: Settings, redis_url: str, clock: Clock
) -> AsyncIterator[httpx.AsyncClient]:
    """The app with a bucket of three requests per partner token (the clock stands still)."""
    async with _app(settings, redis_url, clock, burst=3) as client:
        yield client


async def _partner_token(name: str, *scopes: Scope) -> tuple[int, str]:
    partner = await factories.partner(name, f"{name.lower()}@partner.example")
    raw = await issue_partner_token(
        partner_id=partner, scopes=list(scopes), expires_in_days=None, now=datetime.now(UTC)
    )
    return partner, raw


async def _create(api: httpx.AsyncClient, token: str, **input: Any) -> dict[str, Any]:
    body = await graphql(api, CREATE, {"input": {"url": HOOK, **input}}, token)
    created: dict[str, Any] = body["data"]["createWebhookSubscription"]
    return created


async def test_a_partner_subscribes_and_gets_its_secret_once(api: httpx.AsyncClient) -> None:
    partner, token = await _partner_token("Market", Scope.WEBHOOKS_MANAGE, Scope.ORDERS_READ)

    created = await _create(api, token, events=["ORDER_PLACED", "ORDER_PAID"])

    assert created["errors"] == []
    assert created["secret"].startswith("whsec_")
    assert created["subscription"] == {
        "id": created["subscription"]["id"],
        "partnerId": str(partner),
        "url": HOOK,
        "events": ["ORDER_PLACED", "ORDER_PAID"],
        "state": "ACTIVE",
        "apiVersion": "2026-11-01",
    }
    listed = await graphql(api, LIST, {}, token)
    assert listed["data"]["webhookSubscriptions"] == [
        {"id": created["subscription"]["id"], "partnerId": str(partner), "url": HOOK}
    ]
    assert created["secret"] not in str(await WebhookSubscription.all().values())


async def test_events_beyond_the_tokens_scopes_are_refused_and_nothing_is_written(
    api: httpx.AsyncClient,
) -> None:
    _, token = await _partner_token("Market", Scope.WEBHOOKS_MANAGE, Scope.ORDERS_READ)

    created = await _create(api, token, events=["ORDER_PLACED", "VARIANT_STOCK_CHANGED"])

    assert created["subscription"] is None
    assert [(e["code"], e["path"]) for e in created["errors"]] == [("INVALID", ["events", "1"])]
    assert await WebhookSubscription.all().count() == 0


async def test_without_webhooks_manage_a_token_manages_nothing(api: httpx.AsyncClient) -> None:
    _, token = await _partner_token("Reader", Scope.ORDERS_READ)
    onec = await factories.token(Scope.CATALOG_WRITE)

    for caller in (token, onec, None):
        body = await graphql(
            api, CREATE, {"input": {"url": HOOK, "events": ["ORDER_PAID"]}}, caller
        )
        code = body["errors"][0]["extensions"]["code"]
        assert code == ("UNAUTHENTICATED" if caller is None else "FORBIDDEN")
    assert await WebhookSubscription.all().count() == 0


async def test_one_partner_never_sees_or_touches_anothers_subscriptions(
    api: httpx.AsyncClient,
) -> None:
    _, alice = await _partner_token("Alice", Scope.WEBHOOKS_MANAGE, Scope.ORDERS_READ)
    _, bob = await _partner_token("Bob", Scope.WEBHOOKS_MANAGE, Scope.ORDERS_READ)
    theirs = (await _create(api, alice, events=["ORDER_PAID"]))["subscription"]["id"]
    await OutboxEvent.create(
        event_id="00000000-0000-4000-8000-00000000000a",
        target=Target.PARTNER,
        aggregate=f"partner:{theirs}:order:o-1",
        kind=EventKind.ORDER_PAID,
        payload={"id": "o-1"},
        state=EventState.DEAD,
        next_attempt_at=datetime.now(UTC),
        created_at=datetime.now(UTC),
    )

    listed = await graphql(api, LIST, {}, bob)
    seen = await graphql(api, DELIVERIES, {"id": theirs}, bob)
    changed = await graphql(
        api, UPDATE, {"id": theirs, "changes": {"url": "http://127.0.0.1:1/x"}}, bob
    )
    deleted = await graphql(api, DELETE, {"id": theirs}, bob)
    replayed = await graphql(api, REPLAY, {"id": theirs}, bob)
    owned = await graphql(api, DELIVERIES, {"id": theirs, "state": "DEAD"}, alice)

    assert listed["data"]["webhookSubscriptions"] == []
    assert seen["errors"][0]["extensions"] == {"code": "NOT_FOUND", "field": ["id"]}
    assert changed["data"]["updateWebhookSubscription"]["errors"] == [
        {"code": "NOT_FOUND", "path": ["id"]}
    ]
    assert deleted["data"]["deleteWebhookSubscription"]["errors"] == [
        {"code": "NOT_FOUND", "path": ["id"]}
    ]
    assert replayed["data"]["replayWebhookDeliveries"]["errors"] == [
        {"code": "NOT_FOUND", "path": ["id"]}
    ]
    row = await WebhookSubscription.get(id=int(theirs))
    assert row.url == HOOK  # unchanged
    assert (await OutboxEvent.get()).state is EventState.DEAD  # not replayed
    assert owned["data"]["webhookDeliveries"]["nodes"] == [
        {
            "id": "00000000-0000-4000-8000-00000000000a",
            "event": "ORDER_PAID",
            "about": "order:o-1",
            "state": "DEAD",
            "attempts": 0,
            "responseStatus": None,
        }
    ]


async def test_the_admin_sees_every_partner_and_names_whose_subscription_it_makes(
    api: httpx.AsyncClient,
) -> None:
    alice, alice_token = await _partner_token("Alice", Scope.WEBHOOKS_MANAGE, Scope.ORDERS_READ)
    await _create(api, alice_token, events=["ORDER_PAID"])
    admin = await factories.token(Scope.ADMIN)

    unnamed = await _create(api, admin, events=["ORDER_PAID"])
    named = await _create(api, admin, events=["VARIANT_STOCK_CHANGED"], partnerId=str(alice))
    listed = await graphql(api, LIST, {}, admin)

    assert [(e["code"], e["path"]) for e in unnamed["errors"]] == [
        ("INVALID", ["input", "partnerId"])
    ]
    assert named["errors"] == [] and named["subscription"]["partnerId"] == str(alice)
    assert [s["partnerId"] for s in listed["data"]["webhookSubscriptions"]] == [str(alice)] * 2


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://10.0.0.8/hook", "the URL points at a private or reserved address"),
        ("http://169.254.169.254/latest/meta-data", "the URL points at a link-local address"),
        ("http://[fd00::1]/hook", "the URL points at a private or reserved address"),
        ("http://user:secret@127.0.0.1/hook", "no credentials or #fragment in the URL"),
        ("file:///etc/passwd", "the URL must be https://host/path"),
        ("http://no-such-host.invalid/hook", "no-such-host.invalid does not resolve"),
    ],
)
async def test_urls_into_our_own_network_are_refused(
    api: httpx.AsyncClient, url: str, message: str
) -> None:
    _, token = await _partner_token("Market", Scope.WEBHOOKS_MANAGE, Scope.ORDERS_READ)

    created = await _create(api, token, url=url, events=["ORDER_PAID"])

    assert created["subscription"] is None
    assert [(e["code"], e["path"]) for e in created["errors"]] == [("INVALID", ["url"])]
    assert created["errors"][0]["message"].startswith(message)
    assert await WebhookSubscription.all().count() == 0


async def test_a_partner_token_is_rate_limited_and_told_its_budget(
    small_bucket: httpx.AsyncClient,
) -> None:
    api = small_bucket
    _, alice = await _partner_token("Alice", Scope.WEBHOOKS_MANAGE)
    _, bob = await _partner_token("Bob", Scope.WEBHOOKS_MANAGE)
    admin = await factories.token(Scope.ADMIN)

    answers = [await graphql_whole(api, LIST, {}, alice) for _ in range(4)]
    bobs = await graphql_whole(api, LIST, {}, bob)
    admins = await graphql_whole(api, LIST, {}, admin)

    assert [a["extensions"]["rateLimit"] for a in answers[:3]] == [
        {"limit": 3, "remaining": 2, "reset": 1},
        {"limit": 3, "remaining": 1, "reset": 1},
        {"limit": 3, "remaining": 0, "reset": 1},
    ]
    refused = answers[3]
    assert refused["data"] is None
    assert refused["errors"][0]["extensions"] == {"code": "RATE_LIMITED", "retryAfter": 1}
    assert refused["extensions"]["rateLimit"]["remaining"] == 0
    assert bobs["extensions"]["rateLimit"]["remaining"] == 2  # a bucket of its own
    assert "rateLimit" not in admins["extensions"]  # the brand's tokens are not limited


async def test_a_revoked_partner_token_stops_at_once(api: httpx.AsyncClient) -> None:
    _, token = await _partner_token("Market", Scope.WEBHOOKS_MANAGE)
    admin = await factories.token(Scope.ADMIN)
    tokens = await graphql(api, "query T { integrationTokens { id name } }", {}, admin)
    partner_token = next(
        t for t in tokens["data"]["integrationTokens"] if t["name"] == "partner Market"
    )

    await graphql(
        api,
        "mutation V($id: ID!) { revokeIntegrationToken(id: $id) { errors { code } } }",
        {"id": partner_token["id"]},
        admin,
    )
    body = await graphql(api, LIST, {}, token)

    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_partner_pauses_rotates_and_deletes_its_own(api: httpx.AsyncClient) -> None:
    _, token = await _partner_token("Market", Scope.WEBHOOKS_MANAGE, Scope.ORDERS_READ)
    created = await _create(api, token, events=["ORDER_PAID"])
    number = created["subscription"]["id"]

    paused = await graphql(api, PAUSE, {"id": number}, token)
    rotated = await graphql(api, ROTATE, {"id": number}, token)
    deleted = await graphql(api, DELETE, {"id": number}, token)

    assert paused["data"]["pauseWebhookSubscription"]["subscription"] == {
        "state": "PAUSED",
        "pauseReason": "paused by hand",
    }
    secret = rotated["data"]["rotateWebhookSecret"]["secret"]
    assert secret.startswith("whsec_") and secret != created["secret"]
    assert deleted["data"]["deleteWebhookSubscription"] == {"deletedId": number, "errors": []}
    assert await WebhookSubscription.all().count() == 0


ORDER = "query O($n: String!) { orderByNumber(number: $n) { number status } }"


async def test_a_partner_with_orders_read_reads_the_order_its_webhook_named(
    api: httpx.AsyncClient, clock: Clock
) -> None:
    await factories.warehouses()
    await factories.product("Dress")
    await factories.stock(factories.guid("variant/Dress/M/black"), factories.ONLINE, 2)
    cart = await factories.cart_with([(factories.guid("variant/Dress/M/black"), 1)], now=clock.now)
    order = (await factories.place(cart, now=clock.now)).order
    _, courier = await _partner_token("Courier", Scope.ORDERS_READ)
    _, feed = await _partner_token("Feed", Scope.CATALOG_READ)

    read = await graphql(api, ORDER, {"n": order.number}, courier)
    refused = await graphql_whole(api, ORDER, {"n": order.number}, feed)

    assert read["data"]["orderByNumber"] == {"number": order.number, "status": "AWAITING_PAYMENT"}
    assert refused["data"]["orderByNumber"] is None
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert "payments:write or orders:read" in refused["errors"][0]["message"]
