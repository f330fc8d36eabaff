"""A provider for development and tests: the card number decides what happens."""

from __future__ import annotations

import uuid

from app.domain.outbound import PaymentStatus
from app.integrations.payments.base import PaymentRequest, ProviderPayment

SUCCEEDS = "4242424242424242"
DECLINED = "4000000000000002"
STAYS_PENDING = "4000000000000077"


class DummyProvider:
    """Succeeds, fails or stays pending by card number (anything else is declined)."""

    name = "dummy"

    def __init__(self) -> None:
        self._payments: dict[str, ProviderPayment] = {}
        self._by_key: dict[str, str] = {}

    async def create_payment(self, request: PaymentRequest) -> ProviderPayment:
        if request.idempotency_key in self._by_key:
            return self._payments[self._by_key[request.idempotency_key]]
        number = (request.card_number or "").replace(" ", "")
        status = {
            SUCCEEDS: PaymentStatus.SUCCEEDED,
            STAYS_PENDING: PaymentStatus.PENDING,
        }.get(number, PaymentStatus.CANCELED)
        payment = ProviderPayment(id=f"dummy-{uuid.uuid4().hex}", status=status)
        self._payments[payment.id] = payment
        self._by_key[request.idempotency_key] = payment.id
        return payment

    async def get_payment(self, payment_id: str) -> ProviderPayment:
        return self._payments[payment_id]
