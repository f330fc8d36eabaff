"""Take payment for an order through a provider; a success marks the order paid."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from tortoise.transactions import in_transaction

from app.domain.errors import DomainError, ErrorCode
from app.domain.outbound import OrderStatus, PaymentStatus
from app.domain.outbox import EventKind
from app.integrations.payments.base import PaymentProvider, PaymentRequest, ProviderPayment
from app.models.orders import Order, Payment
from app.services.jobs import JobQueue
from app.services.orders import announce_order, expire_order, find_order, move_order
from app.services.outbox import payment_record, record_event


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
    jobs: JobQueue,
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
    payment = await _record_payment(order, provider.name, guid, answer, now)
    await announce_order(jobs, order)
    return PaymentOutcome(await Order.get(id=order.id), payment)


async def _record_payment(
    order: Order, provider: str, guid: str, answer: ProviderPayment, now: datetime
) -> Payment:
    async with in_transaction():
        payment = await Payment.create(
            guid=guid,
            order_id=order.id,
            provider=provider,
            provider_payment_id=answer.id,
            status=answer.status,
            amount=order.total,
            confirmation_url=answer.confirmation_url,
        )
        await _after_status(payment, order, now)
    return payment


async def apply_payment_status(*, payment: Payment, status: PaymentStatus, now: datetime) -> bool:
    """Record a status the provider reports later; only a change does anything (repeats are
    harmless). A success moves a waiting order to paid, once."""
    async with in_transaction():
        changed = await Payment.filter(id=payment.id).exclude(status=status).update(status=status)
        if not changed:
            return False
        payment.status = status
        await _after_status(payment, await Order.get(id=payment.order_id), now)
    return True


async def _after_status(payment: Payment, order: Order, now: datetime) -> None:
    record = payment_record(payment, order, now)
    await record_event(kind=EventKind.PAYMENT_STATUS_CHANGED, record=record, now=now)
    if payment.status is PaymentStatus.SUCCEEDED and order.status == OrderStatus.AWAITING_PAYMENT:
        await move_order(order, OrderStatus.PAID, reason=f"paid ({payment.provider})", now=now)
