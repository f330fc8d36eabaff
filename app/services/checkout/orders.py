"""Place, pay and cancel orders: all lines reserved or none, each status change recorded."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import structlog
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app.domain.checkout import (
    DROP_RUSH_HOURS,
    PricedLine,
    order_total,
)
from app.domain.errors import DomainError, ErrorCode
from app.domain.idempotency import check_idempotency_key
from app.domain.orders import (
    DeliveryKind,
    OrderStatus,
    check_move,
    check_shopper_may_cancel,
)
from app.domain.outbox import EventKind, EventState
from app.domain.reservations import ReservationState
from app.models.checkout import Cart, CartLine
from app.models.checkout_sql import StockView, lock_cart_for_key, stock_view
from app.models.customers import Customer
from app.models.orders import Order, OrderLine, OrderStatusChange, lock_order
from app.models.outbox import OutboxEvent
from app.models.stock import Reservation
from app.services.checkout.carts import find_cart, no_cart
from app.services.checkout.limits import check_within_purchase_limit, claim_unpaid_order
from app.services.checkout.placing import (
    PlacedLine,
    Serving,
    cart_lines,
    check_in_stock,
    check_ready,
    customer_of,
    line_path,
    outbox_rows,
    reserve_lines_ahead,
    serve_line,
    write_order_line,
)
from app.services.inventory.reservations import release
from app.services.jobs import JobQueue, enqueue_quietly
from app.services.outbox.record import (
    announce,
    record_event,
    status_record,
)
from app.services.partners import recording as partner_events
from app.services.partners.waking import wake_order_subscribers
from app.services.shops.asking import ask_shops
from app.services.shops.withdrawing import withdraw_requests
from app.services.waiting_room import QueueGate, require_passes
from app.services.waiting_room.passes import note_used

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class PlacedOrder:
    order: Order
    created: bool  # False when the idempotency key returned an earlier order
    events: tuple[OutboxEvent, ...] = ()  # the outbox rows it wrote (announced after commit)


@dataclass(frozen=True, kw_only=True)
class Placing:
    """What placing one order needs beyond the cart: when, for how long, from which device."""

    key: str
    now: datetime
    payment_timeout: timedelta
    ask_shops_now: bool
    device: str | None
    drop_rush: timedelta
    queue_gate: QueueGate | None = None  # checks a queued drop's pass


async def place_order(
    *,
    cart_token: str,
    idempotency_key: str,
    now: datetime,
    payment_timeout: timedelta,
    jobs: JobQueue,
    ask_shops_now: bool = False,
    device: str | None = None,
    drop_rush: timedelta = timedelta(hours=DROP_RUSH_HOURS),
    queue_gate: QueueGate | None = None,
) -> PlacedOrder:
    """Turn the cart into an order awaiting payment, reserving every line or none.

    `ask_shops_now`: shops serving lines are asked to confirm at once, not once it is paid.
    `device`: the shopper's device key (else the cart's); `drop_rush`: how long after a
    drop's release a shopper may have only one unpaid order of its variants; `queue_gate`:
    checks the pass a queued drop needs (without one its lines are refused).
    """
    placing = Placing(
        key=check_idempotency_key(idempotency_key),
        now=now,
        payment_timeout=payment_timeout,
        ask_shops_now=ask_shops_now,
        device=device,
        drop_rush=drop_rush,
        queue_gate=queue_gate,
    )
    try:
        placed = await _place(cart_token, placing)
    except IntegrityError:  # the same key won a race a moment ago
        earlier = await Order.get_or_none(idempotency_key=placing.key)
        if earlier is None:
            raise
        return _same_cart_or_refuse(earlier, await find_cart(cart_token))
    if not placed.created:
        return placed
    await note_used(queue_gate)  # committed: the queued drop's pass bought
    order = placed.order
    log.info(
        "order.placed",
        number=order.number,
        total=order.total,
        pickup=bool(order.pickup_warehouse_id),
    )
    await asyncio.gather(  # after commit, side by side: one wait, not one per job
        announce(jobs, placed.events),  # the rows in hand: nothing is read back
        wake_order_subscribers(jobs),
        enqueue_quietly(
            jobs,
            "expire_order",
            order.id,
            job_id=f"expire-order:{order.id}",
            defer_until=order.payment_deadline,
        ),
    )
    return placed


def _same_cart_or_refuse(order: Order, cart: Cart) -> PlacedOrder:
    if order.cart_id != cart.id:
        raise DomainError(
            ErrorCode.IDEMPOTENCY_KEY_REUSED,
            "this key placed another cart's order",
            ("idempotencyKey",),
        )
    return PlacedOrder(order, created=False)


async def _place(cart_token: str, placing: Placing) -> PlacedOrder:
    now = placing.now
    async with in_transaction() as conn:
        # The cart's row is locked first (read, and the key looked up, in the same statement):
        # a cart submitted twice at once (even with two keys) becomes one order; the second
        # finds it empty.
        locked = await lock_cart_for_key(conn, cart_token, placing.key)
        if locked is None:
            raise no_cart()
        cart = locked.cart
        if locked.earlier_order_id is not None:
            return _same_cart_or_refuse(await Order.get(id=locked.earlier_order_id), cart)
        placing = replace(placing, device=placing.device or cart.device)
        lines = await cart_lines(cart.id)
        if not lines and (earlier := await Order.get_or_none(idempotency_key=placing.key)):
            # the same key placed this cart while we waited for its lock (the key's look-up
            # above read from before that commit)
            return _same_cart_or_refuse(earlier, cart)
        check_ready(cart, lines, now)
        # a queued drop's lines only with a live pass (nothing is read for drops without one)
        drops = [x.variant.product.collection for x in sorted(lines, key=lambda x: x.id)]
        await require_passes(placing.queue_gate, drops, device=placing.device, now=now)
        # the warehouses and the lines' stock in one read: a sold-out line is refused here,
        # before anything is written
        stock = await stock_view(conn, [x.variant_id for x in lines], cart_id=cart.id, now=now)
        serving = Serving.of(stock, cart.pickup_warehouse_id)
        check_in_stock(lines, stock, serving.ranked)
        order = await Order.create(
            guid=str(uuid.uuid4()),
            number=f"tmp-{uuid.uuid4().hex[:12]}",
            token=secrets.token_urlsafe(24),
            idempotency_key=placing.key,
            cart_id=cart.id,
            status=OrderStatus.AWAITING_PAYMENT,
            email=cart.email,
            phone=cart.phone,
            phone_raw=cart.phone_raw,
            first_name=cart.first_name,
            last_name=cart.last_name,
            delivery_kind=cart.delivery_kind or DeliveryKind.COURIER,
            delivery_address=cart.delivery_address,
            pickup_warehouse_id=cart.pickup_warehouse_id,
            total=order_total(
                PricedLine(unit_price=line.variant.price, quantity=line.quantity) for line in lines
            ),
            payment_deadline=now + placing.payment_timeout,
            device=placing.device,
        )
        # Before any stock row: a second order of the same shopper waits here, not on a hot row.
        await claim_unpaid_order(
            conn,
            order_id=order.id,
            cart=cart,
            lines=lines,
            device=placing.device,
            now=now,
            rush=placing.drop_rush,
        )
        # Everything but stock first: a hot row stays locked from its conditional UPDATE to the
        # commit, so what follows it is what caps a drop's orders per second.
        customer = await customer_of(cart)  # after the claim: a same-shopper race waits there
        order.customer_id, order.number = customer[0].id, f"V-{order.id:06d}"
        await Order.filter(id=order.id).update(customer_id=order.customer_id, number=order.number)
        await OrderStatusChange.create(
            order_id=order.id, to_status=OrderStatus.AWAITING_PAYMENT, reason="placed", at=now
        )
        written = [await write_order_line(order, line) for line in lines]
        holds = any(stock.own_holds.get(line.variant_id) for line in lines)
        ahead: list[Reservation | None] = [None] * len(lines)
        guessed: list[PlacedLine] = []
        if not holds:  # (held units are found through their cart line: deleted after them)
            await CartLine.filter(cart_id=cart.id).delete()
            # the reservations and outbox rows of the usual case (each line's first warehouse
            # has it all), written before any stock row is locked
            ahead = await reserve_lines_ahead(written, serving)
            guessed = [PlacedLine(o, [r]) for o, r in zip(written, ahead, strict=True) if r]
        rows = outbox_rows(order, customer, guessed, serving, now) if guessed else []
        if rows:
            await OutboxEvent.bulk_create(rows)
        placed = [  # in variant order: the lock order; each row locked until the commit
            await _serve_line(conn, cart, line, ordered, ahead[i], serving, placing, stock, lines)
            for i, (line, ordered) in enumerate(zip(lines, written, strict=True))
        ]
        if holds:
            await CartLine.filter(cart_id=cart.id).delete()
        events = await _record_placed(order, customer, placed, serving, now, rows, guessed)
        if placing.ask_shops_now:
            await ask_shops(order, now=now)
    return PlacedOrder(order, created=True, events=tuple(events))


async def _record_placed(
    order: Order,
    customer: tuple[Customer, bool],
    placed: list[PlacedLine],
    serving: Serving,
    now: datetime,
    written: list[OutboxEvent],
    guessed: list[PlacedLine],
) -> list[OutboxEvent]:
    """Tell 1C, RetailCRM and partners, through the outbox, in this transaction: the rows
    `written` ahead stand if the lines were served as `guessed`, else they are rewritten."""
    if written and placed == guessed:  # the usual case: the rows written ahead stand
        rows = written
    elif not written:
        rows = outbox_rows(order, customer, placed, serving, now)
        await OutboxEvent.bulk_create(rows)  # one statement for all of them
    else:  # a line came from other warehouses than its first
        rows = outbox_rows(order, customer, placed, serving, now)
        for row, before in zip(rows, written, strict=True):
            row.event_id = before.event_id
            await OutboxEvent.filter(event_id=before.event_id).update(payload=row.payload)
    await partner_events.record_order_placed(order, now=now)
    return rows


async def _serve_line(
    conn: BaseDBAsyncClient,
    cart: Cart,
    line: CartLine,
    ordered: OrderLine,
    ahead: Reservation | None,
    serving: Serving,
    placing: Placing,
    stock: StockView,
    lines: list[CartLine],
) -> PlacedLine:
    path = line_path(lines, line)
    holds = bool(stock.own_holds.get(line.variant_id))
    placed = await serve_line(
        conn, line, ordered, serving, holds=holds, ahead=ahead, now=placing.now, path=path
    )
    # Counted after the stock row is locked: concurrent orders of this variant queue here.
    await check_within_purchase_limit(
        line.variant,
        cart,
        line.quantity,
        device=placing.device,
        now=placing.now,
        already_ordered=line.quantity,
        path=path,
    )
    return placed


async def find_order(token: str) -> Order:
    """The order with this token; an unknown token and someone else's look the same."""
    order = await Order.get_or_none(token=token)
    if order is None:
        raise DomainError(ErrorCode.ORDER_NOT_FOUND, "no such order", ("orderToken",))
    return order


