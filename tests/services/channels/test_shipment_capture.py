"""A two-stage payment still only authorised when its order ships is captured through the
outbox, and its closing receipt (with the units' codes) follows the capture, never before."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from app.devtools.simulators.yookassa import YooKassaSimulator
from app.domain.order_status import Reported
from app.domain.outbox import EventKind, EventState, RetryPolicy, Target
from app.domain.payments import PaymentStatus
from app.integrations.payments.yookassa.receipts import YooKassaReceipts
from app.models.orders import OrderLine, Payment
from app.models.outbox import OutboxEvent
from app.services.channels.order_status import StatusUpdate
from app.services.outbox.delivery import Senders, deliver_aggregate
from app.services.payments import admin
from tests.services.channels.conftest import AT, NOW, M, S
from tests.services.channels.yookassa_orders import (
    CODES,
    YooOrder,
    paid_by_yookassa,
    simulator_client,
)

pytestmark = pytest.mark.usefixtures("db")
M1, M2, S1 = CODES


@pytest.fixture
async def authorised() -> AsyncIterator[YooOrder]:
    """Two M and one S, authorised through YooKassa (two-stage), not captured."""
    sim = YooKassaSimulator()
    client = simulator_client(sim)
    paid = await paid_by_yookassa(sim, client, capture=False)
    assert (await _payment(paid)).status is PaymentStatus.WAITING_FOR_CAPTURE
    yield paid
    await client.aclose()
    await sim.aclose()


def _shipped(order: YooOrder) -> StatusUpdate:
    codes = [(M, M1), (M, M2), (S, S1)]
    return StatusUpdate(order.order.guid, Reported.SHIPPED, AT, carrier="СДЭК", marking_codes=codes)


async def _payment(order: YooOrder) -> Payment:
    return await Payment.get(order_id=order.order.id)


async def _events() -> list[tuple[EventKind, EventState]]:
    rows = await OutboxEvent.filter(target=Target.RECEIPTS).order_by("id")
    return [(e.kind, e.state) for e in rows]


async def test_the_shipment_writes_the_capture_first_and_the_closing_receipt_after_it(
    authorised: YooOrder,
) -> None:
    await authorised.report(_shipped(authorised))

    assert await _events() == [
        (EventKind.SHIPMENT_CAPTURE, EventState.PENDING),
        (EventKind.CLOSING_RECEIPT, EventState.PENDING),
    ]
    assert (await _payment(authorised)).status is PaymentStatus.WAITING_FOR_CAPTURE


async def test_delivery_captures_the_payment_then_registers_the_receipt_with_codes(
    authorised: YooOrder,
) -> None:
    await authorised.report(_shipped(authorised))

    delivered = await authorised.deliver_receipts()

    assert delivered == 2
    payment = await _payment(authorised)
    assert (payment.status, payment.amount) == (PaymentStatus.SUCCEEDED, 1497000)
    [remote] = authorised.sim.payments.values()
    assert (remote["status"], remote["amount"]["value"]) == ("succeeded", "14970.00")
    assert authorised.sim.capture_receipts == {}  # a full capture takes no receipt data
    [receipt] = authorised.sim.receipts.values()
    assert receipt["payment_id"] == remote["id"]
    assert receipt["settlements"] == [
        {"type": "prepayment", "amount": {"value": "14970.00", "currency": "RUB"}}
    ]
    codes = [(i["mark_code_info"]["gs_1m"], i["payment_mode"]) for i in receipt["items"]]
    assert codes == [(M1, "full_payment"), (M2, "full_payment"), (S1, "full_payment")]
    assert await _events() == [
        (EventKind.SHIPMENT_CAPTURE, EventState.DELIVERED),
        (EventKind.CLOSING_RECEIPT, EventState.DELIVERED),
    ]


async def test_a_capture_delivered_again_captures_once(authorised: YooOrder) -> None:
    await authorised.report(_shipped(authorised))
    await authorised.deliver_receipts()
    await OutboxEvent.filter(kind=EventKind.SHIPMENT_CAPTURE).update(state=EventState.PENDING)
    captures_before = [r for r in authorised.sim.requests if r[1].endswith("/capture")]

    await authorised.deliver_receipts()

    captures_after = [r for r in authorised.sim.requests if r[1].endswith("/capture")]
    assert (len(captures_before), len(captures_after)) == (1, 1)  # captured already: no call
    assert len(authorised.sim.receipts) == 1


async def test_a_payment_the_finance_team_captured_meanwhile_is_not_captured_again(
    authorised: YooOrder,
) -> None:
    await authorised.report(_shipped(authorised))
    payment = await _payment(authorised)
    await admin.capture(
        payment_guid=payment.guid, amount=None, providers=lambda _: authorised.provider, now=NOW
    )

    delivered = await authorised.deliver_receipts()

    assert delivered == 2
    assert len([r for r in authorised.sim.requests if r[1].endswith("/capture")]) == 1
    assert len(authorised.sim.receipts) == 1


async def test_an_authorisation_that_ran_out_parks_the_capture_and_holds_the_receipt(
    authorised: YooOrder,
) -> None:
    await authorised.report(_shipped(authorised))
    payment = await _payment(authorised)
    assert payment.provider_payment_id is not None
    await authorised.sim.expire_authorisation(payment.provider_payment_id)

    delivered = await authorised.deliver_receipts()

    assert delivered == 0
    assert await _events() == [
        (EventKind.SHIPMENT_CAPTURE, EventState.DEAD),
        (EventKind.CLOSING_RECEIPT, EventState.PENDING),  # behind the dead letter
    ]
    assert authorised.sim.receipts == {}


async def test_without_captures_set_up_the_capture_waits_and_nothing_is_registered(
    authorised: YooOrder,
) -> None:
    await authorised.report(_shipped(authorised))

    outcome = await deliver_aggregate(
        target=Target.RECEIPTS,
        aggregate=f"order:{authorised.order.guid}",
        senders=Senders(receipts=YooKassaReceipts(authorised.client, vat_code=11)),
        policy=RetryPolicy(),
        clock=lambda: NOW,
    )

    assert outcome.delivered == 0 and outcome.retry_at is not None
    assert await _events() == [
        (EventKind.SHIPMENT_CAPTURE, EventState.PENDING),
        (EventKind.CLOSING_RECEIPT, EventState.PENDING),
    ]
    assert authorised.sim.receipts == {}


async def test_a_unit_no_warehouse_had_is_left_out_of_the_capture_and_its_receipt(
    authorised: YooOrder,
) -> None:
    # given the S dress became unavailable (no warehouse had it) before the order shipped
    await OrderLine.filter(order_id=authorised.order.id, variant__guid=S).update(unavailable=1)
    codes = [(M, M1), (M, M2)]
    shipped = StatusUpdate(
        authorised.order.guid, Reported.SHIPPED, AT, carrier="СДЭК", marking_codes=codes
    )

    # when it ships and the receipts' events are delivered
    await authorised.report(shipped)
    delivered = await authorised.deliver_receipts()

    # then the capture took the two M dresses, with their receipt, and the closing receipt too
    assert delivered == 2
    payment = await _payment(authorised)
    assert (payment.status, payment.amount) == (PaymentStatus.SUCCEEDED, 998000)
    [capture_receipt] = authorised.sim.capture_receipts.values()
    assert [(i["quantity"], i["amount"]["value"]) for i in capture_receipt["items"]] == [
        ("2.00", "4990.00")
    ]
    [receipt] = authorised.sim.receipts.values()
    assert receipt["settlements"][0]["amount"]["value"] == "9980.00"
    assert [i["mark_code_info"]["gs_1m"] for i in receipt["items"]] == [M1, M2]
