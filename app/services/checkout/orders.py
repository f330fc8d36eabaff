"""Place, pay and cancel orders: all lines reserved or none, each status change recorded."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app.domain.checkout import (
    DROP_RUSH_HOURS,
    LineOnSale,
    PricedLine,
    check_ready_to_order,
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
from app.domain.outbox import EventKind, EventState, Target
from app.domain.reservations import ReservationState, shop_confirmation_for
from app.models.checkout import Cart, CartLine, lock_cart
from app.models.customers import Customer
from app.models.orders import Order, OrderLine, OrderStatusChange, lock_order
from app.models.outbox import OutboxEvent
from app.models.stock import Reservation, lock_levels
from app.services.checkout.carts import find_cart, ranked_for
from app.services.checkout.customers import customer_for_contact
from app.services.checkout.limits import check_within_purchase_limit, claim_unpaid_order
from app.services.inventory.reservations import Claim, release, reserve, warehouse_infos
from app.services.jobs import JobQueue, enqueue_quietly
from app.services.outbox.record import (
    announce,
    customer_record,
    order_record,
    record_event,
    status_record,
)
from app.services.partners import recording as partner_events
from app.services.partners.waking import wake_order_subscribers
from app.services.shops.asking import ask_shops
from app.services.shops.withdrawing import withdraw_requests

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class PlacedOrder:
    order: Order
    created: bool  # False when the idempotency key returned an earlier order


@dataclass(frozen=True, kw_only=True)
class Placing:
    """What placing one order needs beyond the cart: when, for how long, from which device."""

    key: str
    now: datetime
    payment_timeout: timedelta
    ask_shops_now: bool
    device: str | None
    drop_rush: timedelta


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
) -> PlacedOrder:
    """Turn the cart into an order awaiting payment, reserving every line or none.

    `ask_shops_now`: shops serving lines are asked to confirm at once, not once it is paid.
    `device`: the shopper's device key; `drop_rush`: how long after a drop's release a
    shopper may have only one unpaid order of its variants.
    """
    key = check_idempotency_key(idempotency_key)
    cart = await find_cart(cart_token)
    earlier = await Order.get_or_none(idempotency_key=key)
    if earlier is not None:
        return _same_cart_or_refuse(earlier, cart)
    placing = Placing(
        key=key,
        now=now,
        payment_timeout=payment_timeout,
        ask_shops_now=ask_shops_now,
        device=device or cart.device,
        drop_rush=drop_rush,
    )
    try:
        order = await _place(cart, placing)
    except IntegrityError:  # the same key won a race a moment ago
        earlier = await Order.get_or_none(idempotency_key=key)
        if earlier is None:
            raise
        return _same_cart_or_refuse(earlier, cart)
    log.info(
        "order.placed",
        number=order.number,
        total=order.total,
        pickup=bool(cart.pickup_warehouse_id),
    )
    await announce_order(jobs, order)
    await enqueue_quietly(
        jobs,
        "expire_order",
        order.id,
        job_id=f"expire-order:{order.id}",
        defer_until=order.payment_deadline,
    )
    return PlacedOrder(order, created=True)


def _same_cart_or_refuse(order: Order, cart: Cart) -> PlacedOrder:
    if order.cart_id != cart.id:
        raise DomainError(
            ErrorCode.IDEMPOTENCY_KEY_REUSED,
            "this key placed another cart's order",
            ("idempotencyKey",),
        )
    return PlacedOrder(order, created=False)


def _check_ready(cart: Cart, lines: Sequence[CartLine], now: datetime) -> None:
    on_sale = [
        LineOnSale(
            published=line.variant.product.published,
            release_at=line.variant.product.collection.release_at
            if line.variant.product.collection
            else None,
        )
        for line in sorted(lines, key=lambda x: x.id)  # as the shopper added them
    ]
    check_ready_to_order(
        has_contact=bool(cart.email or cart.phone),
        delivery_chosen=cart.delivery_kind is not None,
        lines=on_sale,
        now=now,
    )


async def _place(cart: Cart, placing: Placing) -> Order:
    now = placing.now
    infos = await warehouse_infos()
    ranked = ranked_for(infos, cart.pickup_warehouse_id)
    shops = {w for w, info in infos.items() if info.is_shop}
    async with in_transaction() as conn:
        # The cart's lines are read under its lock: a cart submitted twice at once (even with
        # two keys) becomes one order; the second finds it empty.
        await lock_cart(conn, cart.id)
        lines = (
            await CartLine.filter(cart_id=cart.id)
            .order_by("variant_id")
            .prefetch_related("variant__product__collection")
        )
        _check_ready(cart, lines, now)
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
        order.number = f"V-{order.id:06d}"
        await Order.filter(id=order.id).update(number=order.number)
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
        for line in lines:  # in variant order: the lock order
            path = _line_path(lines, line)
            await _order_line(conn, order, cart, line, ranked, shops, placing, path)
        await OrderStatusChange.create(
            order_id=order.id, to_status=OrderStatus.AWAITING_PAYMENT, reason="placed", at=now
        )
        await CartLine.filter(cart_id=cart.id).delete()
        await _record_placed(order, cart, now)
        if placing.ask_shops_now:
            await ask_shops(order, now=now)
    return order


async def _record_placed(order: Order, cart: Cart, now: datetime) -> None:
    """Tell 1C and RetailCRM, through the outbox, in this transaction."""
    if cart.customer_id is not None:  # placed signed in: the account's order, whatever contact
        customer, changed = await Customer.get(id=cart.customer_id), False
    else:
        customer, changed = await customer_for_contact(
            email=cart.email, phone=cart.phone, first_name=cart.first_name, last_name=cart.last_name
        )
    order.customer_id = customer.id
    await Order.filter(id=order.id).update(customer_id=customer.id)
    if changed:
        # RetailCRM gets the customer with the order (it refuses orders of unknown customers,
        # and a separate event would cost a refused create and an edit per order at 10 calls/s).
        await record_event(
            kind=EventKind.CUSTOMER_UPSERTED,
            record=customer_record(customer),
            now=now,
            targets=(Target.ONEC,),
        )
    placed = await order_record(order, customer)
    await record_event(kind=EventKind.ORDER_PLACED, record=placed, now=now)
    await partner_events.record_order_placed(order, now=now)


def _line_path(lines: Sequence[CartLine], line: CartLine) -> tuple[str | int, ...]:
    """Where the line stands in the cart as the shopper sees it (lines in the order added)."""
    return ("lines", sorted(x.id for x in lines).index(line.id))


async def _order_line(
    conn: BaseDBAsyncClient,
    order: Order,
    cart: Cart,
    line: CartLine,
    ranked: list[int],
    shops: set[int],
    placing: Placing,
    path: tuple[str | int, ...],
) -> None:
    variant, now = line.variant, placing.now
    order_line = await OrderLine.create(
        order_id=order.id,
        variant_id=variant.id,
        quantity=line.quantity,
        unit_price=variant.price,
        product_name=variant.product.name,
        sku=variant.sku,
    )
    if not await _adopt_holds(conn, line, order_line.id, ranked, shops, now):
        try:
            await reserve(
                conn,
                variant_id=variant.id,
                quantity=line.quantity,
                ranked=ranked,
                shops=shops,
                claim=Claim(ReservationState.ACTIVE, order_line_id=order_line.id),
                now=now,
            )
        except DomainError as error:
            raise error.at(*path) from None
    # Counted after the stock row is locked: concurrent orders of this variant queue here.
    await check_within_purchase_limit(
        variant,
        cart,
        line.quantity,
        device=placing.device,
        now=now,
        already_ordered=line.quantity,
        path=path,
    )


async def _adopt_holds(
    conn: BaseDBAsyncClient,
    line: CartLine,
    order_line_id: int,
    ranked: list[int],
    shops: set[int],
    now: datetime,
) -> bool:
    """Turn the line's live cart holds into the order's reservations, if they cover it exactly
    and sit where this delivery may be served from; otherwise give them back."""
    holds = await Reservation.filter(cart_line_id=line.id, state=ReservationState.HELD)
    if not holds:
        return False
    await lock_levels(conn, line.variant_id, sorted({h.warehouse_id for h in holds}))
    holds = await Reservation.filter(cart_line_id=line.id, state=ReservationState.HELD)
    live = [h for h in holds if h.expires_at is not None and h.expires_at > now]
    fits = all(h.warehouse_id in ranked for h in live)
    if live and fits and sum(h.quantity for h in live) == line.quantity and len(live) == len(holds):
        for hold in live:
            confirmation = shop_confirmation_for(
                from_shop=hold.warehouse_id in shops, state=ReservationState.ACTIVE
            )
            await Reservation.filter(id=hold.id, state=ReservationState.HELD).update(
                state=ReservationState.ACTIVE,
                order_line_id=order_line_id,
                expires_at=None,
                shop_confirmation=confirmation,
            )
        return True
    await release(conn, [h.id for h in holds], now=now, locked=True)
    return False


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
