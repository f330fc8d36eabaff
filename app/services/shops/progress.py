"""After shops answered: tell 1C and RetailCRM, give back the money for missing units, and
move the order on (ready for shipping once every line is settled; cancelled if nothing is left).

Runs in the caller's transaction, under the order's lock.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from tortoise.backends.base.client import BaseDBAsyncClient

from app.domain.orders import OrderStatus
from app.domain.outbox import EventKind
from app.domain.payments import HOLDING, PaymentStatus, RefundStatus
from app.domain.reservations import SERVING_ORDER, ShopConfirmation
from app.domain.shop_confirmation import (
    LineFacts,
    LineState,
    line_state,
    nothing_to_ship,
    order_settled,
    refund_due,
)
from app.models.customers import Customer
from app.models.orders import Order, OrderLine, Payment, Refund
from app.models.shops import ShopRequest, ShopRequestLine
from app.models.stock import Reservation
from app.services.checkout.orders import cancel_within, move_order
from app.services.outbox.record import order_record, record_event
from app.services.payments.refunds import new_refund
from app.services.shops.moving import MOVED_ON

MISSING_UNITS = "auto: units no shop had"  # requested_by of the refunds written here


async def line_facts(order_id: int) -> dict[int, LineFacts]:
    """Each order line as its reservations and shop answers tell it, by order line id."""
    return (await _facts_of([order_id]))[order_id]


async def line_states(order_ids: list[int]) -> dict[int, dict[int, LineState]]:
    """What the shopper sees of each line, by order id then order line id (three queries)."""
    facts = await _facts_of(order_ids)
    return {oid: {lid: line_state(f) for lid, f in lines.items()} for oid, lines in facts.items()}


async def _facts_of(order_ids: list[int]) -> dict[int, dict[int, LineFacts]]:
    lines = await OrderLine.filter(order_id__in=order_ids).order_by("id")
    confirmations: dict[int, list[ShopConfirmation]] = defaultdict(list)
    for line_id, confirmation in await Reservation.filter(
        order_line__order_id__in=order_ids, state__in=list(SERVING_ORDER)
    ).values_list("order_line_id", "shop_confirmation"):
        confirmations[line_id].append(ShopConfirmation(confirmation))
    moved = {
        line.order_line_id
        for line in await ShopRequestLine.filter(
            order_line__order_id__in=order_ids, state__in=list(MOVED_ON)
        )
    }
    facts: dict[int, dict[int, LineFacts]] = {oid: {} for oid in order_ids}
    for line in lines:
        facts[line.order_id][line.id] = LineFacts(
            unit_price=line.unit_price,
            quantity=line.quantity,
            confirmations=tuple(confirmations[line.id]),
            unavailable=line.unavailable,
            moved=line.id in moved,
        )
    return facts


async def settle_order(
    conn: BaseDBAsyncClient, order: Order, *, moved: bool, now: datetime
) -> None:
    """Move the order on after answers; `moved`: some units now come from elsewhere."""
    order = await Order.get(id=order.id)
    facts = await line_facts(order.id)
    states = [line_state(f) for f in facts.values()]
    nothing_left = nothing_to_ship(states)
    if moved:
        customer = await Customer.get(id=order.customer_id) if order.customer_id else None
        if customer is not None:
            record = await order_record(order, customer)
            await record_event(kind=EventKind.ORDER_CHANGED, record=record, now=now)
    await _give_back_missing(order, list(facts.values()), nothing_left=nothing_left)
    if nothing_left and order.status is not OrderStatus.CANCELLED:
        await cancel_within(conn, order, reason="no shop had the items", now=now)
    elif order.status is OrderStatus.PAID and order_settled(states):
        if await ShopRequest.exists(order_id=order.id):
            await move_order(
                order, OrderStatus.READY_FOR_SHIPPING, reason="every shop answered", now=now
            )


async def _give_back_missing(order: Order, facts: list[LineFacts], *, nothing_left: bool) -> None:
    """Refund what the missing units cost (once: what was refunded for them before counts).
    An authorised, uncaptured payment is not refunded: its capture takes only what is served,
    and with nothing left it is released (as surplus)."""
    paying = await Payment.filter(
        order_id=order.id, status__in=list(HOLDING), surplus=False
    ).first()
    if paying is None:
        return  # not paid yet: the payment, when it comes, settles the order again
    if paying.status is PaymentStatus.WAITING_FOR_CAPTURE:
        if nothing_left:
            await Payment.filter(id=paying.id).update(surplus=True)
        return
    due = refund_due(facts)
    done = await _refunded_for_missing(paying)
    if due > done:
        await new_refund(paying, due - done, "automatic: units no shop had", MISSING_UNITS)


async def _refunded_for_missing(payment: Payment) -> int:
    refunds = await Refund.filter(payment_id=payment.id, requested_by=MISSING_UNITS).exclude(
        status=RefundStatus.CANCELLED
    )
    return sum(refund.amount for refund in refunds)
