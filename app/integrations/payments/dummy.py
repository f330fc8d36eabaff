"""A provider for offline development and tests: the card number decides what happens."""

from __future__ import annotations

import uuid
from dataclasses import replace

from app.domain.payments import PaymentStatus, RefundStatus
from app.integrations.errors import RejectedError
from app.integrations.payments.base import (
    PaymentRequest,
    ProviderPayment,
    ProviderRefund,
    ReceiptData,
)

SUCCEEDS = "4242424242424242"
DECLINED = "4000000000000002"
STAYS_PENDING = "4000000000000077"
AUTHORISES = "4000000000000044"  # waits for capture (two-stage payment)


class DummyProvider:
    """Succeeds, authorises, stays pending or declines by card number (others: declined).

    State lives in this process only: payments made elsewhere are unknown here.
    """

    name = "dummy"

    def __init__(self) -> None:
        self._payments: dict[str, ProviderPayment] = {}
        self._refunds: dict[str, ProviderRefund] = {}
        self._by_key: dict[str, str] = {}

    async def create_payment(self, request: PaymentRequest) -> ProviderPayment:
        if request.payment_guid in self._by_key:
            return self._payments[self._by_key[request.payment_guid]]
        number = (request.card_number or "").replace(" ", "")
        status = {
            SUCCEEDS: PaymentStatus.SUCCEEDED,
            STAYS_PENDING: PaymentStatus.PENDING,
            AUTHORISES: PaymentStatus.WAITING_FOR_CAPTURE,
        }.get(number, PaymentStatus.CANCELLED)
        payment = ProviderPayment(
            id=f"dummy-{uuid.uuid4().hex}",
            status=status,
            amount_kopecks=request.amount_kopecks,
            payment_guid=request.payment_guid,
            cancellation_reason="card_expired" if status is PaymentStatus.CANCELLED else None,
        )
        self._by_key[request.payment_guid] = payment.id
        return self._keep(payment)

    async def get_payment(self, payment_id: str) -> ProviderPayment:
        if payment_id not in self._payments:
            raise RejectedError(f"no payment {payment_id}", 404, "")
        return self._payments[payment_id]

    async def capture_payment(
        self,
        payment_id: str,
        *,
        amount_kopecks: int | None,
        idempotency_key: str,
        receipt: ReceiptData | None = None,
    ) -> ProviderPayment:
        payment = await self._in(payment_id, PaymentStatus.WAITING_FOR_CAPTURE)
        amount = payment.amount_kopecks if amount_kopecks is None else amount_kopecks
        if amount > payment.amount_kopecks:
            raise RejectedError("capture exceeds the authorised amount", 400, "")
        return self._keep(replace(payment, status=PaymentStatus.SUCCEEDED, amount_kopecks=amount))

    async def cancel_payment(self, payment_id: str, *, idempotency_key: str) -> ProviderPayment:
        payment = await self._in(payment_id, PaymentStatus.WAITING_FOR_CAPTURE)
        return self._keep(replace(payment, status=PaymentStatus.CANCELLED))

    async def refund_payment(
        self,
        payment_id: str,
        *,
        amount_kopecks: int,
        idempotency_key: str,
        description: str,
        receipt: ReceiptData | None = None,
    ) -> ProviderRefund:
        if idempotency_key in self._refunds:
            return self._refunds[idempotency_key]
        payment = await self._in(payment_id, PaymentStatus.SUCCEEDED)
        refunded = payment.refunded_kopecks + amount_kopecks
        if refunded > payment.amount_kopecks:
            raise RejectedError("refunds would exceed the amount paid", 400, "")
        self._keep(replace(payment, refunded_kopecks=refunded))
        refund = ProviderRefund(
            f"dummy-refund-{uuid.uuid4().hex}", payment_id, RefundStatus.SUCCEEDED, amount_kopecks
        )
        self._refunds[idempotency_key] = self._refunds[refund.id] = refund
        return refund

    async def get_refund(self, refund_id: str) -> ProviderRefund:
        if refund_id not in self._refunds:
            raise RejectedError(f"no refund {refund_id}", 404, "")
        return self._refunds[refund_id]

    def complete(self, payment_id: str) -> ProviderPayment:
        """The payer finishes a pending payment (what a notification would then report)."""
        payment = self._payments[payment_id]
        return self._keep(replace(payment, status=PaymentStatus.SUCCEEDED))

    async def _in(self, payment_id: str, status: PaymentStatus) -> ProviderPayment:
        payment = await self.get_payment(payment_id)
        if payment.status is not status:
            raise RejectedError(f"the payment is {payment.status.value}", 400, "")
        return payment

    def _keep(self, payment: ProviderPayment) -> ProviderPayment:
        self._payments[payment.id] = payment
        return payment
