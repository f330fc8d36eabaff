"""Apply what a payment provider says, read from its API: once, in order, under the order lock.

Notification bodies are never trusted; they only say which payment to re-read. Money an order
does not need (its order was cancelled, or another payment paid it first) is given back by
itself, and each such case is logged for the finance team.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import structlog
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from app.domain.orders import OrderStatus
from app.domain.outbox import EventKind
from app.domain.payments import (
    HOLDING,
    PaymentStatus,
    RefundStatus,
    Settlement,
    next_status,
    reported_status,
    settle,
)
from app.integrations.errors import RejectedError, RetryableError
from app.integrations.payments.base import PaymentProvider, ProviderPayment, ProviderRefund
from app.models.orders import Order, Payment, Refund, lock_order
from app.services.checkout.orders import announce_order, cancel_within, move_order
from app.services.jobs import JobQueue
from app.services.outbox.record import payment_record, record_event
from app.services.payments.receipts import refund_receipt
from app.services.payments.refunds import AUTO, new_refund
from app.services.shops.hooks import on_paid

log = structlog.get_logger(__name__)


class UnknownPayment(Exception):
    """The provider object names no payment of ours (forged, or another shop's)."""


class PaymentMismatch(Exception):
    """The provider holds a payment for our row that is not what we asked for."""


@dataclass(frozen=True, kw_only=True)
class Applied:
    payment: Payment
    changed: bool


async def apply_report(
    *, payment: Payment, view: ProviderPayment, now: datetime, captured: int | None = None
) -> Applied:
    """Apply the provider's view of `payment`; only a change does anything.

    `captured`: the amount our own partial capture asked for (the payment then holds less).
    """
    check_matches(payment, view, captured)
    async with in_transaction() as conn:
        await lock_order(conn, payment.order_id)
        row = await Payment.get(id=payment.id)
        order = await Order.get(id=row.order_id)
        changed = await _apply(conn, row, order, view, now)
    return Applied(payment=row, changed=changed)


def check_matches(payment: Payment, view: ProviderPayment, captured: int | None) -> None:
    """The provider's payment must be the one we asked for: same guid, currency and amount."""
    problems = []
    if view.payment_guid is not None and view.payment_guid != payment.guid:
        problems.append(f"metadata names payment {view.payment_guid}")
    if view.currency != "RUB":
        problems.append(f"currency {view.currency}")
    expected = captured if captured is not None else payment.amount
    if view.amount_kopecks != expected:
        problems.append(f"amount {view.amount_kopecks} kopecks, ours {expected}")
    if problems:
        log.error(
            "payment.mismatch",
            payment=payment.guid,
            provider_payment_id=view.id,
            problems=problems,
        )
        raise PaymentMismatch("; ".join(problems))


async def _apply(
    conn: BaseDBAsyncClient, row: Payment, order: Order, view: ProviderPayment, now: datetime
) -> bool:
    target = next_status(
        row.status, reported_status(view.status, view.amount_kopecks, view.refunded_kopecks)
    )
    updates: dict[str, object] = {"checked_at": now}
    if view.refunded_kopecks > row.refunded:
        updates["refunded"] = view.refunded_kopecks
    if view.amount_kopecks != row.amount:
        updates["amount"] = view.amount_kopecks  # our own partial capture
    if target is not None:
        updates["status"] = target
        if target in HOLDING and row.paid_at is None:
            updates["paid_at"] = now
        if target is PaymentStatus.CANCELLED:
            updates["cancellation_reason"] = (view.cancellation_reason or "")[:100] or None
    await Payment.filter(id=row.id).update(**updates)
    was_holding = row.status in HOLDING
    for name, value in updates.items():
        setattr(row, name, value)
    if target is None and "refunded" not in updates and "amount" not in updates:
        return False
    if target in HOLDING and not was_holding:
        await _settle(conn, row, order, now)
    elif target is PaymentStatus.CANCELLED and was_holding and not row.surplus:
        await _money_gone(conn, row, order, now)
    await record_event(
        kind=EventKind.PAYMENT_STATUS_CHANGED, record=payment_record(row, order), now=now
    )
    return True


async def _settle(conn: BaseDBAsyncClient, row: Payment, order: Order, now: datetime) -> None:
    """The payment has just come to hold money: pay the order with it, or give it back."""
    others = Payment.filter(order_id=order.id, status__in=list(HOLDING), surplus=False)
    other_holds = await others.exclude(id=row.id).exists()
    decision = settle(order_status=order.status, payment=row.status, other_holds=other_holds)
    if decision is Settlement.PAYS_ORDER:
        await move_order(order, OrderStatus.PAID, reason=f"paid ({row.provider})", now=now)
        await on_paid(conn, order, now=now)
    elif decision is Settlement.SURPLUS:
        await Payment.filter(id=row.id).update(surplus=True)
        row.surplus = True
        why = "the order was cancelled" if order.status is OrderStatus.CANCELLED else "paid twice"
        action = "refund" if row.status is PaymentStatus.SUCCEEDED else "void"
        if action == "refund":
            await new_refund(row, row.amount - row.refunded, f"automatic: {why}", AUTO)
        log.warning(
            "payment.surplus",
            order=order.number,
            order_status=order.status.value,
            payment=row.guid,
            provider_payment_id=row.provider_payment_id,
            amount=row.amount,
            reason=why,
            action=action,
        )


async def _money_gone(conn: BaseDBAsyncClient, row: Payment, order: Order, now: datetime) -> None:
    """The authorised money that paid the order was released (voided, or the authorisation
    ran out): unless another payment holds money for it, the order cannot be served."""
    others = Payment.filter(order_id=order.id, status__in=list(HOLDING), surplus=False)
    if order.status is OrderStatus.PAID and not await others.exclude(id=row.id).exists():
        await cancel_within(conn, order, reason=f"payment cancelled ({row.provider})", now=now)
        log.warning("payment.order_cancelled", order=order.number, payment=row.guid)


# --- after commit: the provider calls the decisions above asked for ----------------------------


async def after_commit(
    payment: Payment, provider: PaymentProvider, now: datetime, jobs: JobQueue, *, changed: bool
) -> None:
    """Give back surplus money, and wake delivery of what was written (if anything was)."""
    await give_back_surplus(payment=payment, provider=provider, now=now)
    if changed or payment.surplus:
        await announce_order(jobs, await Order.get(id=payment.order_id))


async def give_back_surplus(*, payment: Payment, provider: PaymentProvider, now: datetime) -> None:
    """Void or refund what `payment` holds for nothing; repeat-safe (idempotency keys)."""
    if not payment.surplus or payment.provider_payment_id is None:
        return
    if payment.status is PaymentStatus.WAITING_FOR_CAPTURE:
        try:
            view = await provider.cancel_payment(
                payment.provider_payment_id, idempotency_key=f"void-{payment.guid}"
            )
        except (RetryableError, RejectedError) as error:
            log.warning("payment.void_failed", payment=payment.guid, error=str(error))
            return
        await apply_report(payment=payment, view=view, now=now)
    for refund in await Refund.filter(payment_id=payment.id, status=RefundStatus.PENDING):
        await issue_refund(refund=refund, payment=payment, provider=provider, now=now)


async def issue_refund(
    *, refund: Refund, payment: Payment, provider: PaymentProvider, now: datetime
) -> Refund:
    """Ask the provider for a refund we recorded (again, with the same key, if need be)."""
    if refund.status is not RefundStatus.PENDING or payment.provider_payment_id is None:
        return refund
    receipt = await refund_receipt(await Order.get(id=payment.order_id), refund)
    try:
        answer = await provider.refund_payment(
            payment.provider_payment_id,
            amount_kopecks=refund.amount,
            idempotency_key=refund.guid,
            description=refund.reason,
            receipt=receipt,
        )
    except RetryableError as error:
        log.warning("refund.retry_later", refund=refund.guid, error=str(error))
        return refund
    except RejectedError as error:
        log.error("refund.rejected", refund=refund.guid, payment=payment.guid, error=str(error))
        await Refund.filter(id=refund.id).update(status=RefundStatus.CANCELLED)
        refund.status = RefundStatus.CANCELLED
        return refund
    await record_refund(answer, refund)
    await refresh(payment=payment, provider=provider, now=now)
    return await Refund.get(id=refund.id)


async def record_refund(answer: ProviderRefund, refund: Refund) -> None:
    await Refund.filter(id=refund.id).update(provider_refund_id=answer.id, status=answer.status)
    refund.provider_refund_id, refund.status = answer.id, answer.status


async def refresh(*, payment: Payment, provider: PaymentProvider, now: datetime) -> Payment:
    """Re-read the payment from the provider and apply it."""
    if payment.provider_payment_id is None:
        return payment
    view = await provider.get_payment(payment.provider_payment_id)
    return (await apply_report(payment=payment, view=view, now=now)).payment
