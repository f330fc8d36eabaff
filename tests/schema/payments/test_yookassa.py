"""Paying with YooKassa end to end, over real HTTP: the API served by uvicorn, the YooKassa
simulator posting its notifications to our webhook, the shopper following the confirmation
URL like a browser. Lost, repeated, early and forged notifications; refunds; two-stage
payments; money for an order that expired meanwhile."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from app.devtools.simulators.server import LocalServer
from app.devtools.simulators.yookassa import YooKassaSimulator
from app.domain.access import Scope
from app.domain.orders import OrderStatus
from app.domain.outbox import EventKind
from app.domain.payments import PaymentStatus, RefundStatus
from app.integrations.payments.registry import build_providers
from app.integrations.payments.yookassa.client import YooKassaClient
from app.main import create_app
from app.models.orders import Order, OrderStatusChange, Payment, Refund
from app.models.outbox import OutboxEvent
from app.services.checkout import orders
from app.services.jobs import NoQueue
from app.services.payments import watch as payment_watch
from app.services.payments.receipts import receipt_for
from app.services.payments.start import payment_request
from app.settings import Settings
from app.workers.jobs import poll_payments
from tests import factories
from tests.conftest import Clock, graphql
from tests.contract.documents import document

DRESS = factories.guid("variant/Dress/M/black")
ERRORS = "errors { code path message }"
PAYMENT = "id provider status amount { amount } refunded { amount } confirmationUrl"
PAY = f"""
mutation Pay($order: String!, $key: String!) {{
  payOrder(orderToken: $order, idempotencyKey: $key) {{
    order {{ status }} payment {{ {PAYMENT} }} {ERRORS}
  }}
}}"""
STATUS = f"""query O($order: String!) {{ order(token: $order) {{
  status payments {{ {PAYMENT} refunds {{ status amount {{ amount }} reason }} }}
  history {{ toStatus reason }} }} }}"""
REFUND = f"""
mutation R($payment: ID!, $amount: String, $key: String!, $reason: String!) {{
  refundPayment(paymentId: $payment, amount: $amount, idempotencyKey: $key, reason: $reason) {{
    refund {{ id status amount {{ amount }} reason }} payment {{ {PAYMENT} }} {ERRORS}
  }}
}}"""
CAPTURE = f"""
mutation C($payment: ID!, $amount: String) {{
  capturePayment(paymentId: $payment, amount: $amount) {{
    payment {{ {PAYMENT} }} order {{ status }} {ERRORS}
  }}
}}"""
VOID = f"""
mutation V($payment: ID!) {{
  voidPayment(paymentId: $payment) {{ payment {{ {PAYMENT} }} order {{ status }} {ERRORS} }}
}}"""


@dataclass
class Shop:
    api: httpx.AsyncClient
    sim: YooKassaSimulator
    settings: Settings
    clock: Clock
    admin: str

    async def gql(self, query: str, auth: str | None = None, **variables: Any) -> Any:
        body = await graphql(self.api, query, variables, token=auth)
        assert "errors" not in body, body
        return body["data"]

    async def order(self, quantity: int = 1, email: str = "anna@example.com") -> Order:
        cart = await factories.cart_with([(DRESS, quantity)], now=self.clock.now, email=email)
        return (await factories.place(cart, now=self.clock.now)).order

    async def pay(self, order: Order, key: str = "pay-attempt-1") -> Any:
        return (await self.gql(PAY, order=order.token, key=key))["payOrder"]

    async def browser_pays(self, confirmation_url: str) -> httpx.Response:
        """The shopper presses Pay on YooKassa's page; the answer is the redirect back to us."""
        async with httpx.AsyncClient() as browser:
            return await browser.post(confirmation_url, data={"action": "pay"})

    async def status(self, order: Order) -> Any:
        return (await self.gql(STATUS, order=order.token))["order"]

    async def poll(self) -> int:
        providers = build_providers(self.settings)
        try:
            ctx = {"settings": self.settings, "payment_providers": providers}
            return await poll_payments(ctx)
        finally:
            await providers.aclose()


