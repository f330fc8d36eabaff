"""YooKassaClient against the YooKassa simulator over real HTTP on 127.0.0.1."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from app.devtools.simulators.server import LocalServer
from app.devtools.simulators.yookassa import YooKassaSimulator
from app.domain.payments import PaymentStatus
from app.integrations.errors import RejectedError, RetryableError
from app.integrations.payments.yookassa.client import YooKassaClient
from app.integrations.payments.yookassa.mapping import (
    Receipt,
    ReceiptItem,
    YooPayment,
)

ORDER = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
RETURN_URL = "https://shop.example/orders/42"


@dataclass
class Swappable:
    """One server for the module; each test puts a fresh simulator behind it."""

    app: ASGIApp = field(default_factory=lambda: YooKassaSimulator().app)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


@pytest.fixture(scope="module")
async def server() -> AsyncIterator[tuple[LocalServer, Swappable]]:
    front = Swappable()
    async with LocalServer(front) as running:
        yield running, front


@pytest.fixture
async def sim(server: tuple[LocalServer, Swappable]) -> AsyncIterator[YooKassaSimulator]:
    simulator = YooKassaSimulator()
    server[1].app = simulator.app
    yield simulator
    await simulator.aclose()


@pytest.fixture
def base_url(server: tuple[LocalServer, Swappable]) -> str:
    return f"{server[0].url}/v3/"


@pytest.fixture
async def yookassa(sim: YooKassaSimulator, base_url: str) -> AsyncIterator[YooKassaClient]:
    async with YooKassaClient(base_url, sim.shop_id, sim.secret_key, timeout=2.0) as client:
        yield client


def key() -> str:
    return str(uuid.uuid4())


async def create(
    yookassa: YooKassaClient,
    *,
    capture: bool = True,
    amount_kopecks: int = 4_990_00,
    idempotence_key: str | None = None,
) -> YooPayment:
    """A payment for order 42 with a one-line receipt."""
    receipt = Receipt(
        [ReceiptItem("Платье миди, синее, S", 1, amount_kopecks)], email="a@b.example"
    )
    return await yookassa.create_payment(
        amount_kopecks=amount_kopecks,
        return_url=RETURN_URL,
        description="Заказ №42",
        metadata={"order_guid": ORDER},
        receipt=receipt,
        capture=capture,
        idempotence_key=idempotence_key or key(),
    )


def part(kopecks: int) -> Receipt:
    """The receipt of a refund or partial capture of `create`'s payment (required with one)."""
    return Receipt([ReceiptItem("Платье миди, синее, S", 1, kopecks)], email="a@b.example")


async def paid(yookassa: YooKassaClient, sim: YooKassaSimulator) -> YooPayment:
    payment = await create(yookassa)
    await sim.pay(payment.id)
    return payment


# --- the payment's life --------------------------------------------------------------------------


async def test_a_new_payment_is_pending_and_links_to_the_simulators_checkout(
    yookassa: YooKassaClient, sim: YooKassaSimulator, base_url: str
) -> None:
    payment = await create(yookassa)

    assert payment.status is PaymentStatus.PENDING and payment.paid is False
    assert (payment.amount_kopecks, payment.currency) == (4_990_00, "RUB")
    assert payment.metadata == {"order_guid": ORDER}
    assert payment.confirmation_url == base_url.replace("/v3/", f"/checkout/{payment.id}")
    assert list(sim.payments) == [payment.id]
    assert sim.payments[payment.id]["confirmation"]["return_url"] == RETURN_URL


async def test_every_post_carries_an_idempotence_key_and_gets_none(
    yookassa: YooKassaClient, sim: YooKassaSimulator
) -> None:
    payment = await paid(yookassa, sim)
    await yookassa.get_payment(payment.id)
    await yookassa.create_refund(
        payment.id, amount_kopecks=100, idempotence_key="refund-1", receipt=part(100)
    )

    sent = [(method, k is not None) for method, _, k in sim.requests]
    assert sent == [("POST", True), ("GET", False), ("POST", True)]
    assert sim.requests[-1] == ("POST", "/v3/refunds", "refund-1")


async def test_a_payment_paid_by_the_payer_reads_as_succeeded(
    yookassa: YooKassaClient, sim: YooKassaSimulator
) -> None:
    payment = await paid(yookassa, sim)

    now = await yookassa.get_payment(payment.id)

    assert now.status is PaymentStatus.SUCCEEDED and now.paid is True and now.refundable is True
    assert now.captured_at is not None and now.created_at <= now.captured_at


