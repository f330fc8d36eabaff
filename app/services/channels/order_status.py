"""Order status reported by 1C (and by managers in RetailCRM): shipped, delivered, returned,
cancelled by the brand. Forward only; a repeat changes nothing; each report is applied in its
own transaction under the order's row lock, so concurrent reports of one order apply one after
the other and a refused one leaves nothing behind.

What a move implies is written in the same transaction: the shipment (carrier, tracking,
marking codes), the units that came back and the refund they make (a Refund row, asked of the
provider after commit), the closing receipt of a prepaid order (an outbox event to YooKassa),
the message to the shopper, and the status for the systems that did not report it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

import structlog
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from app.domain.catalog import parse_guid
from app.domain.errors import DomainError, ErrorCode, Problem
from app.domain.order_status import Reported, Verdict, judge, judge_return, settle_return
from app.domain.orders import OrderStatus
from app.domain.outbox import EventKind, Target
from app.domain.payments import HOLDING, PaymentStatus, RefundStatus
from app.domain.stock import parse_instant
from app.integrations.payments.base import PaymentProvider
from app.models.catalog import Variant
from app.models.channels import MarkingCode, OrderReturn, OrderReturnLine, OrderShipment
from app.models.orders import Order, OrderLine, OrderStatusChange, Payment, Refund, lock_order
from app.services.channels.closing import record_closing_receipt
from app.services.channels.returned_codes import record_returned_codes
from app.services.channels.shopper import tell_shopper
from app.services.checkout.orders import announce_order, cancel_within
from app.services.jobs import JobQueue
from app.services.outbox.record import record_event, status_record
from app.services.partners import recording as partner_events
from app.services.payments.apply import give_back_surplus, issue_refund
from app.services.payments.refunds import new_refund

log = structlog.get_logger(__name__)

RETURN_REFUNDS = uuid.UUID("8d5b3c61-3f0e-4c2a-9b7e-6a1d2c4f5e70")  # return guid → refund guid
ProviderFor = Callable[[str], PaymentProvider | None]


class Source(StrEnum):
    """Who reported a status: it is not told back what it said."""

    ONEC = "1c"
    RETAILCRM = "retailcrm"


_TELL: dict[Source, tuple[Target, ...]] = {
    Source.ONEC: (Target.RETAILCRM,),
    Source.RETAILCRM: (Target.ONEC,),
}


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """One report as it came."""

    order_guid: str
    status: Reported
    changed_at: str
    carrier: str | None = None
    tracking_number: str | None = None
    marking_codes: Sequence[tuple[str, str]] = ()  # (variant GUID, the unit's code)
    return_guid: str | None = None
    return_lines: Sequence[tuple[str, int]] | None = None  # None: everything still out
    return_codes: Sequence[str] = ()  # the marked units back, if the return names them
    reason: str = ""


@dataclass
class StatusReport:
    applied: int = 0
    unchanged: int = 0  # repeats: the order was there already
    problems: list[Problem] = field(default_factory=list)
    refunds: list[int] = field(default_factory=list)  # Refund ids to ask the provider for
    orders: list[int] = field(default_factory=list)  # orders whose events to wake


async def update_order_statuses(
    *,
    updates: Sequence[StatusUpdate],
    max_updates: int,
    now: datetime,
    source: Source = Source.ONEC,
    skip: set[int] | None = None,
) -> StatusReport:
    """Apply each report in its own transaction; a refused one is named and changes nothing.
    `skip`: indexes the input validation refused already (the caller reports them)."""
    if len(updates) > max_updates:
        raise DomainError(
            ErrorCode.BATCH_TOO_LARGE, f"at most {max_updates} updates per call", ("updates",)
        )
    report = StatusReport()
    for index, update in enumerate(updates):
        if skip and index in skip:
            continue
        try:
            outcome = await apply_status(update, now=now, source=source)
        except DomainError as error:
            report.problems.append(error.at("updates", index, *error.path).as_problem())
            continue
        if outcome is None:
            report.unchanged += 1
        else:
            report.applied += 1
            report.orders.append(outcome.order_id)
            report.refunds += outcome.refunds
    return report


@dataclass(frozen=True, slots=True)
class Applied:
    order_id: int
    refunds: list[int]


async def apply_status(update: StatusUpdate, *, now: datetime, source: Source) -> Applied | None:
    """One report: None when it was a repeat. Refusals are DomainErrors at input paths."""
    at = parse_instant(update.changed_at, path=("changedAt",))
    guid = parse_guid(update.order_guid, path=("orderGuid",))
    async with in_transaction() as conn:
        found = await Order.filter(guid=guid).values_list("id", flat=True)
        if not found:
            raise DomainError(ErrorCode.UNKNOWN_ORDER, f"no order {guid}", ("orderGuid",))
        # The order's row is locked first: two reports of one order apply one after the other,
        # and a payment reported at this moment waits (the payments take the same lock).
        await lock_order(conn, int(str(found[0])))
        order = await Order.get(id=found[0])
        return await _apply(conn, order, update, at, now, source)


async def _apply(
    conn: BaseDBAsyncClient,
    order: Order,
    update: StatusUpdate,
    at: datetime,
    now: datetime,
    source: Source,
) -> Applied | None:
    if update.status is Reported.RETURNED:
        return await _returned(order, update, at, now, source)
    target = {
        Reported.SHIPPED: OrderStatus.SHIPPED,
        Reported.DELIVERED: OrderStatus.DELIVERED,
        Reported.CANCELLED: OrderStatus.CANCELLED,
    }[update.status]
    if judge(order.status, target) is Verdict.REPEAT:
        late = target is OrderStatus.SHIPPED and source is Source.ONEC
        return Applied(order.id, []) if late and await _shipped_late(order, update, now) else None
    if target is OrderStatus.SHIPPED:
        await _shipped(order, update, at, now, source)
    elif target is OrderStatus.CANCELLED:
        return Applied(order.id, await _cancelled(conn, order, update, now, source))
    else:
        await advance(order, target, reason="delivered", now=now, source=source)
        await tell_shopper(order, target, now=now)
    return Applied(order.id, [])


async def advance(
    order: Order, target: OrderStatus, *, reason: str, now: datetime, source: Source
) -> None:
    """Move the order on (the caller holds its lock), record it in its history, and tell the
    systems that did not report it and the partners that follow orders."""
    await Order.filter(id=order.id).update(status=target)
    await OrderStatusChange.create(
        order_id=order.id, from_status=order.status, to_status=target, reason=reason[:200], at=now
    )
    order.status = target
    record = status_record(order, target, now, reason)
    await record_event(
        kind=EventKind.ORDER_STATUS_CHANGED, record=record, now=now, targets=_TELL[source]
    )
    await partner_events.record_order_status(order, now=now)


async def _shipped(
    order: Order, update: StatusUpdate, at: datetime, now: datetime, source: Source
) -> None:
    carrier = _carrier(update, source)
    await OrderShipment.create(
        order_id=order.id,
        carrier=carrier,
        tracking_number=(update.tracking_number or "").strip(),
        shipped_at=at,
    )
    reason = f"shipped ({carrier})" if carrier else "shipped"
    await advance(order, OrderStatus.SHIPPED, reason=reason, now=now, source=source)
    if source is Source.ONEC:
        await _hand_over(order, update, now)
    await tell_shopper(order, OrderStatus.SHIPPED, now=now)


def _carrier(update: StatusUpdate, source: Source) -> str:
    carrier = (update.carrier or "").strip()
    if not carrier and source is Source.ONEC:  # a manager's "shipped" in RetailCRM names none
        raise DomainError(ErrorCode.INVALID, "a shipment names its carrier", ("carrier",))
    return carrier


async def _hand_over(order: Order, update: StatusUpdate, now: datetime) -> None:
    """What 1C's shipment report alone knows: the units' marking codes, and with them the
    closing receipt (a manager's "shipped" in RetailCRM leaves both to 1C's report)."""
    codes = await _marking_codes(order, update.marking_codes, await _served(order))
    if codes:
        await MarkingCode.bulk_create(
            [MarkingCode(order_id=order.id, variant_id=v, code=c) for v, c in codes]
        )
    await record_closing_receipt(order, codes, now=now)


async def _shipped_late(order: Order, update: StatusUpdate, now: datetime) -> bool:
    """1C's shipment report of an order a manager already marked shipped in RetailCRM: the
    carrier, tracking, codes and closing receipt are filled in, once (True if they were)."""
    carrier = _carrier(update, Source.ONEC)
    filled = await OrderShipment.filter(order_id=order.id, carrier="").update(
        carrier=carrier, tracking_number=(update.tracking_number or "").strip()
    )
    if filled:
        await _hand_over(order, update, now)
    return bool(filled)


async def _served(order: Order) -> dict[int, tuple[int, int]]:
    """Units served and their price, per variant of the order."""
    served: dict[int, tuple[int, int]] = {}
    for line in await OrderLine.filter(order_id=order.id):
        units, _ = served.get(line.variant_id, (0, line.unit_price))
        served[line.variant_id] = (units + line.quantity - line.unavailable, line.unit_price)
    return served


async def _marking_codes(
    order: Order, given: Sequence[tuple[str, str]], served: dict[int, tuple[int, int]]
) -> list[tuple[int, str]]:
    """(variant id, code) per coded unit: a variant of this order, no more codes than units."""
    variants = await _variant_ids({parse_guid(g, path=("markingCodes",)) for g, _ in given})
    codes: list[tuple[int, str]] = []
    for index, (variant_guid, code) in enumerate(given):
        where = ("markingCodes", index)
        variant = variants.get(parse_guid(variant_guid, path=(*where, "variantGuid")))
        if variant is None or variant not in served:
            message = f"variant {variant_guid} is not in this order"
            raise DomainError(ErrorCode.UNKNOWN_VARIANT, message, (*where, "variantGuid"))
        if not code.strip() or any(c == code.strip() for _, c in codes):
            raise DomainError(ErrorCode.INVALID, "an empty or repeated code", (*where, "code"))
        codes.append((variant, code.strip()))
        if sum(1 for v, _ in codes if v == variant) > served[variant][0]:
            message = f"more codes than the {served[variant][0]} units shipped"
            raise DomainError(ErrorCode.INVALID, message, (*where, "code"))
    return codes


async def _variant_ids(guids: Iterable[str]) -> dict[str, int]:
    rows = await Variant.filter(guid__in=list(guids)).values_list("guid", "id")
    return {str(g): int(i) for g, i in rows}


async def _cancelled(
    conn: BaseDBAsyncClient, order: Order, update: StatusUpdate, now: datetime, source: Source
) -> list[int]:
    """Cancelled by the brand: units go back, authorised money is released and captured money
    refunded (the payments' own give-back path), and the shopper is told why."""
    reason = update.reason.strip()
    if not reason:
        raise DomainError(ErrorCode.INVALID, "say why (the shopper sees it)", ("reason",))
    await cancel_within(conn, order, reason=f"cancelled by the brand: {reason}"[:200], now=now)
    refunds: list[int] = []
    for payment in await Payment.filter(order_id=order.id, status__in=list(HOLDING)):
        await Payment.filter(id=payment.id).update(surplus=True)
        left = payment.amount - payment.refunded
        if payment.status is PaymentStatus.SUCCEEDED and left > 0:
            refund = await new_refund(payment, left, f"cancelled by the brand: {reason}", source)
            refunds.append(refund.id)
    await tell_shopper(order, OrderStatus.CANCELLED, now=now, reason=reason)
    return refunds


async def _returned(
    order: Order, update: StatusUpdate, at: datetime, now: datetime, source: Source
) -> Applied | None:
    if not update.return_guid:
        raise DomainError(ErrorCode.INVALID, "a return names its document", ("returnGuid",))
    guid = parse_guid(update.return_guid, path=("returnGuid",))
    earlier = await OrderReturn.get_or_none(guid=guid)
    if earlier is not None:
        if earlier.order_id != order.id:
            message = f"return {guid} belongs to another order"
            raise DomainError(ErrorCode.CONFLICT, message, ("returnGuid",))
        return None
    judge_return(order.status)
    wanted, outcome = settle_return(
        sold=await _served(order),
        returned_before=await _returned_units(order),
        returning=await _return_lines(update.return_lines),
    )
    row = await OrderReturn.create(
        guid=guid,
        order_id=order.id,
        returned_at=at,
        amount=outcome.refund_kopecks,
        reason=update.reason.strip()[:200],
    )
    await OrderReturnLine.bulk_create(
        [
            OrderReturnLine(order_return_id=row.id, variant_id=v, quantity=n)
            for v, n in wanted.items()
        ]
    )
    await record_returned_codes(order.id, row, wanted, update.return_codes)
    refund = await _refund_return(order, row, source)
    if outcome.status is not order.status:
        await advance(order, outcome.status, reason="returned", now=now, source=source)
    await tell_shopper(order, outcome.status, now=now, amount=outcome.refund_kopecks)
    return Applied(order.id, [] if refund is None else [refund.id])


async def _returned_units(order: Order) -> dict[int, int]:
    units: dict[int, int] = {}
    lines = await OrderReturnLine.filter(order_return__order_id=order.id)
    for line in lines:
        units[line.variant_id] = units.get(line.variant_id, 0) + line.quantity
    return units


async def _return_lines(lines: Sequence[tuple[str, int]] | None) -> dict[int, int] | None:
    if lines is None:
        return None
    guids = [
        parse_guid(g, path=("returnLines", i, "variantGuid")) for i, (g, _) in enumerate(lines)
    ]
    variants = await _variant_ids(guids)
    wanted: dict[int, int] = {}
    for index, (variant_guid, units) in enumerate(lines):
        variant = variants.get(guids[index])
        if variant is None:
            message = f"no variant with GUID {variant_guid}"
            raise DomainError(ErrorCode.UNKNOWN_VARIANT, message, ("returnLines", index))
        wanted[variant] = wanted.get(variant, 0) + units
    return wanted


async def _refund_return(order: Order, row: OrderReturn, source: Source) -> Refund | None:
    """The refund the returned units imply, from the payment that paid the order (at most
    what is left of it), recorded now and asked of the provider after commit."""
    payment = (
        await Payment.filter(
            order_id=order.id,
            surplus=False,
            status__in=[PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED],
        )
        .order_by("id")
        .first()
    )
    if payment is None or row.amount <= 0:
        return None
    pending = await Refund.filter(payment_id=payment.id, status=RefundStatus.PENDING).values_list(
        "amount", flat=True
    )
    left = payment.amount - payment.refunded - sum(int(str(a)) for a in pending)
    amount = min(row.amount, left)
    if amount <= 0:
        log.warning("return.nothing_to_refund", order=order.number, returned=row.guid)
        return None
    guid = str(uuid.uuid5(RETURN_REFUNDS, row.guid))
    refund = await new_refund(payment, amount, f"returned ({row.guid})", source, guid=guid)
    await OrderReturn.filter(id=row.id).update(refund_id=refund.id)
    return refund


async def after_commit(
    report: StatusReport, *, providers: ProviderFor, jobs: JobQueue, now: datetime
) -> None:
    """Ask the providers for the refunds the reports made, and wake delivery of the events.
    A provider that does not answer now leaves the refund pending: the payment poller asks
    again with the same key."""
    for refund in await Refund.filter(id__in=report.refunds).prefetch_related("payment"):
        provider = providers(refund.payment.provider)
        if provider is not None:
            await issue_refund(refund=refund, payment=refund.payment, provider=provider, now=now)
    orders = sorted(set(report.orders))
    surplus = Payment.filter(order_id__in=orders, surplus=True, status__in=list(HOLDING))
    for payment in await surplus:  # a brand's cancel: authorised money released, captured refunded
        provider = providers(payment.provider)
        if provider is not None:
            await give_back_surplus(payment=payment, provider=provider, now=now)
    for order in await Order.filter(id__in=orders):
        await announce_order(jobs, order)