@pytest.fixture
async def shop(db: str, settings: Settings, redis_url: str, clock: Clock) -> AsyncIterator[Shop]:
    await factories.warehouses()
    await factories.product("Dress", variants=[factories.variant("Dress", "M", "black", "4990.00")])
    await factories.stock(DRESS, factories.ONLINE, 5)
    sim = YooKassaSimulator()
    async with LocalServer(sim.app) as yookassa:
        configured = settings.model_copy(
            update={
                "yookassa_url": f"{yookassa.url}/v3/",
                "yookassa_shop_id": sim.shop_id,
                "yookassa_secret_key": sim.secret_key,
                "payment_return_url": "https://shop.example/thanks",
                "payment_poll_seconds": 0,  # the poller re-reads whatever is unfinished
            }
        )
        async with _served(configured, redis_url, clock) as api:
            sim.webhook_url = f"{api.base_url}integrations/payments/yookassa"
            admin = await factories.token(Scope.PAYMENTS_WRITE)
            yield Shop(api, sim, configured, clock, admin)
        await sim.aclose()


class _served:
    """The real app behind uvicorn on a loopback port (the simulator must reach it)."""

    def __init__(self, settings: Settings, redis_url: str, clock: Clock) -> None:
        self.app = create_app(settings, redis_url=redis_url, manage_db=False, clock=clock)
        self.server = LocalServer(self.app)

    async def __aenter__(self) -> httpx.AsyncClient:
        self.lifespan = self.app.router.lifespan_context(self.app)
        await self.lifespan.__aenter__()
        await self.server.start()
        self.client = httpx.AsyncClient(base_url=f"{self.server.url}/")
        return self.client

    async def __aexit__(self, *exc: object) -> None:
        await self.client.aclose()
        await self.server.stop()
        await self.lifespan.__aexit__(None, None, None)


async def _payment_events(payment: Payment) -> list[tuple[str, str]]:
    rows = await OutboxEvent.filter(kind=EventKind.PAYMENT_STATUS_CHANGED).order_by("id")
    return [(str(r.target), r.payload["status"]) for r in rows if r.payload["guid"] == payment.guid]


# --- the happy path ---------------------------------------------------------------------------


async def test_a_guest_pays_on_yookassas_page_and_the_order_is_paid_before_they_return(
    shop: Shop,
) -> None:
    cart = (await shop.gql("mutation { createCart { cart { token } } }"))["createCart"]["cart"]
    token = cart["token"]
    await shop.gql(
        """mutation A($c: String!, $v: ID!) { addToCart(cartToken: $c, variantId: $v,
        quantity: 2) { errors { code } } }""",
        c=token,
        v=DRESS,
    )
    await shop.gql(
        """mutation C($c: String!) { setCartContact(cartToken: $c, contact: {email:
        "anna@example.com", phone: "8 916 123-45-67"}) { errors { code } } }""",
        c=token,
    )
    await shop.gql(
        """mutation D($c: String!) { setCartDelivery(cartToken: $c, delivery: {method: COURIER,
        address: "Москва, Тверская, 7"}) { errors { code } } }""",
        c=token,
    )
    placed = await shop.gql(
        """mutation P($c: String!) { placeOrder(cartToken: $c, idempotencyKey: "order-0001") {
        order { token status } errors { code } } }""",
        c=token,
    )
    order_token = placed["placeOrder"]["order"]["token"]

    started = await shop.gql(PAY, order=order_token, key="pay-attempt-1")
    payment = started["payOrder"]["payment"]
    assert started["payOrder"]["order"] == {"status": "AWAITING_PAYMENT"}
    assert (payment["provider"], payment["status"], payment["amount"]) == (
        "yookassa",
        "PENDING",
        {"amount": "9980.00"},
    )
    provider_payment_id = next(iter(shop.sim.payments))
    assert payment["confirmationUrl"].endswith(f"/checkout/{provider_payment_id}")
    assert shop.sim.payments[provider_payment_id]["metadata"]["payment_guid"] == payment["id"]

    back = await shop.browser_pays(payment["confirmationUrl"])

    # YooKassa notified us before the shopper's browser came back to the shop
    assert (back.status_code, back.headers["location"]) == (303, "https://shop.example/thanks")
    status = (await shop.gql(STATUS, order=order_token))["order"]
    assert status["status"] == "PAID"
    assert status["payments"][0]["status"] == "SUCCEEDED"
    assert status["history"][-1] == {"toStatus": "PAID", "reason": "paid (yookassa)"}
    row = await Payment.get(guid=payment["id"])
    assert await _payment_events(row) == [("onec", "succeeded"), ("retailcrm", "succeeded")]