async def test_a_two_stage_payment_waits_for_capture_then_is_captured(
    yookassa: YooKassaClient, sim: YooKassaSimulator
) -> None:
    payment = await create(yookassa, capture=False)
    await sim.pay(payment.id)
    assert (await yookassa.get_payment(payment.id)).status is PaymentStatus.WAITING_FOR_CAPTURE

    captured = await yookassa.capture_payment(payment.id, idempotence_key=key())

    assert captured.status is PaymentStatus.SUCCEEDED and captured.amount_kopecks == 4_990_00


async def test_a_partial_capture_takes_only_that_amount(
    yookassa: YooKassaClient, sim: YooKassaSimulator
) -> None:
    payment = await create(yookassa, capture=False)
    await sim.pay(payment.id)

    captured = await yookassa.capture_payment(
        payment.id, amount_kopecks=3_000_00, idempotence_key=key(), receipt=part(3_000_00)
    )

    assert captured.status is PaymentStatus.SUCCEEDED and captured.amount_kopecks == 3_000_00


async def test_a_payment_waiting_for_capture_can_be_canceled(
    yookassa: YooKassaClient, sim: YooKassaSimulator
) -> None:
    payment = await create(yookassa, capture=False)
    await sim.pay(payment.id)

    canceled = await yookassa.cancel_payment(payment.id, idempotence_key=key())

    assert canceled.status is PaymentStatus.CANCELLED and canceled.paid is False
    assert canceled.cancellation_reason == "canceled_by_merchant"


async def test_a_payer_who_gives_up_leaves_a_canceled_payment(
    yookassa: YooKassaClient, sim: YooKassaSimulator
) -> None:
    payment = await create(yookassa)

    await sim.cancel_by_payer(payment.id)

    now = await yookassa.get_payment(payment.id)
    assert now.status is PaymentStatus.CANCELLED
    assert now.cancellation_reason == "expired_on_confirmation"


async def test_a_full_refund_leaves_nothing_to_refund(
    yookassa: YooKassaClient, sim: YooKassaSimulator
) -> None:
    payment = await paid(yookassa, sim)

    refund = await yookassa.create_refund(
        payment.id,
        amount_kopecks=4_990_00,
        idempotence_key=key(),
        description="Возврат заказа",
        receipt=part(4_990_00),
    )

    assert (refund.payment_id, refund.status, refund.amount_kopecks) == (
        payment.id,
        "succeeded",
        4_990_00,
    )
    assert (await yookassa.get_payment(payment.id)).refundable is False


async def test_partial_refunds_add_up_to_the_amount_paid_and_no_further(
    yookassa: YooKassaClient, sim: YooKassaSimulator
) -> None:
    payment = await paid(yookassa, sim)
    for kopecks in (990_00, 4_000_00):
        await yookassa.create_refund(
            payment.id, amount_kopecks=kopecks, idempotence_key=key(), receipt=part(kopecks)
        )

    with pytest.raises(RejectedError) as refused:
        await yookassa.create_refund(
            payment.id, amount_kopecks=1, idempotence_key=key(), receipt=part(1)
        )

    assert refused.value.status == 400 and "invalid_request" in refused.value.body
    assert len(sim.refunds) == 2
    assert sim.payments[payment.id]["refunded_amount"]["value"] == "4990.00"


async def test_a_pending_payment_can_be_neither_captured_nor_refunded(
    yookassa: YooKassaClient, sim: YooKassaSimulator
) -> None:
    payment = await create(yookassa, capture=False)

    with pytest.raises(RejectedError) as capture:
        await yookassa.capture_payment(payment.id, idempotence_key=key())
    with pytest.raises(RejectedError) as refund:
        await yookassa.create_refund(payment.id, amount_kopecks=100, idempotence_key=key())

    assert capture.value.status == refund.value.status == 400
    assert sim.payments[payment.id]["status"] == "pending" and sim.refunds == {}


# --- idempotence ---------------------------------------------------------------------------------


async def test_the_same_key_and_body_give_the_same_payment_once(
    yookassa: YooKassaClient, sim: YooKassaSimulator
) -> None:
    first = await create(yookassa, idempotence_key="order-42-attempt-1")

    again = await create(yookassa, idempotence_key="order-42-attempt-1")

    assert again == first
    assert len(sim.payments) == 1


