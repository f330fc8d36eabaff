"""Refunds written in the caller's transaction; the provider is asked after commit."""

from __future__ import annotations

import uuid

from app.domain.payments import RefundStatus
from app.models.orders import Payment, Refund

AUTO = "auto"  # requested_by of refunds nobody asked for by hand


async def new_refund(
    payment: Payment, amount: int, reason: str, requested_by: str, *, guid: str | None = None
) -> Refund:
    """A refund to ask the provider for, written in the caller's transaction."""
    return await Refund.create(
        guid=guid or str(uuid.uuid4()),
        payment_id=payment.id,
        amount=amount,
        status=RefundStatus.PENDING,
        reason=reason[:250],
        requested_by=requested_by,
    )
