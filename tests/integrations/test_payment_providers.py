"""The two providers behind our PaymentProvider interface: `yookassa` against the YooKassa
simulator over real HTTP, and the offline `dummy`."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from app.devtools.simulators.server import LocalServer
from app.devtools.simulators.yookassa import YooKassaSimulator
from app.domain.payments import PaymentStatus, RefundStatus
from app.integrations.errors import RejectedError
from app.integrations.payments.base import (
    PaymentProvider,
    PaymentRequest,
    ReceiptData,
    ReceiptLine,
)
from app.integrations.payments.dummy import AUTHORISES, SUCCEEDS, DummyProvider
from app.integrations.payments.yookassa.client import YooKassaClient
from app.integrations.payments.yookassa.provider import YooKassaProvider


def request(amount: int = 998000, card: str | None = None) -> PaymentRequest:
    return PaymentRequest(
        payment_guid=str(uuid.uuid4()),
        order_guid=str(uuid.uuid4()),
        order_number="V-000042",
        amount_kopecks=amount,
        description="Заказ V-000042",
        return_url="https://shop.example/thanks",
        receipt=[ReceiptLine("Платье", 2, amount // 2)],
        email="anna@example.com",
        phone="+79161234567",
        card_number=card,
    )


def receipt(kopecks: int) -> ReceiptData:
    """What a refund or partial capture of a payment made with a receipt must carry."""
    return ReceiptData([ReceiptLine("Платье", 1, kopecks)], "anna@example.com")


@pytest.fixture
async def yookassa() -> AsyncIterator[tuple[YooKassaSimulator, YooKassaProvider]]:
    sim = YooKassaSimulator()
    async with LocalServer(sim.app) as server:
        client = YooKassaClient(f"{server.url}/v3/", sim.shop_id, sim.secret_key)
        provider = YooKassaProvider(client, capture=True, vat_code=11)
        yield sim, provider
        await provider.aclose()


async def test_yookassa_creates_a_redirect_payment_that_names_our_guid(
    yookassa: tuple[YooKassaSimulator, YooKassaProvider],
) -> None:
    sim, provider = yookassa
    asked = request()

    created = await provider.create_payment(asked)
    again = await provider.create_payment(asked)

    assert (created.status, created.amount_kopecks, created.payment_guid) == (
        PaymentStatus.PENDING,
        998000,
        asked.payment_guid,
    )
    assert created.confirmation_url is not None and created.id in created.confirmation_url
    assert again == created and len(sim.payments) == 1  # same Idempotence-Key
    assert sim.payments[created.id]["metadata"] == {
        "payment_guid": asked.payment_guid,
        "order_guid": asked.order_guid,
        "order_number": "V-000042",
    }


async def test_yookassa_reads_refunds_back_partial_then_full(
    yookassa: tuple[YooKassaSimulator, YooKassaProvider],
) -> None:
    sim, provider = yookassa
    created = await provider.create_payment(request())
    await sim.pay(created.id)

    part = await provider.refund_payment(
        created.id,
        amount_kopecks=100000,
        idempotency_key="r-1",
        description="one returned",
        receipt=receipt(100000),
    )
    after_part = await provider.get_payment(created.id)
    await provider.refund_payment(
        created.id,
        amount_kopecks=898000,
        idempotency_key="r-2",
        description="the rest",
        receipt=receipt(898000),
    )
    after_all = await provider.get_payment(created.id)

    assert (part.status, part.amount_kopecks, part.payment_id) == (
        RefundStatus.SUCCEEDED,
        100000,
        created.id,
    )
    assert await provider.get_refund(part.id) == part
    assert (after_part.status, after_part.refunded_kopecks) == (PaymentStatus.SUCCEEDED, 100000)
    assert after_all.refunded_kopecks == 998000
    with pytest.raises(RejectedError):
        await provider.refund_payment(
            created.id,
            amount_kopecks=1,
            idempotency_key="r-3",
            description="too much",
            receipt=receipt(1),
        )


async def test_yookassa_two_stage_capture_in_part_and_cancel(
    yookassa: tuple[YooKassaSimulator, YooKassaProvider],
) -> None:
    sim, provider = yookassa
    provider.capture = False
    first = await provider.create_payment(request())
    second = await provider.create_payment(request())
    await sim.pay(first.id)
    await sim.pay(second.id)

    captured = await provider.capture_payment(
        first.id, amount_kopecks=499000, idempotency_key="c1", receipt=receipt(499000)
    )
    cancelled = await provider.cancel_payment(second.id, idempotency_key="v1")

    assert (captured.status, captured.amount_kopecks) == (PaymentStatus.SUCCEEDED, 499000)
    assert (cancelled.status, cancelled.cancellation_reason) == (
        PaymentStatus.CANCELLED,
        "canceled_by_merchant",
    )


async def test_yookassa_does_not_know_a_made_up_payment(
    yookassa: tuple[YooKassaSimulator, YooKassaProvider],
) -> None:
    _, provider = yookassa
    with pytest.raises(RejectedError) as unknown:
        await provider.get_payment(str(uuid.uuid4()))
    assert unknown.value.status == 404


async def test_the_dummy_provider_plays_every_step_offline() -> None:
    provider: PaymentProvider = DummyProvider()
    paid = await provider.create_payment(request(card=SUCCEEDS))
    held = await provider.create_payment(request(card=AUTHORISES))
    declined = await provider.create_payment(request(card="4000000000000002"))

    refund = await provider.refund_payment(
        paid.id, amount_kopecks=1000, idempotency_key="r-1", description=""
    )
    repeat = await provider.refund_payment(
        paid.id, amount_kopecks=1000, idempotency_key="r-1", description=""
    )
    captured = await provider.capture_payment(held.id, amount_kopecks=None, idempotency_key="c")

    assert (paid.status, held.status, declined.status) == (
        PaymentStatus.SUCCEEDED,
        PaymentStatus.WAITING_FOR_CAPTURE,
        PaymentStatus.CANCELLED,
    )
    assert repeat == refund and (await provider.get_payment(paid.id)).refunded_kopecks == 1000
    assert (captured.status, captured.amount_kopecks) == (PaymentStatus.SUCCEEDED, 998000)
    with pytest.raises(RejectedError):
        await provider.cancel_payment(paid.id, idempotency_key="v")
