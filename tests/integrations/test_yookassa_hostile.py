"""Hostile notifications on our YooKassa webhook, with the YooKassa simulator behind a counter.

A notification only names an object to re-read with the shop's credentials, so its id must be
a YooKassa id before it goes anywhere near a URL: `.`, `..`, `../x` or a kilobyte of text is
refused with 400 and YooKassa never hears of it. Whatever YooKassa answers that we did not
expect (404, 5xx, 401, a body we cannot read) becomes 503, so YooKassa sends it again, and its
text never reaches the caller. Nothing is written in either case.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from app.devtools.simulators.server import LocalServer
from app.devtools.simulators.yookassa import YooKassaSimulator
from app.domain.orders import OrderStatus
from app.integrations.payments.yookassa.client import YooKassaClient
from app.integrations.payments.yookassa.mapping import (
    InvalidNotification,
    InvalidPaymentRequest,
    is_object_id,
    parse_notification,
)
from app.main import create_app
from app.models.orders import Order, OrderStatusChange, Payment, Refund
from app.models.outbox import OutboxEvent
from app.settings import Settings
from tests import factories
from tests.conftest import Clock, graphql

WEBHOOK = "/integrations/payments/yookassa"
DRESS = factories.guid("variant/Dress/M/black")
PAY = """mutation Pay($order: String!, $key: String!) {
  payOrder(orderToken: $order, idempotencyKey: $key) {
    payment { status } errors { code path message } } }"""
REAL_ID = "2419a771-000f-5000-9000-1edaf29243f2"  # the shape of YooKassa's ids (8-4-4-4-12 hex)
MALFORMED = {"error": "not a YooKassa notification"}
RETRY = {"error": "YooKassa did not confirm it; send it again"}
HOSTILE_IDS: list[Any] = [
    ".",
    "..",
    "../x",
    "../../v3/refunds",
    "%2E%2E",
    "..%2F..",
    "x" * 1024,
    f"{REAL_ID}/capture",
    f"{REAL_ID}/..",
    f"{REAL_ID}?limit=100",
    f"{REAL_ID}#",
    f"{REAL_ID}\n",
    f" {REAL_ID}",
    REAL_ID.replace("-", "") + "----",  # 36 characters of hex and dashes, not in YooKassa's groups
    "",
    None,
    42,
    [REAL_ID],
    {"id": REAL_ID},
]
EVENTS = [
    "payment.succeeded",
    "payment.waiting_for_capture",
    "payment.canceled",
    "refund.succeeded",
]


@dataclass
class Upstream:
    """The simulator's port: every HTTP request that reaches it is counted, routed or not
    (a `GET /v3/payments` would be a 405 the simulator's own log never shows)."""

    sim: YooKassaSimulator = field(default_factory=YooKassaSimulator)
    seen: list[tuple[str, str]] = field(default_factory=list)
    replace_with: Response | None = None  # an answer YooKassa never gives, instead of its own

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.seen.append((scope["method"], scope["raw_path"].decode()))
            if self.replace_with is not None:
                return await self.replace_with(scope, receive, send)
        await self.sim.app(scope, receive, send)


@dataclass
class Shop:
    api: httpx.AsyncClient
    upstream: Upstream
    yookassa: YooKassaClient  # the shop's credentials, for the test to play the payer's side

    async def notify(self, event: str, object_id: Any) -> httpx.Response:
        body = {"type": "notification", "event": event, "object": {"id": object_id}}
        return await self.api.post(WEBHOOK, json=body)


@pytest.fixture
async def shop(db: str, settings: Settings, redis_url: str, clock: Clock) -> AsyncIterator[Shop]:
    upstream = Upstream()
    async with LocalServer(upstream) as server:
        configured = settings.model_copy(
            update={
                "environment": "prod",
                "trusted_documents": "permissive",  # orders placed with free-form documents
                "yookassa_url": f"{server.url}/v3/",
                "yookassa_shop_id": upstream.sim.shop_id,
                "yookassa_secret_key": upstream.sim.secret_key,
                "payment_return_url": "https://shop.example/thanks",
            }
        )
        app = create_app(configured, redis_url=redis_url, manage_db=False, clock=clock)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with (
                httpx.AsyncClient(transport=transport, base_url="http://vitrina.test") as api,
                YooKassaClient(
                    configured.yookassa_url or "", upstream.sim.shop_id, upstream.sim.secret_key
                ) as yookassa,
            ):
                yield Shop(api, upstream, yookassa)
        await upstream.sim.aclose()


async def paying(shop: Shop, clock: Clock) -> tuple[Order, str]:
    """An order whose YooKassa payment the shopper has just paid (its notification not yet in)."""
    await factories.warehouses()
    await factories.product("Dress", variants=[factories.variant("Dress", "M", "black", "4990.00")])
    await factories.stock(DRESS, factories.ONLINE, 5)
    cart = await factories.cart_with([(DRESS, 1)], now=clock.now)
    order = (await factories.place(cart, now=clock.now)).order
    body = await graphql(shop.api, PAY, {"order": order.token, "key": "pay-attempt-1"})
    assert body["data"]["payOrder"]["errors"] == [], body
    (payment_id,) = shop.upstream.sim.payments
    await shop.upstream.sim.pay(payment_id)
    shop.upstream.seen.clear()
    shop.upstream.sim.requests.clear()
    return order, payment_id


async def written() -> dict[str, list[Any]]:
    """What the webhook could have changed: payments, refunds, order statuses, outbox rows."""
    return {
        "payments": await Payment.all().order_by("id").values_list("status", "provider_payment_id"),
        "refunds": await Refund.all().values_list("id", flat=True),
        "orders": await Order.all().order_by("id").values_list("status", flat=True),
        "history": await OrderStatusChange.all().values_list("id", flat=True),
        "outbox": await OutboxEvent.all().values_list("id", flat=True),
    }


# --- ids that are no YooKassa ids: no call at all, 400 ------------------------------------------


async def test_ids_that_are_no_yookassa_ids_are_refused_before_any_call(
    shop: Shop, clock: Clock
) -> None:
    await paying(shop, clock)
    before = await written()

    answers = [
        (event, object_id, await shop.notify(event, object_id))
        for event in EVENTS
        for object_id in HOSTILE_IDS
    ]

    refused = [(e, i) for e, i, a in answers if (a.status_code, a.json()) != (400, MALFORMED)]
    assert refused == []
    assert shop.upstream.seen == [] and shop.upstream.sim.requests == []
    assert await written() == before


async def test_a_malformed_body_is_400_with_a_short_fixed_message(shop: Shop) -> None:
    bodies = [
        b"{",
        b"[]",
        b"null",
        b'{"type": "notification", "event": "payment.exploded", "object": {"id": "x"}}',
        b'{"type": "notification", "event": "' + b"<script>" * 500 + b'"}',
        b'{"type": "notification", "event": "payment.succeeded"}',
        b'{"type": "notification", "event": "payment.succeeded", "object": "'
        + REAL_ID.encode()
        + b'"}',
    ]
    for body in bodies:
        answer = await shop.api.post(
            WEBHOOK, content=body, headers={"content-type": "application/json"}
        )
        assert (answer.status_code, answer.json()) == (400, MALFORMED), body
    assert shop.upstream.seen == []


# --- what YooKassa answers that we did not expect: 503, none of its text ------------------------


async def test_an_id_yookassa_does_not_know_is_a_503_without_its_answer(shop: Shop) -> None:
    unknown = str(uuid.uuid4())

    payment = await shop.notify("payment.succeeded", unknown)
    refund = await shop.notify("refund.succeeded", unknown)

    assert (payment.status_code, payment.json()) == (503, RETRY)
    assert (refund.status_code, refund.json()) == (503, RETRY)
    assert shop.upstream.seen == [
        ("GET", f"/v3/payments/{unknown}"),
        ("GET", f"/v3/refunds/{unknown}"),
    ]
    for answer in (payment, refund):
        assert unknown not in answer.text and "not_found" not in answer.text
    assert await written() == {
        k: [] for k in ("payments", "refunds", "orders", "history", "outbox")
    }


async def test_a_yookassa_failure_is_a_503_and_the_retry_pays_the_order(
    shop: Shop, clock: Clock
) -> None:
    order, payment_id = await paying(shop, clock)
    before = await written()
    shop.upstream.sim.fail_5xx()

    failed = await shop.notify("payment.succeeded", payment_id)

    assert (failed.status_code, failed.json()) == (503, RETRY)
    assert "Injected" not in failed.text and "internal_server_error" not in failed.text
    assert await written() == before
    retried = await shop.notify("payment.succeeded", payment_id)  # as YooKassa does
    assert retried.status_code == 200
    assert (await Order.get(id=order.id)).status is OrderStatus.PAID


async def test_yookassa_refusing_our_credentials_is_a_503(shop: Shop, clock: Clock) -> None:
    _, payment_id = await paying(shop, clock)
    before = await written()
    shop.upstream.sim.forbid()

    answer = await shop.notify("payment.succeeded", payment_id)

    assert (answer.status_code, answer.json()) == (503, RETRY)
    assert "forbidden" not in answer.text
    assert await written() == before


@pytest.mark.parametrize(
    "garbage",
    [
        Response("<html>Bad gateway</html>", 200, media_type="text/html"),
        Response(
            '{"id": "2419a771-000f-5000-9000-1edaf29243f2"}', 200, media_type="application/json"
        ),
        Response(
            '{"id": "..", "status": "succeeded", "paid": true}', 200, media_type="application/json"
        ),
        Response("[]", 200, media_type="application/json"),
        Response("", 404),
        Response("upstream exploded at /v3/payments", 502),
    ],
    ids=["html", "no-fields", "dot-id", "list", "empty-404", "502"],
)
async def test_an_answer_we_cannot_read_is_a_503_without_its_text(
    shop: Shop, clock: Clock, garbage: Response
) -> None:
    _, payment_id = await paying(shop, clock)
    before = await written()
    shop.upstream.replace_with = garbage

    answer = await shop.notify("payment.succeeded", payment_id)

    assert (answer.status_code, answer.json()) == (503, RETRY)
    assert shop.upstream.seen == [("GET", f"/v3/payments/{payment_id}")]
    assert await written() == before


async def test_a_payment_yookassa_knows_but_that_is_not_ours_is_404_without_its_details(
    shop: Shop,
) -> None:
    stranger = await shop.yookassa.create_payment(
        amount_kopecks=100,
        return_url="https://evil.example/",
        description="1 rouble",
        metadata={"payment_guid": str(uuid.uuid4())},
        idempotence_key=str(uuid.uuid4()),
    )
    await shop.upstream.sim.pay(stranger.id)

    answer = await shop.notify("payment.succeeded", stranger.id)

    assert (answer.status_code, answer.json()) == (404, {"error": "not one of our payments"})
    assert await written() == {
        k: [] for k in ("payments", "refunds", "orders", "history", "outbox")
    }


# --- the one rule, and the client that applies it ------------------------------------------------


def test_yookassa_ids_are_36_characters_in_uuid_groups() -> None:
    assert is_object_id(REAL_ID) and is_object_id("216749F7-0016-50BE-B000-078D43A63AE4")
    assert [i for i in HOSTILE_IDS if is_object_id(i)] == []


def test_a_notification_without_a_yookassa_id_is_invalid() -> None:
    for object_id in HOSTILE_IDS:
        body = {"type": "notification", "event": "payment.succeeded", "object": {"id": object_id}}
        with pytest.raises(InvalidNotification):
            parse_notification(body)
    assert (
        parse_notification(
            {"type": "notification", "event": "refund.succeeded", "object": {"id": REAL_ID}}
        ).object_id
        == REAL_ID
    )


async def test_the_client_sends_no_request_for_an_id_that_is_no_yookassa_id(shop: Shop) -> None:
    client = shop.yookassa
    calls: list[Callable[[str], Awaitable[object]]] = [
        client.get_payment,
        client.get_refund,
        lambda object_id: client.capture_payment(object_id, idempotence_key="k"),
        lambda object_id: client.cancel_payment(object_id, idempotence_key="k"),
    ]
    for call in calls:
        for object_id in (".", "..", "../x", "x" * 1024, ""):
            with pytest.raises(InvalidPaymentRequest):
                await call(object_id)
    assert shop.upstream.seen == []
