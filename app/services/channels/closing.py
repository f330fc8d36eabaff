"""The closing receipt of a prepaid order, written to the outbox when the order ships.

A two-stage payment still only authorised when the order ships is captured first, through
the outbox too (`SHIPMENT_CAPTURE`, in the same aggregate as the receipt, so the receipt goes
only after the capture succeeded; a capture refused, e.g. an authorisation that ran out, parks
and holds the receipt back). Why capture, then a closing receipt, and not a receipt attached to
the capture: YooKassa registers a two-stage payment's receipt (sent with the payment) at its
capture and takes receipt data at capture only for a partial one; the closing receipt, with
each unit's marking code, is always a request of its own (`POST receipts`), and it needs a
succeeded payment. So both paths, one- and two-stage, end in the same closing receipt.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from app.domain.closing_receipt import (
    ClosingReceiptRecord,
    ShipmentCaptureRecord,
    ShippedLine,
    closing_items,
)
from app.domain.outbox import EventKind, Target, aggregate_key
from app.domain.payments import PaymentStatus
from app.domain.shop_confirmation import capturable
from app.models.orders import Order, OrderLine, Payment
from app.models.outbox import OutboxEvent
from app.services.outbox.record import write_event
from app.services.shops.progress import line_facts

RECEIPT_PROVIDERS = frozenset({"yookassa"})  # those that register receipts for us
_PAID = (PaymentStatus.SUCCEEDED, PaymentStatus.WAITING_FOR_CAPTURE)


async def record_closing_receipt(
    order: Order, codes: Sequence[tuple[int, str]], *, now: datetime
) -> OutboxEvent | None:
    """In the shipment's transaction: the receipt settling the prepayment, one item per coded
    unit, after the capture of a payment still only authorised. None when no payment of a
    receipt-sending provider holds the order's money (the dummy provider in development;
    cash on delivery is 1C's till's to fiscalise)."""
    payment = (
        await Payment.filter(
            order_id=order.id,
            surplus=False,
            status__in=list(_PAID),
            provider__in=sorted(RECEIPT_PROVIDERS),
            provider_payment_id__not_isnull=True,
        )
        .order_by("id")
        .first()
    )
    if payment is None or payment.provider_payment_id is None:
        return None
    by_variant: dict[int, list[str]] = {}
    for variant, code in codes:
        by_variant.setdefault(variant, []).append(code)
    lines = await _shipped_lines(order)
    aggregate = aggregate_key(EventKind.CLOSING_RECEIPT, None, order.guid)
    if payment.status is PaymentStatus.WAITING_FOR_CAPTURE:
        capture = await _capture_record(order, payment, lines)
        await write_event(Target.RECEIPTS, aggregate, EventKind.SHIPMENT_CAPTURE, capture, now)
    record = ClosingReceiptRecord(
        order_guid=order.guid,
        payment_guid=payment.guid,
        provider=payment.provider,
        provider_payment_id=payment.provider_payment_id,
        email=order.email,
        phone=order.phone,
        items=closing_items(lines, by_variant),
    )
    return await write_event(Target.RECEIPTS, aggregate, EventKind.CLOSING_RECEIPT, record, now)


async def _shipped_lines(order: Order) -> list[ShippedLine]:
    return [
        ShippedLine(
            line.variant_id, line.product_name, line.quantity - line.unavailable, line.unit_price
        )
        for line in await OrderLine.filter(order_id=order.id).order_by("id")
        if line.quantity > line.unavailable
    ]


async def _capture_record(
    order: Order, payment: Payment, lines: Sequence[ShippedLine]
) -> ShipmentCaptureRecord:
    """All that is still served (the admin capture's rule); a part carries its receipt."""
    assert payment.provider_payment_id is not None  # the caller's filter
    most = capturable(payment.amount, (await line_facts(order.id)).values())
    partial = None if most == payment.amount else most
    items = closing_items(lines, {}) if partial is not None else []
    return ShipmentCaptureRecord(
        order_guid=order.guid,
        payment_guid=payment.guid,
        provider=payment.provider,
        provider_payment_id=payment.provider_payment_id,
        amount_kopecks=partial,
        email=order.email,
        phone=order.phone,
        items=items,
    )