async def test_the_same_key_with_another_body_is_refused(
    yookassa: YooKassaClient, sim: YooKassaSimulator
) -> None:
    await create(yookassa, idempotence_key="order-42-attempt-1")

    with pytest.raises(RejectedError) as refused:
        await create(yookassa, idempotence_key="order-42-attempt-1", amount_kopecks=5_000_00)

    assert refused.value.status == 400 and "Idempotence-Key" in refused.value.body
    assert len(sim.payments) == 1


async def test_a_repeated_refund_refunds_once(
    yookassa: YooKassaClient, sim: YooKassaSimulator
) -> None:
    payment = await paid(yookassa, sim)

    first = await yookassa.create_refund(
        payment.id, amount_kopecks=100, idempotence_key="r-1", receipt=part(100)
    )
    again = await yookassa.create_refund(
        payment.id, amount_kopecks=100, idempotence_key="r-1", receipt=part(100)
    )

    assert again == first and len(sim.refunds) == 1


async def test_a_refund_of_a_payment_made_with_a_receipt_needs_one_too(
    yookassa: YooKassaClient, sim: YooKassaSimulator
) -> None:
    payment = await paid(yookassa, sim)
    with pytest.raises(RejectedError) as refused:
        await yookassa.create_refund(payment.id, amount_kopecks=100, idempotence_key=key())
    assert refused.value.status == 400 and "receipt is required" in refused.value.body
    assert sim.refunds == {}


# --- failures ------------------------------------------------------------------------------------


async def test_wrong_credentials_are_rejected_and_create_nothing(
    sim: YooKassaSimulator, base_url: str
) -> None:
    async with YooKassaClient(base_url, sim.shop_id, "test_wrong", timeout=2.0) as stranger:
        with pytest.raises(RejectedError) as refused:
            await create(stranger)

    assert refused.value.status == 401 and "invalid_credentials" in refused.value.body
    assert sim.payments == {}


async def test_an_unknown_payment_is_not_found(yookassa: YooKassaClient) -> None:
    with pytest.raises(RejectedError) as refused:
        await yookassa.get_payment("2419a771-000f-5000-9000-1edaf29243f2")

    assert refused.value.status == 404 and "not_found" in refused.value.body


async def test_forbidden_is_a_rejection(yookassa: YooKassaClient, sim: YooKassaSimulator) -> None:
    sim.forbid()

    with pytest.raises(RejectedError) as refused:
        await create(yookassa)

    assert refused.value.status == 403 and sim.payments == {}


@pytest.mark.parametrize("failure", ["fail_5xx", "rate_limit", "outcome_unknown"])
async def test_busy_or_unsure_answers_are_retryable_and_a_retry_with_the_key_creates_once(
    yookassa: YooKassaClient, sim: YooKassaSimulator, failure: str
) -> None:
    getattr(sim, failure)()

    with pytest.raises(RetryableError):
        await create(yookassa, idempotence_key="order-42-attempt-1")
    payment = await create(yookassa, idempotence_key="order-42-attempt-1")

    assert list(sim.payments) == [payment.id]


async def test_a_202_says_when_to_retry(yookassa: YooKassaClient, sim: YooKassaSimulator) -> None:
    sim.outcome_unknown()

    with pytest.raises(RetryableError) as busy:
        await create(yookassa)

    assert busy.value.retry_after == 1.8


async def test_a_500_after_the_payment_was_made_is_retried_into_the_same_payment(
    yookassa: YooKassaClient, sim: YooKassaSimulator
) -> None:
    sim.fail_5xx(after_processing=True)

    with pytest.raises(RetryableError):
        await create(yookassa, idempotence_key="order-42-attempt-1")
    made = list(sim.payments)
    payment = await create(yookassa, idempotence_key="order-42-attempt-1")

    assert made == list(sim.payments) == [payment.id]


async def test_a_timeout_is_retryable(sim: YooKassaSimulator, base_url: str) -> None:
    sim.slow(0.5)
    async with YooKassaClient(base_url, sim.shop_id, sim.secret_key, timeout=0.1) as impatient:
        with pytest.raises(RetryableError):
            await impatient.get_payment("2419a771-000f-5000-9000-1edaf29243f2")
    sim.slow(0)


async def test_a_refused_connection_is_retryable(sim: YooKassaSimulator) -> None:
    async with LocalServer(sim.app) as gone:
        pass  # started and stopped: nothing listens on its port now

    async with YooKassaClient(f"{gone.url}/v3/", sim.shop_id, sim.secret_key) as client:
        with pytest.raises(RetryableError):
            await create(client)