async def test_the_payment_request_carries_a_receipt_line_per_item(shop: Shop) -> None:
    order = await shop.order(quantity=2)
    row = Payment(guid=str(uuid.uuid4()), amount=order.total, order_id=order.id)

    request = await payment_request(row, order, "https://shop.example/", None)

    lines = [(x.description, x.quantity, x.unit_price_kopecks) for x in request.receipt]
    assert lines == [("Dress", 2, 499000)]
    assert (request.email, request.amount_kopecks) == ("anna@example.com", 998000)
    # refunds and partial captures carry a receipt too: all lines, or one line for a part
    whole, part = await receipt_for(order, 998000), await receipt_for(order, 120000)
    assert whole.lines == request.receipt
    assert [(x.description, x.quantity, x.unit_price_kopecks) for x in part.lines] == [
        (f"Часть заказа {order.number}", 1, 120000)
    ]


async def test_paying_twice_with_one_key_creates_one_yookassa_payment(shop: Shop) -> None:
    order = await shop.order()
    first = await shop.pay(order, key="pay-attempt-1")
    again = await shop.pay(order, key="pay-attempt-1")
    assert again["payment"] == first["payment"]
    creates = [r for r in shop.sim.requests if r[:2] == ("POST", "/v3/payments")]
    assert len(creates) == 1 and len(shop.sim.payments) == 1


# --- notifications that go wrong ---------------------------------------------------------------


async def test_a_duplicated_notification_pays_once_and_tells_1c_once(shop: Shop) -> None:
    order = await shop.order()
    started = await shop.pay(order)
    shop.sim.duplicate_notifications()

    await shop.browser_pays(started["payment"]["confirmationUrl"])

    assert len(shop.sim.notifications) == 2
    paid = await OrderStatusChange.filter(order_id=order.id, to_status=OrderStatus.PAID).count()
    payment = await Payment.get(order_id=order.id)
    assert (paid, payment.status) == (1, PaymentStatus.SUCCEEDED)
    assert await _payment_events(payment) == [("onec", "succeeded"), ("retailcrm", "succeeded")]


async def test_a_lost_notification_is_caught_by_the_poller(shop: Shop) -> None:
    order = await shop.order()
    started = await shop.pay(order)
    shop.sim.drop_next_notification()

    await shop.browser_pays(started["payment"]["confirmationUrl"])

    assert (await shop.status(order))["status"] == "AWAITING_PAYMENT"
    assert await shop.poll() == 1
    assert (await shop.status(order))["status"] == "PAID"
    assert await shop.poll() == 0  # nothing left to learn


async def test_a_notification_before_our_create_call_returned_finds_the_payment(
    shop: Shop,
) -> None:
    order = await shop.order()
    shop.sim.fail_5xx(after_processing=True)  # YooKassa created it, but we never heard back

    lost = await shop.pay(order)
    assert [e["code"] for e in lost["errors"]] == ["PAYMENT_PROVIDER_UNAVAILABLE"]
    (provider_payment_id,) = shop.sim.payments
    await shop.sim.pay(provider_payment_id)  # the notification is the first we hear of its id

    assert (await shop.status(order))["status"] == "PAID"
    payment = await Payment.get(order_id=order.id)
    assert (payment.provider_payment_id, payment.status) == (
        provider_payment_id,
        PaymentStatus.SUCCEEDED,
    )
    retried = await shop.pay(order)  # the shopper's retry with the same key
    assert retried["payment"]["status"] == "SUCCEEDED" and len(shop.sim.payments) == 1


