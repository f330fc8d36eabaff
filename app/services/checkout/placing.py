"""The steps of placing one order (`orders.place_order` runs them in one transaction): the
cart's lines read once with their variants, products and drops, a refusal before anything is
written when a line is sold out, the lines' reservations, and the outbox rows written from
the rows in hand (nothing just written is read back)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from tortoise.backends.base.client import BaseDBAsyncClient

from app.db import connection
from app.domain.allocation import insufficient_stock
from app.domain.availability import available_to_holder
from app.domain.checkout import LineOnSale, check_ready_to_order
from app.domain.errors import DomainError
from app.domain.outbox import EventKind, Target
from app.domain.reservations import ReservationState, shop_confirmation_for
from app.models.catalog import Warehouse
from app.models.checkout import Cart, CartLine
from app.models.checkout_sql import StockView
from app.models.customers import Customer
from app.models.drop_sql import lines_with_drops
from app.models.orders import Order, OrderLine
from app.models.outbox import OutboxEvent
from app.models.stock import Reservation, lock_levels
from app.services.checkout.carts import ranked_for
from app.services.checkout.customers import customer_for_contact
from app.services.inventory.reservations import (
    Claim,
    confirm_ahead,
    infos_of,
    release,
    reserve,
    reserve_ahead,
)
from app.services.outbox.record import customer_record, event_rows, order_record_of


@dataclass(frozen=True)
class Serving:
    """Where this cart's lines may come from: warehouses in the order they are tried."""

    ranked: list[int]
    shops: set[int]
    warehouses: dict[int, Warehouse]

    @classmethod
    def of(cls, stock: StockView, pickup_warehouse_id: int | None) -> Serving:
        infos = infos_of(stock.warehouses)
        return cls(
            ranked=ranked_for(infos, pickup_warehouse_id),
            shops={w for w, info in infos.items() if info.is_shop},
            warehouses={w.id: w for w in stock.warehouses},
        )


@dataclass(frozen=True)
class PlacedLine:
    """An order line just written (its variant and product in hand) and what serves it."""

    line: OrderLine
    reservations: list[Reservation]


async def cart_lines(cart_id: int) -> list[CartLine]:
    """The cart's lines in variant order (the lock order), with variant, product and drop: one
    statement (a join)."""
    return await lines_with_drops(connection(), cart_id)


def check_ready(cart: Cart, lines: Sequence[CartLine], now: datetime) -> None:
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


def line_path(lines: Sequence[CartLine], line: CartLine) -> tuple[str | int, ...]:
    """Where the line stands in the cart as the shopper sees it (lines in the order added)."""
    return ("lines", sorted(x.id for x in lines).index(line.id))


def check_in_stock(lines: Sequence[CartLine], stock: StockView, ranked: list[int]) -> None:
    """Refuse a line that the committed stock cannot serve, before anything is written.

    An early answer only: the conditional UPDATE of each line stays the step that makes a
    reservation happen, so a line that passes here may still be refused there."""
    for line in sorted(lines, key=lambda x: x.id):
        own = stock.own_holds.get(line.variant_id, {})
        free = available_to_holder(stock.positions(line.variant_id), ranked, own)
        if free < line.quantity:
            raise insufficient_stock(free, line_path(lines, line))


async def write_order_line(order: Order, line: CartLine) -> OrderLine:
    """The order line of a cart line, its variant (and product) in hand for the record."""
    variant = line.variant
    written = await OrderLine.create(
        order_id=order.id,
        variant_id=variant.id,
        quantity=line.quantity,
        unit_price=variant.price,
        product_name=variant.product.name,
        sku=variant.sku,
    )
    written.variant = variant  # with its product: the outbox record needs both
    return written


