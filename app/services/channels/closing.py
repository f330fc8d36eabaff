"""The closing receipt of a prepaid order, written to the outbox when the order ships."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from app.domain.closing_receipt import ClosingReceiptRecord, ShippedLine, closing_items
from app.domain.outbox import EventKind, Target, aggregate_key
from app.domain.payments import PaymentStatus
from app.models.orders import Order, OrderLine, Payment
from app.models.outbox import OutboxEvent
from app.services.outbox.record import write_event

RECEIPT_PROVIDERS = frozenset({"yookassa"})  # those that register receipts for us


async def record_closing_receipt(
    order: Order, codes: Sequence[tuple[int, str]], *, now: datetime
) -> OutboxEvent | None:
    """In the shipment's transaction: the receipt settling the prepayment, one item per coded
    unit. None when no captured payment of a receipt-sending provider paid the order (the
    dummy provider in development; cash on delivery is 1C's till's to fiscalise)."""
    payment = (
        await Payment.filter(
            order_id=order.id,
            surplus=False,
            status=PaymentStatus.SUCCEEDED,
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
    lines = [
        ShippedLine(
            line.variant_id, line.product_name, line.quantity - line.unavailable, line.unit_price
        )
        for line in await OrderLine.filter(order_id=order.id).order_by("id")
        if line.quantity > line.unavailable
    ]
    record = ClosingReceiptRecord(
        order_guid=order.guid,
        payment_guid=payment.guid,
        provider=payment.provider,
        provider_payment_id=payment.provider_payment_id,
        email=order.email,
        phone=order.phone,
        items=closing_items(lines, by_variant),
    )
    aggregate = aggregate_key(EventKind.CLOSING_RECEIPT, None, order.guid)
    return await write_event(Target.RECEIPTS, aggregate, EventKind.CLOSING_RECEIPT, record, now)
