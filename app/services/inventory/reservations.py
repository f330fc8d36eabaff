"""The reservation engine: take units into the buffer atomically, give them back exactly once.

Callers own the transaction. Every writer takes stock rows in (variant, warehouse) order and
stock rows before reservation rows, so concurrent orders, cancellations and 1C figures wait
for one another and never deadlock.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from tortoise.backends.base.client import BaseDBAsyncClient

from app.domain.allocation import Allocation, Candidate, WarehouseInfo, allocate
from app.domain.errors import DomainError, ErrorCode
from app.domain.reservations import IN_BUFFER, ReservationState, shop_confirmation_for
from app.models.catalog import Warehouse, WarehouseKind
from app.models.stock import (
    Reservation,
    StockLevel,
    close_reservations,
    lock_levels,
    shrink_buffer,
    try_reserve,
)
from app.services.partners import recording as partner_events


class ReservationConflict(Exception):
    """A conditional update found fewer units than the locked read promised (retry the call)."""


@dataclass(frozen=True)
class Claim:
    """What a reservation is for: a cart hold until `expires_at`, or an order line."""

    state: ReservationState
    cart_line_id: int | None = None
    order_line_id: int | None = None
    expires_at: datetime | None = None


def infos_of(warehouses: Iterable[Warehouse]) -> dict[int, WarehouseInfo]:
    """What allocation needs to know of each warehouse."""
    return {
        w.id: WarehouseInfo(
            id=w.id,
            is_shop=w.kind == WarehouseKind.SHOP,
            priority=w.priority,
            sellable_online=w.sellable_online,
        )
        for w in warehouses
    }


async def warehouse_infos() -> dict[int, WarehouseInfo]:
    return infos_of(await Warehouse.all())


async def reserve(
    conn: BaseDBAsyncClient,
    *,
    variant_id: int,
    quantity: int,
    ranked: Sequence[int],
    shops: set[int],
    claim: Claim,
    now: datetime,
) -> list[Reservation]:
    """Put `quantity` units of a variant in the buffer, from warehouses tried in `ranked` order.

    Raises INSUFFICIENT_STOCK (with what is available) when the warehouses cannot serve it.
    """
    if not ranked:
        raise DomainError(ErrorCode.INSUFFICIENT_STOCK, "no warehouse can serve this", (), 0)
    # Fast path: the first warehouse has it all (one conditional UPDATE on one hot row).
    if await try_reserve(conn, variant_id, ranked[0], quantity):
        first = Allocation(warehouse_id=ranked[0], quantity=quantity, from_shop=ranked[0] in shops)
        reserved = [await _record(variant_id, first, claim)]
        await partner_events.record_stock_change([variant_id], now=now)
        return reserved
    levels = await lock_levels(conn, variant_id, list(ranked))
    if await _release_expired_holds(conn, variant_id, list(levels), now):
        levels = await lock_levels(conn, variant_id, list(ranked))
    candidates = [
        Candidate(warehouse_id=w, free=levels[w][0] - levels[w][1], is_shop=w in shops)
        for w in ranked
        if w in levels
    ]
    reservations = []
    for allocation in allocate(quantity, candidates):
        if not await try_reserve(conn, variant_id, allocation.warehouse_id, allocation.quantity):
            raise ReservationConflict(variant_id)
        reservations.append(await _record(variant_id, allocation, claim))
    await partner_events.record_stock_change([variant_id], now=now)
    return reservations


async def reserve_ahead(
    *, variant_id: int, quantity: int, ranked: Sequence[int], shops: set[int], claim: Claim
) -> Reservation | None:
    """Write the reservation the fast path makes (all units from the first warehouse tried)
    before that warehouse's stock row is locked, so that the lock is held for the conditional
    UPDATE and the commit alone. Only this transaction sees the row until it commits, and
    `confirm_ahead` either backs it with the buffer or removes it: the books balance at commit.
    """
    if not ranked:
        return None
    first = Allocation(warehouse_id=ranked[0], quantity=quantity, from_shop=ranked[0] in shops)
    return await _record(variant_id, first, claim)


async def confirm_ahead(
    conn: BaseDBAsyncClient, reservation: Reservation, *, now: datetime
) -> bool:
    """The fast path's conditional UPDATE for a reservation written ahead; False (the row is
    removed) when its warehouse cannot serve all of it: then `reserve` as usual."""
    variant_id, warehouse_id = reservation.variant_id, reservation.warehouse_id
    if await try_reserve(conn, variant_id, warehouse_id, reservation.quantity):
        await partner_events.record_stock_change([variant_id], now=now)
        return True
    await Reservation.filter(id=reservation.id).delete()
    return False


async def _record(variant_id: int, allocation: Allocation, claim: Claim) -> Reservation:
    return await Reservation.create(
        variant_id=variant_id,
        warehouse_id=allocation.warehouse_id,
        quantity=allocation.quantity,
        state=claim.state,
        cart_line_id=claim.cart_line_id,
        order_line_id=claim.order_line_id,
        expires_at=claim.expires_at,
        shop_confirmation=shop_confirmation_for(from_shop=allocation.from_shop, state=claim.state),
    )


async def _release_expired_holds(
    conn: BaseDBAsyncClient, variant_id: int, warehouse_ids: list[int], now: datetime
) -> int:
    expired = await Reservation.filter(
        variant_id=variant_id,
        warehouse_id__in=warehouse_ids,
        state=ReservationState.HELD,
        expires_at__lte=now,
    ).values_list("id", "quantity")
    return await release(conn, [rid for rid, _ in expired], now=now, locked=True)


async def release(
    conn: BaseDBAsyncClient,
    ids: Iterable[int],
    *,
    now: datetime,
    locked: bool = False,
    to_state: ReservationState = ReservationState.RELEASED,
) -> int:
    """Give reservations back: each leaves the buffer once, however often this is called."""
    ids = sorted(set(ids))
    if not ids:
        return 0
    if not locked:
        await lock_reservation_positions(conn, ids)
    moved = await close_reservations(conn, ids, from_states=IN_BUFFER, to_state=to_state, now=now)
    totals: dict[tuple[int, int], int] = defaultdict(int)
    for row in moved:
        totals[(row["variant_id"], row["warehouse_id"])] += row["quantity"]
    for (variant_id, warehouse_id), qty in sorted(totals.items()):
        await shrink_buffer(conn, variant_id, warehouse_id, qty)
    await partner_events.record_stock_change((v for v, _ in totals), now=now)
    return sum(totals.values())


async def lock_reservation_positions(conn: BaseDBAsyncClient, reservation_ids: list[int]) -> None:
    """Lock the stock rows under these reservations, in (variant, warehouse) order."""
    positions = await Reservation.filter(id__in=reservation_ids).values_list(
        "variant_id", "warehouse_id"
    )
    by_variant: dict[int, set[int]] = defaultdict(set)
    for variant_id, warehouse_id in positions:
        by_variant[variant_id].add(warehouse_id)
    for variant_id in sorted(by_variant):
        await lock_levels(conn, variant_id, sorted(by_variant[variant_id]))


async def buffer_matches_reservations() -> list[tuple[int, int, int, int]]:
    """Positions whose buffer differs from the sum of their held and active reservations.

    Empty when the books balance; the tests and the ops team use it to prove invariant 1.
    """
    sums: dict[tuple[int, int], int] = defaultdict(int)
    for variant_id, warehouse_id, qty in await Reservation.filter(
        state__in=list(IN_BUFFER)
    ).values_list("variant_id", "warehouse_id", "quantity"):
        sums[(variant_id, warehouse_id)] += qty
    wrong = []
    for variant_id, warehouse_id, buffer in await StockLevel.all().values_list(
        "variant_id", "warehouse_id", "buffer"
    ):
        expected = sums.pop((variant_id, warehouse_id), 0)
        if buffer != expected:
            wrong.append((variant_id, warehouse_id, buffer, expected))
    wrong += [(v, w, 0, q) for (v, w), q in sums.items() if q]
    return wrong