async def serve_line(
    conn: BaseDBAsyncClient,
    line: CartLine,
    ordered: OrderLine,
    serving: Serving,
    *,
    holds: bool,
    ahead: Reservation | None,
    now: datetime,
    path: tuple[str | int, ...],
) -> PlacedLine:
    """Reserve the order line's units: the cart line's own live holds if they fit (`holds`:
    it has some), else the reservation written `ahead` if its warehouse has them all, else
    one conditional UPDATE per warehouse it is served from."""
    adopted = await _adopt_holds(conn, line, ordered.id, serving, now) if holds else None
    if adopted is not None:
        return PlacedLine(ordered, adopted)
    if ahead is not None and await confirm_ahead(conn, ahead, now=now):
        return PlacedLine(ordered, [ahead])
    try:
        reservations = await reserve(
            conn,
            variant_id=line.variant_id,
            quantity=line.quantity,
            ranked=serving.ranked,
            shops=serving.shops,
            claim=Claim(ReservationState.ACTIVE, order_line_id=ordered.id),
            now=now,
        )
    except DomainError as error:
        raise error.at(*path) from None
    return PlacedLine(ordered, reservations)


async def reserve_lines_ahead(
    written: Sequence[OrderLine], serving: Serving
) -> list[Reservation | None]:
    """Each order line's fast-path reservation, written before any stock row is locked."""
    return [
        await reserve_ahead(
            variant_id=line.variant_id,
            quantity=line.quantity,
            ranked=serving.ranked,
            shops=serving.shops,
            claim=Claim(ReservationState.ACTIVE, order_line_id=line.id),
        )
        for line in written
    ]


async def _adopt_holds(
    conn: BaseDBAsyncClient,
    line: CartLine,
    order_line_id: int,
    serving: Serving,
    now: datetime,
) -> list[Reservation] | None:
    """Turn the line's live cart holds into the order's reservations, if they cover it exactly
    and sit where this delivery may be served from; otherwise give them back (None)."""
    holds = await Reservation.filter(cart_line_id=line.id, state=ReservationState.HELD)
    if not holds:
        return None
    await lock_levels(conn, line.variant_id, sorted({h.warehouse_id for h in holds}))
    holds = await Reservation.filter(cart_line_id=line.id, state=ReservationState.HELD)
    live = [h for h in holds if h.expires_at is not None and h.expires_at > now]
    fits = all(h.warehouse_id in serving.ranked for h in live)
    if live and fits and sum(h.quantity for h in live) == line.quantity and len(live) == len(holds):
        for hold in live:
            confirmation = shop_confirmation_for(
                from_shop=hold.warehouse_id in serving.shops, state=ReservationState.ACTIVE
            )
            await Reservation.filter(id=hold.id, state=ReservationState.HELD).update(
                state=ReservationState.ACTIVE,
                order_line_id=order_line_id,
                expires_at=None,
                shop_confirmation=confirmation,
            )
            hold.state, hold.order_line_id, hold.expires_at = (
                ReservationState.ACTIVE,
                order_line_id,
                None,
            )
            hold.shop_confirmation = confirmation
        return live
    await release(conn, [h.id for h in holds], now=now, locked=True)
    return None


async def customer_of(cart: Cart) -> tuple[Customer, bool]:
    """The order's customer, and whether its record changed (RetailCRM and 1C hear of it)."""
    if cart.customer_id is not None:  # placed signed in: the account's order, whatever contact
        return await Customer.get(id=cart.customer_id), False
    return await customer_for_contact(
        email=cart.email, phone=cart.phone, first_name=cart.first_name, last_name=cart.last_name
    )


def outbox_rows(
    order: Order,
    customer: tuple[Customer, bool],
    placed: Sequence[PlacedLine],
    serving: Serving,
    now: datetime,
) -> list[OutboxEvent]:
    """The rows that tell 1C and RetailCRM (written together, in the order's transaction)."""
    who, changed = customer
    rows = []
    if changed:
        # RetailCRM gets the customer with the order (it refuses orders of unknown customers,
        # and a separate event would cost a refused create and an edit per order at 10 calls/s).
        rows += event_rows(
            kind=EventKind.CUSTOMER_UPSERTED,
            record=customer_record(who),
            now=now,
            targets=(Target.ONEC,),
        )
    reservations = [r for p in placed for r in p.reservations]
    for reservation in reservations:
        reservation.warehouse = serving.warehouses[reservation.warehouse_id]
    pickup = serving.warehouses.get(order.pickup_warehouse_id or 0)
    record = order_record_of(order, who, [p.line for p in placed], reservations, pickup)
    return rows + event_rows(kind=EventKind.ORDER_PLACED, record=record, now=now)
