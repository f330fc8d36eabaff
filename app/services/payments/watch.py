"""Notifications and polling: re-read payments from their provider and apply what changed."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import structlog
from tortoise.expressions import Q

from app.domain.payments import PaymentStatus, RefundStatus
from app.integrations.errors import RejectedError, RetryableError
from app.integrations.payments.base import PaymentProvider, ProviderPayment
from app.models.orders import Payment, Refund
from app.services.checkout import orders
from app.services.jobs import JobQueue
from app.services.payments.apply import (
    PaymentMismatch,
    UnknownPayment,
    after_commit,
    apply_report,
    check_matches,
    issue_refund,
    record_refund,
    refresh,
)

log = structlog.get_logger(__name__)

GIVE_UP_UNANSWERED = timedelta(hours=1)  # a payment the provider never acknowledged
POLL_WINDOW = timedelta(days=8)  # YooKassa cancels uncaptured payments after 7 days
POLL_CONCURRENCY = 8  # payments re-read at once (each locks only its own order)


async def on_payment_event(
    *, provider: PaymentProvider, provider_payment_id: str, now: datetime, jobs: JobQueue
) -> Payment:
    """A notification named this payment: read it from the provider and apply it.

    UnknownPayment if it is not one of ours; PaymentMismatch if it is not what we asked for;
    RetryableError if the provider cannot answer now, RejectedError if it refuses to show it
    (it does not know it, or our credentials): the sender is told to try again either way.
    """
    view = await provider.get_payment(provider_payment_id)
    payment = await _ours(provider.name, view)
    applied = await apply_report(payment=payment, view=view, now=now)
    await after_commit(applied.payment, provider, now, jobs, changed=applied.changed)
    return applied.payment


async def on_refund_event(
    *, provider: PaymentProvider, provider_refund_id: str, now: datetime, jobs: JobQueue
) -> Payment:
    """A notification named this refund: read it, then its payment (whose refunded total is
    what counts, refunds made in the provider's dashboard included). Errors as for payments."""
    answer = await provider.get_refund(provider_refund_id)
    payment = await Payment.get_or_none(
        provider=provider.name, provider_payment_id=answer.payment_id
    )
    if payment is None:
        raise UnknownPayment(
            f"refund {provider_refund_id} is of payment {answer.payment_id}, not ours"
        )
    ours = await Refund.get_or_none(provider_refund_id=answer.id)
    if ours is not None:
        await record_refund(answer, ours)
    payment = await refresh(payment=payment, provider=provider, now=now)
    await after_commit(payment, provider, now, jobs, changed=True)
    return payment


async def _ours(provider: str, view: ProviderPayment) -> Payment:
    """Our row for the provider's payment; one whose create call has not answered yet is found
    by the guid we put in its metadata (the notification came first)."""
    payment = await Payment.get_or_none(provider=provider, provider_payment_id=view.id)
    if payment is not None:
        return payment
    waiting = None
    if view.payment_guid:
        waiting = await Payment.get_or_none(
            guid=view.payment_guid, provider=provider, provider_payment_id=None
        )
    if waiting is not None:
        check_matches(waiting, view, None)  # before binding it: a forged payment binds nothing
        claimed = await Payment.filter(id=waiting.id, provider_payment_id=None).update(
            provider_payment_id=view.id, confirmation_url=view.confirmation_url
        )
        if claimed:
            return await Payment.get(id=waiting.id)
    raise UnknownPayment(f"payment {view.id} is not one of ours")


async def expire_after_last_look(
    *, order_id: int, providers: list[PaymentProvider], now: datetime, jobs: JobQueue
) -> bool:
    """Cancel an overdue unpaid order, after re-reading its unfinished payments: money that
    arrived a moment ago (its notification still on the way) pays the order instead of being
    refunded. True if this call cancelled it."""
    if not await orders.is_overdue(order_id=order_id, now=now):
        return False
    await _refresh_unfinished(order_id, providers, now, jobs)
    return await orders.expire_order(order_id=order_id, now=now)


async def _refresh_unfinished(
    order_id: int, providers: list[PaymentProvider], now: datetime, jobs: JobQueue
) -> None:
    by_name = {p.name: p for p in providers}
    unfinished = await Payment.filter(
        order_id=order_id,
        status__in=[PaymentStatus.PENDING, PaymentStatus.WAITING_FOR_CAPTURE],
        provider_payment_id__not_isnull=True,
    )
    for payment in unfinished:
        if (provider := by_name.get(payment.provider)) is not None:
            await _recheck(payment, provider, now, jobs)


async def _recheck(
    payment: Payment, provider: PaymentProvider, now: datetime, jobs: JobQueue
) -> bool:
    """Read one payment back from its provider and apply it; True if it changed. A failure is
    logged and left for the next pass."""
    try:
        view = await provider.get_payment(payment.provider_payment_id or "")
        applied = await apply_report(payment=payment, view=view, now=now)
        await after_commit(applied.payment, provider, now, jobs, changed=applied.changed)
    except (RetryableError, RejectedError, PaymentMismatch) as error:
        log.warning("payment.recheck_failed", payment=payment.guid, error=str(error))
        return False
    return applied.changed


async def poll(
    *, providers: list[PaymentProvider], now: datetime, every: timedelta, jobs: JobQueue
) -> int:
    """Re-read unfinished payments not read for `every` (a lost notification is caught here),
    give back surplus money whose first try failed, and finish refunds. Returns how many
    payments changed."""
    changed = 0
    for provider in providers:
        changed += await _poll_payments(provider, now, every, jobs)
        await _finish_refunds(provider, now)
        await _abandon_unanswered(provider.name, now)
    return changed


async def _poll_payments(
    provider: PaymentProvider, now: datetime, every: timedelta, jobs: JobQueue
) -> int:
    unfinished = Q(status__in=[PaymentStatus.PENDING, PaymentStatus.WAITING_FOR_CAPTURE])
    surplus = Q(surplus=True, status=PaymentStatus.SUCCEEDED, refunds__status=RefundStatus.PENDING)
    due = Q(checked_at=None) | Q(checked_at__lte=now - every)
    rows = await Payment.filter(
        (unfinished & due) | surplus,
        provider=provider.name,
        provider_payment_id__not_isnull=True,
        created_at__gte=now - POLL_WINDOW,
    ).distinct()
    gate = asyncio.Semaphore(POLL_CONCURRENCY)

    async def one(payment: Payment) -> bool:
        async with gate:
            return await _recheck(payment, provider, now, jobs)

    changed = sum(await asyncio.gather(*[one(p) for p in rows]))
    if changed:
        log.info("payment.poll", provider=provider.name, changed=changed)
    return changed


async def _finish_refunds(provider: PaymentProvider, now: datetime) -> None:
    """Refunds we recorded but whose answer we never got: ask again (same key, same refund)."""
    pending = await Refund.filter(
        status=RefundStatus.PENDING, payment__provider=provider.name
    ).prefetch_related("payment")
    for refund in pending:
        await issue_refund(refund=refund, payment=refund.payment, provider=provider, now=now)


async def _abandon_unanswered(provider: str, now: datetime) -> None:
    """A payment the provider never acknowledged within an hour was never shown to the shopper
    (they got an error and retry with their key, or gave up): it is closed as canceled."""
    stale = await Payment.filter(
        provider=provider,
        provider_payment_id=None,
        status=PaymentStatus.PENDING,
        created_at__lte=now - GIVE_UP_UNANSWERED,
    ).update(status=PaymentStatus.CANCELLED, cancellation_reason="the provider never answered")
    if stale:
        log.warning("payment.abandoned", provider=provider, count=stale)