async def move_order(order: Order, target: OrderStatus, *, reason: str, now: datetime) -> bool:
    """Change status if the order is still where we saw it; record it. False if it moved on."""
    check_move(order.status, target)
    changed = await Order.filter(id=order.id, status=order.status).update(status=target)
    if changed:
        await OrderStatusChange.create(
            order_id=order.id, from_status=order.status, to_status=target, reason=reason, at=now
        )
        order.status = target
        record = status_record(order, target, now, reason)
        await record_event(kind=EventKind.ORDER_STATUS_CHANGED, record=record, now=now)
        await partner_events.record_order_status(order, now=now)
    return bool(changed)


async def announce_order(jobs: JobQueue, order: Order) -> None:
    """After commit: wake delivery of the order's events (and its customer's) to both systems."""
    pending = await OutboxEvent.filter(
        aggregate__in=[f"order:{order.guid}", f"customer:{await _customer_guid(order)}"],
        state=EventState.PENDING,
    )
    await announce(jobs, pending)
    await wake_order_subscribers(jobs)


async def _customer_guid(order: Order) -> str | None:
    if order.customer_id is None:
        return None
    return (await Customer.get(id=order.customer_id)).guid


async def cancel_order(*, order_id: int, reason: str, now: datetime) -> bool:
    """Cancel an unpaid order and give its units back; True if this call cancelled it."""
    async with in_transaction() as conn:
        await lock_order(conn, order_id)  # a payment reported at this moment waits, or we do
        order = await Order.get_or_none(id=order_id)
        if order is None or order.status != OrderStatus.AWAITING_PAYMENT:
            return False
        return await cancel_within(conn, order, reason=reason, now=now)


