"""Read what shoppers may buy: the inputs of the availability rule, batched per request."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from app.domain.availability import StockPosition
from app.domain.reservations import ReservationState
from app.models.catalog import Warehouse
from app.models.stock import Reservation, StockLevel


async def stock_positions(
    variant_ids: Sequence[int], *, now: datetime, warehouses: Sequence[Warehouse] | None = None
) -> dict[int, list[StockPosition]]:
    """Per variant, one position per warehouse (allocation order), zeros included.

    A cart hold whose time has passed is not counted even if no job has released it yet.
    """
    if warehouses is None:
        warehouses = await Warehouse.all().order_by("priority", "id")
    levels: dict[tuple[int, int], tuple[int, int]] = {}
    # four integers a row, not models: a catalog page reads hundreds of rows, and building a
    # model parses its instants (a string each on SQLite) that availability never looks at
    # (`values`, not `values_list`: tortoise converts each value of a list row in Python)
    for row in await StockLevel.filter(variant_id__in=list(variant_ids)).values(
        "variant_id", "warehouse_id", "on_hand", "buffer"
    ):
        levels[(row["variant_id"], row["warehouse_id"])] = (row["on_hand"], row["buffer"])
    stale = await _expired_holds(variant_ids, now)
    # Positions are immutable, so equal ones are one object: a page's hundreds of variants
    # hold a few distinct figures per warehouse (zeros above all), and building a frozen
    # dataclass costs more than finding it again.
    made: dict[tuple[int, int, int], StockPosition] = {}

    def position(v: int, w: Warehouse) -> StockPosition:
        on_hand, buffer = levels.get((v, w.id), (0, 0))
        key = (w.id, on_hand, buffer - stale.get((v, w.id), 0))
        found = made.get(key)
        if found is None:
            found = made[key] = StockPosition(
                warehouse_id=w.id, on_hand=key[1], buffer=key[2], sellable=w.sellable_online
            )
        return found

    return {v: [position(v, w) for w in warehouses] for v in variant_ids}


async def _expired_holds(variant_ids: Sequence[int], now: datetime) -> dict[tuple[int, int], int]:
    expired: dict[tuple[int, int], int] = defaultdict(int)
    rows = await Reservation.filter(
        variant_id__in=list(variant_ids), state=ReservationState.HELD, expires_at__lte=now
    ).values_list("variant_id", "warehouse_id", "quantity")
    for variant_id, warehouse_id, qty in rows:
        expired[(variant_id, warehouse_id)] += qty
    return expired
