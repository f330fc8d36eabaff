"""What the payment service needs from any provider."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from app.domain.outbound import PaymentStatus


@dataclass(frozen=True)
class PaymentRequest:
    order_guid: str
    order_number: str
    amount_kopecks: int
    description: str
    return_url: str
    idempotency_key: str  # our payment GUID: a retried call never charges twice
    card_number: str | None = None  # only the dummy provider takes a card number


@dataclass(frozen=True)
class ProviderPayment:
    id: str
    status: PaymentStatus
    confirmation_url: str | None = None  # where to send the shopper to pay, if anywhere


class PaymentProvider(Protocol):
    name: str

    async def create_payment(self, request: PaymentRequest) -> ProviderPayment: ...

    async def get_payment(self, payment_id: str) -> ProviderPayment: ...
