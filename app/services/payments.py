"""Take payment for an order through a provider; a success marks the order paid."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from app.domain.errors import DomainError, ErrorCode
from app.domain.outbound import OrderStatus, PaymentStatus
from app.integrations.payments.base import PaymentProvider, PaymentRequest
from app.models.orders import Order, Payment
from app.services.orders import expire_order, find_order, move_order


@dataclass(frozen=True)
class PaymentOutcome:
    order: Order
    payment: Payment


async def pay_order(
    *,
    order_token: str,
    provider: PaymentProvider,
    return_url: str,
    now: datetime,
    card_number: str | None = None,
) -> PaymentOutcome:
    """Start (and with the dummy provider, finish) paying an order awaiting payment."""
    order = await find_order(order_token)
    if await expire_order(order_id=order.id, now=now):
        order = await find_order(order_token)
    if order.status != OrderStatus.AWAITING_PAYMENT:
        raise DomainError(
            ErrorCode.INVALID_TRANSITION, f"the order is {order.status.value}", ("orderToken",)
        )
    guid = str(uuid.uuid4())
    answer = await provider.create_payment(
        PaymentRequest(
            order_guid=order.guid,
            order_number=order.number,
            amount_kopecks=order.total,
            description=f"Заказ {order.number}",
            return_url=return_url,
            idempotency_key=guid,
            card_number=card_number,
        )
    )
    payment = await Payment.create(
        guid=guid,
        order_id=order.id,
        provider=provider.name,
        provider_payment_id=answer.id,
        status=answer.status,
        amount=order.total,
        confirmation_url=answer.confirmation_url,
    )
    await apply_payment_status(payment=payment, status=answer.status, now=now)
    return PaymentOutcome(await Order.get(id=order.id), payment)


async def apply_payment_status(*, payment: Payment, status: PaymentStatus, now: datetime) -> None:
    """Record what the provider says; a success moves a waiting order to paid, once."""
    await Payment.filter(id=payment.id).update(status=status)
    payment.status = status
    if status is PaymentStatus.SUCCEEDED:
        order = await Order.get(id=payment.order_id)
        if order.status == OrderStatus.AWAITING_PAYMENT:
            await move_order(order, OrderStatus.PAID, reason=f"paid ({payment.provider})", now=now)