async def test_a_retry_after_a_timeout_reuses_yookassas_answer(shop: Shop) -> None:
    order = await shop.order()
    shop.sim.fail_5xx(after_processing=True)
    await shop.pay(order)

    retried = await shop.pay(order)

    assert retried["errors"] == [] and retried["payment"]["status"] == "PENDING"
    assert len(shop.sim.payments) == 1  # same Idempotence-Key: the same payment


async def test_a_notification_yookassa_cannot_confirm_now_is_refused_until_it_can(
    shop: Shop,
) -> None:
    order = await shop.order()
    started = await shop.pay(order)
    provider_payment_id = next(iter(shop.sim.payments))
    shop.sim.fail_5xx()  # our re-read of the payment gets a 500

    await shop.browser_pays(started["payment"]["confirmationUrl"])

    (notification,) = shop.sim.notifications
    assert (await shop.status(order))["status"] == "AWAITING_PAYMENT"
    retried = await shop.api.post(
        "integrations/payments/yookassa", json=notification
    )  # as YooKassa does
    assert retried.status_code == 200
    assert (await shop.status(order))["status"] == "PAID"
    assert notification["object"]["id"] == provider_payment_id


# --- forged and broken notifications ------------------------------------------------------------


async def test_a_notification_for_a_payment_yookassa_does_not_know_is_refused(shop: Shop) -> None:
    order = await shop.order()
    await shop.pay(order)
    forged = {
        "type": "notification",
        "event": "payment.succeeded",
        "object": {"id": str(uuid.uuid4()), "status": "succeeded", "paid": True},
    }

    answer = await shop.api.post("integrations/payments/yookassa", json=forged)

    assert answer.status_code == 503  # YooKassa's 404 is not ours to repeat (issue 16)
    payment = await Payment.get(order_id=order.id)
    assert (payment.status, (await shop.status(order))["status"]) == (
        PaymentStatus.PENDING,
        "AWAITING_PAYMENT",
    )


async def test_a_cheaper_payment_claiming_to_be_ours_is_refused(shop: Shop) -> None:
    order = await shop.order()
    shop.sim.fail_5xx()  # our create never reached YooKassa: our row waits for an id
    await shop.pay(order)
    payment = await Payment.get(order_id=order.id)
    async with YooKassaClient(
        shop.settings.yookassa_url or "", shop.sim.shop_id, shop.sim.secret_key
    ) as forger:
        cheap = await forger.create_payment(
            amount_kopecks=100,
            return_url="https://evil.example/",
            description="1 rouble",
            metadata={"payment_guid": payment.guid},
            idempotence_key=str(uuid.uuid4()),
        )
    with capture_logs() as logs:
        await shop.sim.pay(cheap.id)

    assert [n["object"]["id"] for n in shop.sim.notifications] == [cheap.id]
    after = await Payment.get(id=payment.id)
    assert (after.provider_payment_id, after.status) == (None, PaymentStatus.PENDING)
    assert (await shop.status(order))["status"] == "AWAITING_PAYMENT"
    assert any(e["event"] == "payment.mismatch" for e in logs)


async def test_bodies_that_are_not_notifications_are_refused(shop: Shop) -> None:
    for body in (b"{", b'{"type": "notification", "event": "payment.exploded"}', b"[]"):
        answer = await shop.api.post(
            "integrations/payments/yookassa",
            content=body,
            headers={"content-type": "application/json"},
        )
        assert answer.status_code == 400, body


async def test_notifications_from_outside_the_allowed_networks_are_refused(
    settings: Settings, redis_url: str, clock: Clock, db: str
) -> None:
    fenced = settings.model_copy(
        update={
            "yookassa_url": "http://127.0.0.1:9/v3/",
            "yookassa_notification_ips": ["185.71.76.0/27", "77.75.156.11"],
        }
    )
    async with _served(fenced, redis_url, clock) as api:
        answer = await api.post("integrations/payments/yookassa", json={"type": "notification"})
    assert answer.status_code == 403


# --- money an order does not need ---------------------------------------------------------------


