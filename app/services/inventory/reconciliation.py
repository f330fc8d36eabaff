"""Exact reconciliation with 1C: a reservation leaves the buffer once 1C's figure counts it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from app.domain.errors import DomainError, ErrorCode
from app.domain.reservations import (
    ReservationState,
    reconciled_by_snapshot,
    reconciled_on_registration,
)
from app.models.orders import Order
from app.models.stock import Reservation, StockLevel
from app.services.inventory.reservations import lock_reservation_positions, release

_CHUNK = 900
Position = tuple[int, int]


async def register_order(
    *, order_guid: str, registered_at: datetime, onec_number: str, now: datetime
) -> int:
    """Store 1C's registration time on the order's reservations (1C's answer to our order).

    A stock figure that arrived earlier but is newer than the registration already counts
    these units, so they leave the buffer now. Repeats change nothing. Returns units released.
    """
    registered_at = registered_at.astimezone(UTC)  # stored and compared in UTC
    async with in_transaction() as conn:
        order = await Order.get_or_none(guid=order_guid)
        if order is None:
            raise DomainError(ErrorCode.ORDER_NOT_FOUND, "no such order", ("orderGuid",))
        if order.registered_at is None:
            await Order.filter(id=order.id).update(
                registered_at=registered_at, onec_number=onec_number
            )
        pending = await Reservation.filter(
            order_line__order_id=order.id, state=ReservationState.ACTIVE, registered_at=None
        )
        ids = [r.id for r in pending]
        await lock_reservation_positions(conn, ids)
        await Reservation.filter(id__in=ids, registered_at=None).update(registered_at=registered_at)
        as_of = await _stock_as_of({(r.variant_id, r.warehouse_id) for r in pending})
        counted = [
            r.id
            for r in pending
            if reconciled_on_registration(registered_at, as_of.get((r.variant_id, r.warehouse_id)))
        ]
        return await release(
            conn, counted, now=now, locked=True, to_state=ReservationState.RECONCILED
        )


async def _stock_as_of(positions: set[Position]) -> dict[Position, datetime | None]:
    found: dict[Position, datetime | None] = {}
    for variant_id in {v for v, _ in positions}:
        for level in await StockLevel.filter(variant_id=variant_id):
            found[(variant_id, level.warehouse_id)] = level.as_of
    return found


async def reconcile_snapshots(
    conn: BaseDBAsyncClient, applied: Mapping[Position, datetime], *, now: datetime
) -> int:
    """After new figures landed (rows locked), release the reservations they already count."""
    variant_ids = sorted({v for v, _ in applied})
    counted: list[int] = []
    for start in range(0, len(variant_ids), _CHUNK):
        registered = await Reservation.filter(
            variant_id__in=variant_ids[start : start + _CHUNK],
            state=ReservationState.ACTIVE,
            registered_at__isnull=False,
        )
        counted += [
            r.id
            for r in registered
            if (r.variant_id, r.warehouse_id) in applied
            and reconciled_by_snapshot(r.registered_at, applied[(r.variant_id, r.warehouse_id)])
        ]
    reconciled = await release(
        conn, counted, now=now, locked=True, to_state=ReservationState.RECONCILED
    )
    return reconciled + await _end_withholding(conn, applied, variant_ids, now)


async def _end_withholding(
    conn: BaseDBAsyncClient,
    applied: Mapping[Position, datetime],
    variant_ids: list[int],
    now: datetime,
) -> int:
    """Units a shop said were missing or faulty stay off sale until 1C's next figure for that
    position: that figure is the shop's own count, so they go back into the free stock now."""
    withheld: list[int] = []
    for start in range(0, len(variant_ids), _CHUNK):
        rows = await Reservation.filter(
            variant_id__in=variant_ids[start : start + _CHUNK], state=ReservationState.WITHHELD
        )
        withheld += [r.id for r in rows if (r.variant_id, r.warehouse_id) in applied]
    return await release(conn, withheld, now=now, locked=True)