async def cancel_within(
    conn: BaseDBAsyncClient, order: Order, *, reason: str, now: datetime
) -> bool:
    """Cancel the order in the caller's transaction and give its units back, if it is still
    where the caller saw it; True if this call cancelled it."""
    if not await move_order(order, OrderStatus.CANCELLED, reason=reason, now=now):
        return False
    ids = await Reservation.filter(
        order_line__order_id=order.id, state=ReservationState.ACTIVE
    ).values_list("id", "quantity")
    await release(conn, [rid for rid, _ in ids], now=now)
    await withdraw_requests(order.id, now=now)
    return True


async def cancel_by_shopper(*, order_token: str, now: datetime) -> Order:
    """The shopper changed their mind before paying."""
    order = await find_order(order_token)
    check_shopper_may_cancel(order.status)
    await cancel_order(order_id=order.id, reason="cancelled by the shopper", now=now)
    return await Order.get(id=order.id)


async def expire_order(*, order_id: int, now: datetime) -> bool:
    """Cancel the order if its payment time is over (the deferred job and the sweep call this)."""
    if not await is_overdue(order_id=order_id, now=now):
        return False
    return await cancel_order(order_id=order_id, reason="payment time is over", now=now)


async def is_overdue(*, order_id: int, now: datetime) -> bool:
    """Still unpaid at or after its payment deadline."""
    order = await Order.get_or_none(id=order_id)
    return (
        order is not None
        and order.status == OrderStatus.AWAITING_PAYMENT
        and order.payment_deadline <= now
    )


async def overdue_orders(*, now: datetime) -> list[int]:
    """Unpaid orders past their deadline (the sweep catches any job a lost redis lost)."""
    rows = await Order.filter(
        status=OrderStatus.AWAITING_PAYMENT, payment_deadline__lte=now
    ).values_list("id", "status")
    return [order_id for order_id, _ in rows]


async def expire_overdue(*, now: datetime) -> int:
    """Cancel every unpaid order past its deadline."""
    return sum([await expire_order(order_id=oid, now=now) for oid in await overdue_orders(now=now)])


async def release_expired_holds(*, now: datetime) -> int:
    """Sweep: give back cart holds whose time is over (they already stopped counting)."""
    expired = await Reservation.filter(
        state=ReservationState.HELD, expires_at__lte=now
    ).values_list("id", "variant_id")
    by_variant: dict[int, list[int]] = {}
    for rid, variant_id in expired:
        by_variant.setdefault(variant_id, []).append(rid)
    released = 0
    for variant_id in sorted(by_variant):
        async with in_transaction() as conn:
            released += await release(conn, by_variant[variant_id], now=now)
    return released
