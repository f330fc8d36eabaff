"""What the payment service needs from any provider, in provider-neutral values."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from app.domain.payments import PaymentStatus, RefundStatus


@dataclass(frozen=True)
class ReceiptLine:
    """One line of the 54-FZ receipt: the price of one unit as sold."""

    description: str
    quantity: int
    unit_price_kopecks: int
    mark_code: str | None = None  # a marked unit's code (Честный ЗНАК): a line of quantity 1


@dataclass(frozen=True)
class ReceiptData:
    """A 54-FZ receipt for a capture or refund: its lines add up to the amount."""

    lines: Sequence[ReceiptLine]
    email: str | None = None
    phone: str | None = None  # E.164
    # the goods are the buyer's already (shipped, delivered, back from them): the receipt is
    # a settlement; before the handover it is a prepayment (54-FZ, `domain.orders.handed_over`)
    handed_over: bool = False


@dataclass(frozen=True)
class PaymentRequest:
    payment_guid: (
        str  # our payment GUID: the Idempotence-Key, so a retried call never charges twice
    )
    order_guid: str
    order_number: str
    amount_kopecks: int
    description: str
    return_url: str
    receipt: Sequence[ReceiptLine] = ()
    email: str | None = None
    phone: str | None = None  # E.164
    card_number: str | None = None  # only the dummy provider takes a card number


@dataclass(frozen=True)
class ProviderPayment:
    id: str
    status: PaymentStatus  # as the provider reports it: never REFUNDED (see refunded_kopecks)
    amount_kopecks: int  # authorised, then as captured
    currency: str = "RUB"
    refunded_kopecks: int = 0
    payment_guid: str | None = None  # ours, echoed from the metadata we sent
    confirmation_url: str | None = None  # where to send the shopper to pay, if anywhere
    cancellation_reason: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ProviderRefund:
    id: str
    payment_id: str
    status: RefundStatus
    amount_kopecks: int


class PaymentProvider(Protocol):
    """Errors: app.integrations.errors RetryableError (try again with the same key) and
    RejectedError (the provider refused; retrying will not help)."""

    name: str

    async def create_payment(self, request: PaymentRequest) -> ProviderPayment: ...

    async def get_payment(self, payment_id: str) -> ProviderPayment: ...

    async def capture_payment(
        self,
        payment_id: str,
        *,
        amount_kopecks: int | None,
        idempotency_key: str,
        receipt: ReceiptData | None = None,
    ) -> ProviderPayment: ...

    async def cancel_payment(self, payment_id: str, *, idempotency_key: str) -> ProviderPayment: ...

    async def refund_payment(
        self,
        payment_id: str,
        *,
        amount_kopecks: int,
        idempotency_key: str,
        description: str,
        receipt: ReceiptData | None = None,
    ) -> ProviderRefund: ...

    async def get_refund(self, refund_id: str) -> ProviderRefund: ...
