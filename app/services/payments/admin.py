"""What the finance team does with a payment: capture, void, refund (full or part)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app.domain.errors import DomainError, ErrorCode
from app.domain.idempotency import check_idempotency_key
from app.domain.payments import PaymentStatus, RefundStatus, check_capture, check_refund
from app.domain.shop_confirmation import capturable
from app.integrations.errors import RejectedError, RetryableError
from app.integrations.payments.base import PaymentProvider, ProviderPayment
from app.models.orders import Order, Payment, Refund, lock_order
from app.services.payments.apply import apply_report, issue_refund
from app.services.payments.receipts import receipt_for
from app.services.payments.refunds import new_refund
from app.services.shops.progress import line_facts

ProviderFor = Callable[[str], PaymentProvider | None]
REFUND_KEYS = uuid.UUID("5f0e1f4e-6b7a-4c1e-9d36-2f1c9b7f0a11")  # namespace: key → refund guid


async def find_payment(guid: str) -> Payment:
    """The payment with this id; any unknown id gets the same answer."""
    try:
        payment = await Payment.get_or_none(guid=str(uuid.UUID(guid)))
    except ValueError:
        payment = None
    if payment is None:
        raise DomainError(ErrorCode.PAYMENT_NOT_FOUND, "no such payment", ("paymentId",))
    return payment


async def capture(
    *, payment_guid: str, amount: int | None, providers: ProviderFor, now: datetime
) -> Payment:
    """Take an authorised (two-stage) payment: by default all that is still served (less the
    units no shop had), or a given part of that."""
    payment = await find_payment(payment_guid)
    _require(payment, PaymentStatus.WAITING_FOR_CAPTURE)
    most = capturable(payment.amount, (await line_facts(payment.order_id)).values())
    check_capture(amount, most)
    wanted = amount or most
    partial = None if wanted == payment.amount else wanted
    receipt = await receipt_for(await Order.get(id=payment.order_id), wanted)
    view = await _call(
        payment,
        providers,
        lambda p, pid: p.capture_payment(
            pid,
            amount_kopecks=partial,
            idempotency_key=f"capture-{payment.guid}-{partial or 'all'}",
            receipt=receipt,
        ),
    )
    return (await apply_report(payment=payment, view=view, now=now, captured=partial)).payment


async def void(*, payment_guid: str, providers: ProviderFor, now: datetime) -> Payment:
    """Release authorised money; an order it paid is cancelled and its units go back."""
    payment = await find_payment(payment_guid)
    _require(payment, PaymentStatus.WAITING_FOR_CAPTURE)
    view = await _call(
        payment,
        providers,
        lambda p, pid: p.cancel_payment(pid, idempotency_key=f"cancel-{payment.guid}"),
    )
    return (await apply_report(payment=payment, view=view, now=now)).payment


async def refund(
    *,
    payment_guid: str,
    amount: int | None,
    reason: str,
    idempotency_key: str,
    requested_by: str,
    providers: ProviderFor,
    now: datetime,
) -> Refund:
    """Give back all that is left (no amount) or part of a captured payment; the same key
    returns the same refund."""
    key = check_idempotency_key(idempotency_key)
    payment = await find_payment(payment_guid)
    guid = str(uuid.uuid5(REFUND_KEYS, f"{payment.guid}:{key}"))
    row = await Refund.get_or_none(guid=guid)
    if row is None:
        row = await _new_refund(payment, guid, amount, reason, requested_by)
    provider = _provider(payment, providers)
    payment = await Payment.get(id=payment.id)
    return await issue_refund(refund=row, payment=payment, provider=provider, now=now)


async def _new_refund(
    payment: Payment, guid: str, amount: int | None, reason: str, requested_by: str
) -> Refund:
    if not reason.strip():
        raise DomainError(ErrorCode.INVALID, "say why (the shopper and 1C see it)", ("reason",))
    try:
        async with in_transaction() as conn:
            await lock_order(conn, payment.order_id)  # refunds of one payment queue here
            payment = await Payment.get(id=payment.id)
            if payment.status not in (PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED):
                _require(payment, PaymentStatus.SUCCEEDED)
            in_flight = await _in_flight(payment)
            left = payment.amount - payment.refunded - in_flight
            wanted = left if amount is None else amount
            check_refund(wanted, payment.amount, payment.refunded, in_flight)
            return await new_refund(payment, wanted, reason.strip(), requested_by[:100], guid=guid)
    except IntegrityError:  # the same key, a moment ago
        return await Refund.get(guid=guid)


async def _in_flight(payment: Payment) -> int:
    pending = await Refund.filter(payment_id=payment.id, status=RefundStatus.PENDING)
    return sum(r.amount for r in pending)


def _require(payment: Payment, status: PaymentStatus) -> None:
    if payment.status is not status or payment.provider_payment_id is None:
        raise DomainError(
            ErrorCode.INVALID_TRANSITION,
            f"the payment is {payment.status.value}, not {status.value}",
            ("paymentId",),
        )


def _provider(payment: Payment, providers: ProviderFor) -> PaymentProvider:
    provider = providers(payment.provider)
    if provider is None:
        raise DomainError(
            ErrorCode.PAYMENT_PROVIDER_UNAVAILABLE,
            f"{payment.provider} is not configured here",
            ("paymentId",),
        )
    return provider


async def _call(
    payment: Payment,
    providers: ProviderFor,
    action: Callable[[PaymentProvider, str], Awaitable[ProviderPayment]],
) -> ProviderPayment:
    provider = _provider(payment, providers)
    assert payment.provider_payment_id is not None  # _require checked it
    try:
        return await action(provider, payment.provider_payment_id)
    except RetryableError as error:
        raise DomainError(
            ErrorCode.PAYMENT_PROVIDER_UNAVAILABLE,
            f"the payment service did not answer ({error}); try again",
            ("paymentId",),
        ) from None
    except RejectedError as error:
        raise DomainError(ErrorCode.PAYMENT_REJECTED, str(error), ("paymentId",)) from None
