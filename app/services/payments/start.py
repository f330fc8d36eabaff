"""Take payment for an order: the payment row first, then the provider, repeat-safe by key."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import structlog
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app.domain.errors import DomainError, ErrorCode
from app.domain.idempotency import check_idempotency_key
from app.domain.orders import OrderStatus
from app.domain.payments import PaymentStatus
from app.integrations.errors import RejectedError, RetryableError
from app.integrations.payments.base import PaymentProvider, PaymentRequest
from app.models.orders import Order, Payment
from app.services.checkout.orders import expire_order, find_order
from app.services.jobs import JobQueue
from app.services.payments.apply import after_commit, apply_report
from app.services.payments.receipts import receipt_for

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class PaymentOutcome:
    order: Order
    payment: Payment


async def pay_order(
    *,
    order_token: str,
    idempotency_key: str,
    provider: PaymentProvider,
    return_url: str,
    now: datetime,
    jobs: JobQueue,
    card_number: str | None = None,
) -> PaymentOutcome:
    """Start paying an order awaiting payment (the dummy provider finishes at once).

    The same key returns the same payment, and asks the provider again only if it never
    answered: a double click or a retry after a timeout never charges twice.
    """
    key = check_idempotency_key(idempotency_key)
    order = await find_order(order_token)
    if await expire_order(order_id=order.id, now=now):
        order = await find_order(order_token)
    payment = await Payment.get_or_none(order_id=order.id, idempotency_key=key)
    if payment is None:
        _check_payable(order)
        payment = await _new_payment(order, key, provider.name)
    if payment.provider_payment_id is None and payment.status is PaymentStatus.PENDING:
        payment = await _ask_provider(payment, order, provider, return_url, card_number, now)
    changed = payment.status is not PaymentStatus.PENDING  # a pending payment wrote no event
    await after_commit(payment, provider, now, jobs, changed=changed)
    return PaymentOutcome(await Order.get(id=order.id), await Payment.get(id=payment.id))


def _check_payable(order: Order) -> None:
    if order.status != OrderStatus.AWAITING_PAYMENT:
        raise DomainError(
            ErrorCode.INVALID_TRANSITION, f"the order is {order.status.value}", ("orderToken",)
        )


async def _new_payment(order: Order, key: str, provider: str) -> Payment:
    try:
        async with in_transaction():
            return await Payment.create(
                guid=str(uuid.uuid4()),
                order_id=order.id,
                idempotency_key=key,
                provider=provider,
                status=PaymentStatus.PENDING,
                amount=order.total,
            )
    except IntegrityError:  # the same key, a moment ago (a double click)
        return await Payment.get(order_id=order.id, idempotency_key=key)


async def _ask_provider(
    payment: Payment,
    order: Order,
    provider: PaymentProvider,
    return_url: str,
    card_number: str | None,
    now: datetime,
) -> Payment:
    try:
        answer = await provider.create_payment(
            await payment_request(payment, order, return_url, card_number)
        )
    except RetryableError as error:
        log.warning("payment.create_unanswered", payment=payment.guid, error=str(error))
        raise DomainError(
            ErrorCode.PAYMENT_PROVIDER_UNAVAILABLE,
            "the payment service did not answer; try again with the same idempotencyKey",
            ("idempotencyKey",),
        ) from None
    except RejectedError as error:
        log.error("payment.create_rejected", payment=payment.guid, error=str(error))
        await Payment.filter(id=payment.id, status=PaymentStatus.PENDING).update(
            status=PaymentStatus.CANCELLED, cancellation_reason="rejected by the provider"
        )
        raise DomainError(
            ErrorCode.PAYMENT_REJECTED, "the payment service refused this payment", ("orderToken",)
        ) from None
    # Written only if still unset: a notification that came first may have attached it already.
    await Payment.filter(id=payment.id, provider_payment_id=None).update(
        provider_payment_id=answer.id, confirmation_url=answer.confirmation_url
    )
    payment = await Payment.get(id=payment.id)
    return (await apply_report(payment=payment, view=answer, now=now)).payment


async def payment_request(
    payment: Payment, order: Order, return_url: str, card_number: str | None
) -> PaymentRequest:
    """What the provider is asked for: the amount, and a receipt line per order line."""
    receipt = await receipt_for(order, payment.amount)
    return PaymentRequest(
        payment_guid=payment.guid,
        order_guid=order.guid,
        order_number=order.number,
        amount_kopecks=payment.amount,
        description=f"Заказ {order.number}",
        return_url=return_url,
        receipt=receipt.lines,
        email=receipt.email,
        phone=receipt.phone,
        card_number=card_number,
    )