async def test_a_payment_for_an_order_that_expired_meanwhile_is_refunded_and_logged(
    shop: Shop,
) -> None:
    order = await shop.order()
    started = await shop.pay(order)
    shop.clock.advance(minutes=16)
    assert await orders.expire_overdue(now=shop.clock.now) == 1

    with capture_logs() as logs:
        await shop.browser_pays(started["payment"]["confirmationUrl"])

    status = await shop.status(order)
    assert status["status"] == "CANCELLED"
    (payment,) = status["payments"]
    assert (payment["status"], payment["refunded"]) == ("REFUNDED", {"amount": "4990.00"})
    assert payment["refunds"] == [
        {
            "status": "SUCCEEDED",
            "amount": {"amount": "4990.00"},
            "reason": "automatic: the order was cancelled",
        }
    ]
    assert [r["amount"]["value"] for r in shop.sim.refunds.values()] == ["4990.00"]
    surplus = [e for e in logs if e["event"] == "payment.surplus"]
    assert [(e["order"], e["action"], e["log_level"]) for e in surplus] == [
        (order.number, "refund", "warning")
    ]


async def test_money_whose_notification_is_late_pays_the_order_instead_of_expiring(
    shop: Shop,
) -> None:
    order = await shop.order()
    started = await shop.pay(order)
    shop.sim.drop_next_notification()
    await shop.browser_pays(started["payment"]["confirmationUrl"])
    shop.clock.advance(minutes=16)
    providers = build_providers(shop.settings)

    try:
        expired = await payment_watch.expire_after_last_look(
            order_id=order.id, providers=providers.polled(), now=shop.clock.now, jobs=NoQueue()
        )
    finally:
        await providers.aclose()

    assert expired is False
    assert (await shop.status(order))["status"] == "PAID"
    assert shop.sim.refunds == {}


async def test_a_second_payment_for_a_paid_order_is_refunded(shop: Shop) -> None:
    order = await shop.order()
    first = await shop.pay(order, key="pay-attempt-1")
    second = await shop.pay(order, key="pay-attempt-2")  # a second tab

    await shop.browser_pays(first["payment"]["confirmationUrl"])
    await shop.browser_pays(second["payment"]["confirmationUrl"])

    status = await shop.status(order)
    assert status["status"] == "PAID"
    assert [(p["status"], p["refunded"]["amount"]) for p in status["payments"]] == [
        ("SUCCEEDED", "0.00"),
        ("REFUNDED", "4990.00"),
    ]
    assert len(shop.sim.refunds) == 1


async def test_a_refund_yookassa_did_not_answer_is_finished_by_the_poller(shop: Shop) -> None:
    order = await shop.order()
    started = await shop.pay(order)
    shop.clock.advance(minutes=16)
    await orders.expire_overdue(now=shop.clock.now)
    shop.sim.fail_5xx(skip=1)  # our webhook reads the payment, then the refund call fails

    await shop.browser_pays(started["payment"]["confirmationUrl"])
    assert shop.sim.refunds == {}
    await shop.poll()  # asks again with the same key

    payment = await Payment.get(order_id=order.id)
    refund = await Refund.get(payment_id=payment.id)
    assert (payment.status, refund.status, len(shop.sim.refunds)) == (
        PaymentStatus.REFUNDED,
        RefundStatus.SUCCEEDED,
        1,
    )


# --- the finance team ----------------------------------------------------------------------------


async def _paid(shop: Shop, quantity: int = 1) -> tuple[Order, str]:
    order = await shop.order(quantity=quantity)
    started = await shop.pay(order)
    await shop.browser_pays(started["payment"]["confirmationUrl"])
    return order, started["payment"]["id"]


