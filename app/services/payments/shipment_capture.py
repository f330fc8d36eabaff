"""Capture a two-stage payment when its order ships (the outbox's SHIPMENT_CAPTURE events).

The event was written with the shipment; delivering it asks the provider to capture, with an
idempotency key of the payment and amount (the finance team's capture of the same amount uses
the same key, so the two collapse into one), and applies the answer under the order's lock
(`apply_report`). A payment captured meanwhile is done; one released meanwhile cannot be
captured: the event parks, and the closing receipt behind it in the aggregate waits with it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

import structlog

from app.domain.closing_receipt import ShipmentCaptureRecord
from app.domain.payments import PaymentStatus
from app.integrations.errors import RejectedError, RetryableError
from app.integrations.payments.base import PaymentProvider, ReceiptData, ReceiptLine
from app.models.orders import Payment
from app.services.payments.apply import PaymentMismatch, apply_report

log = structlog.get_logger(__name__)
ProviderFor = Callable[[str], PaymentProvider | None]


class ShipmentCaptures:
    """The outbox's sender of SHIPMENT_CAPTURE events."""

    def __init__(
        self, providers: ProviderFor, closing: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        self._providers = providers
        self._closing = closing

    async def aclose(self) -> None:
        if self._closing is not None:
            await self._closing()

    async def capture(self, record: ShipmentCaptureRecord, event_id: str, now: datetime) -> None:
        """Capture the payment (once), or say why it cannot be (typed integration errors)."""
        payment = await Payment.get_or_none(guid=record.payment_guid)
        if payment is None or payment.provider_payment_id is None:
            raise RejectedError(f"no payment {record.payment_guid} to capture", 404, "")
        if payment.status in (PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED):
            return  # captured already (by the finance team, or an answer we lost and re-read)
        if payment.status is not PaymentStatus.WAITING_FOR_CAPTURE:
            log.error("shipment.capture_impossible", payment=payment.guid, status=payment.status)
            message = f"the payment is {payment.status.value}: the shipped order is not paid"
            raise RejectedError(message, 409, "")
        provider = self._providers(payment.provider)
        if provider is None:
            raise RetryableError(f"{payment.provider} is not configured here")
        view = await provider.capture_payment(
            payment.provider_payment_id,
            amount_kopecks=record.amount_kopecks,
            idempotency_key=f"capture-{payment.guid}-{record.amount_kopecks or 'all'}",
            receipt=_receipt(record),
        )
        try:
            await apply_report(payment=payment, view=view, now=now, captured=record.amount_kopecks)
        except PaymentMismatch as error:  # logged by the check: a person must look at it
            raise RejectedError(f"captured payment does not match: {error}", 409, "") from error


def _receipt(record: ShipmentCaptureRecord) -> ReceiptData | None:
    """A partial capture's receipt: the shipped units, or one line for the part when they do
    not add up to it (a delivery fee in the amount)."""
    if record.amount_kopecks is None:
        return None
    lines = [ReceiptLine(i.description, i.quantity, i.unit_price_kopecks) for i in record.items]
    if sum(line.quantity * line.unit_price_kopecks for line in lines) != record.amount_kopecks:
        lines = [ReceiptLine(f"Заказ {record.order_guid[:8]}", 1, record.amount_kopecks)]
    return ReceiptData(lines, record.email, record.phone)