async def test_refunds_in_parts_then_the_rest_and_never_more(shop: Shop) -> None:
    order, payment_guid = await _paid(shop, quantity=2)
    refund = {"payment": payment_guid, "reason": "one dress returned"}

    part = await shop.gql(REFUND, shop.admin, **refund, amount="4990.00", key="refund-0001")
    again = await shop.gql(REFUND, shop.admin, **refund, amount="4990.00", key="refund-0001")
    rest = await shop.gql(REFUND, shop.admin, **refund, amount=None, key="refund-0002")
    more = await shop.gql(REFUND, shop.admin, **refund, amount="0.01", key="refund-0003")

    first = part["refundPayment"]
    assert (first["refund"]["status"], first["refund"]["amount"]) == (
        "SUCCEEDED",
        {"amount": "4990.00"},
    )
    assert (first["payment"]["status"], first["payment"]["refunded"]) == (
        "SUCCEEDED",
        {"amount": "4990.00"},
    )
    assert again["refundPayment"]["refund"] == first["refund"]
    assert rest["refundPayment"]["payment"]["status"] == "REFUNDED"
    assert rest["refundPayment"]["refund"]["amount"] == {"amount": "4990.00"}
    assert more["refundPayment"] == {
        "refund": None,
        "payment": None,
        "errors": [
            {
                "code": "REFUND_TOO_LARGE",
                "path": ["amount"],
                "message": "at most 0 kopecks can still be refunded on this payment",
            }
        ],
    }
    assert len(shop.sim.refunds) == 2
    payment = await Payment.get(guid=payment_guid)
    assert (payment.refunded, await Refund.filter(payment_id=payment.id).count()) == (998000, 2)
    assert await _payment_events(payment) == [
        ("onec", "succeeded"),
        ("retailcrm", "succeeded"),
        ("onec", "succeeded"),  # a part refunded
        ("retailcrm", "succeeded"),
        ("onec", "refunded"),
        ("retailcrm", "refunded"),
    ]


async def test_a_paid_order_not_yet_handed_over_is_a_prepayment_in_every_receipt(
    shop: Shop,
) -> None:
    # given an order paid online (it ships later, and the closing receipt then settles it)
    order, payment_guid = await _paid(shop, quantity=2)
    refund = {"payment": payment_guid, "reason": "the shopper changed their mind"}
    # when part of it is refunded before it ships
    await shop.gql(REFUND, shop.admin, **refund, amount="4990.00", key="refund-0001")
    # then the payment's receipt and the refund's are full prepayments (54-FZ), not settlements
    receipts = [*shop.sim.payment_receipts.values(), *shop.sim.refund_receipts.values()]
    assert len(receipts) == 2
    assert {i["payment_mode"] for r in receipts for i in r["items"]} == {"full_prepayment"}


async def test_payment_operations_need_the_finance_scope(shop: Shop) -> None:
    order, payment_guid = await _paid(shop)
    catalog = await factories.token(Scope.CATALOG_WRITE)
    variables = {"payment": payment_guid, "reason": "x", "key": "refund-0001", "amount": None}

    for token, code in ((None, "UNAUTHENTICATED"), (catalog, "FORBIDDEN")):
        body = await graphql(shop.api, REFUND, variables, token=token)
        assert [e["extensions"]["code"] for e in body["errors"]] == [code]

    assert shop.sim.refunds == {} and await Refund.all().count() == 0


async def test_an_unknown_payment_id_and_a_bad_amount_are_typed_errors(shop: Shop) -> None:
    _, payment_guid = await _paid(shop)
    unknown = await shop.gql(
        REFUND, shop.admin, payment=str(uuid.uuid4()), reason="x", key="refund-0001", amount=None
    )
    garbage = await shop.gql(
        REFUND, shop.admin, payment="not-a-uuid", reason="x", key="refund-0001", amount=None
    )
    bad = await shop.gql(
        REFUND, shop.admin, payment=payment_guid, reason="x", key="refund-0001", amount="1.001"
    )
    assert unknown["refundPayment"]["errors"] == garbage["refundPayment"]["errors"]
    assert [e["code"] for e in unknown["refundPayment"]["errors"]] == ["PAYMENT_NOT_FOUND"]
    assert [e["code"] for e in bad["refundPayment"]["errors"]] == ["INVALID_PRICE"]
    assert shop.sim.refunds == {}


@pytest.fixture
async def two_stage(shop: Shop, redis_url: str) -> AsyncIterator[Shop]:
    settings = shop.settings.model_copy(update={"yookassa_capture": False})
    async with _served(settings, redis_url, shop.clock) as api:
        shop.sim.webhook_url = f"{api.base_url}integrations/payments/yookassa"
        yield Shop(api, shop.sim, settings, shop.clock, shop.admin)


async def test_two_stage_payment_is_captured_in_part(two_stage: Shop) -> None:
    shop = two_stage
    order, payment_guid = await _paid(shop, quantity=2)
    assert (await shop.status(order))["status"] == "PAID"
    payment = await Payment.get(guid=payment_guid)
    assert payment.status is PaymentStatus.WAITING_FOR_CAPTURE

    captured = await shop.gql(CAPTURE, shop.admin, payment=payment_guid, amount="4990.00")

    assert captured["capturePayment"]["payment"]["status"] == "SUCCEEDED"
    assert captured["capturePayment"]["payment"]["amount"] == {"amount": "4990.00"}
    assert captured["capturePayment"]["order"] == {"status": "PAID"}
    assert shop.sim.payments[payment.provider_payment_id or ""]["amount"]["value"] == "4990.00"
    events = await OutboxEvent.all().count()
    # the authorisation's notification, replayed late (after the capture's): nothing changes
    authorised = next(
        n for n in shop.sim.notifications if n["event"] == "payment.waiting_for_capture"
    )
    late = await shop.api.post("integrations/payments/yookassa", json=authorised)
    assert late.status_code == 200
    assert (await Payment.get(guid=payment_guid)).status is PaymentStatus.SUCCEEDED
    assert await OutboxEvent.all().count() == events


async def test_voiding_the_payment_of_an_order_cancels_it_and_frees_its_units(
    two_stage: Shop,
) -> None:
    shop = two_stage
    order, payment_guid = await _paid(shop)
    assert await factories.positions(DRESS) == {factories.ONLINE: (5, 1)}

    voided = await shop.gql(VOID, shop.admin, payment=payment_guid)

    assert voided["voidPayment"]["payment"]["status"] == "CANCELLED"
    assert voided["voidPayment"]["order"] == {"status": "CANCELLED"}
    assert await factories.positions(DRESS) == {factories.ONLINE: (5, 0)}
    again = await shop.gql(VOID, shop.admin, payment=payment_guid)
    assert [e["code"] for e in again["voidPayment"]["errors"]] == ["INVALID_TRANSITION"]


async def test_an_authorised_payment_for_an_expired_order_is_voided(two_stage: Shop) -> None:
    shop = two_stage
    order = await shop.order()
    started = await shop.pay(order)
    shop.clock.advance(minutes=16)
    await orders.expire_overdue(now=shop.clock.now)

    await shop.browser_pays(started["payment"]["confirmationUrl"])

    payment = await Payment.get(order_id=order.id)
    assert (payment.status, payment.surplus) == (PaymentStatus.CANCELLED, True)
    assert shop.sim.payments[payment.provider_payment_id or ""]["status"] == "canceled"
    assert shop.sim.refunds == {}


async def test_the_finance_operations_of_the_contract_run(two_stage: Shop) -> None:
    shop = two_stage

    async def run(name: str, **variables: Any) -> Any:
        return await shop.gql(document(name), shop.admin, **variables)

    order, _ = await _paid(shop, quantity=2)
    found = (await run("AdminOrderPayments", number=order.number))["orderByNumber"]
    (payment,) = found["payments"]
    captured = await run("AdminCapturePayment", paymentId=payment["id"], amount=None)
    refunded = await run(
        "AdminRefundPayment",
        paymentId=payment["id"],
        amount="1000.00",
        reason="a discount agreed by phone",
        idempotencyKey="refund-phone-0001",
    )
    after = (await run("AdminOrderPayments", number=order.number))["orderByNumber"]

    assert (found["status"], payment["status"]) == ("PAID", "WAITING_FOR_CAPTURE")
    assert captured["capturePayment"]["payment"]["status"] == "SUCCEEDED"
    assert refunded["refundPayment"]["errors"] == []
    assert after["payments"][0]["refunded"] == {"amount": "1000.00", "currency": "RUB"}
    assert [r["reason"] for r in after["payments"][0]["refunds"]] == ["a discount agreed by phone"]
    assert (await run("AdminOrderPayments", number="V-999999"))["orderByNumber"] is None
