"""What admission reads from the database once per tick: a drop's free units, the units cart
holds keep (they may come back), who holds them and who ordered since the last tick."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from app.domain.availability import available
from app.domain.reservations import ReservationState
from app.domain.waiting_room import DropStock
from app.models.catalog import Variant
from app.models.orders import OrderLine
from app.models.stock import Reservation
from app.services.inventory.availability import stock_positions


@dataclass(frozen=True, slots=True, kw_only=True)
class DropReading:
    stock: DropStock
    holding_devices: list[str]  # devices whose carts hold the drop's units now
    ordered_devices: list[str]  # devices that placed an order of the drop after `order_seen`
    order_seen: int  # the newest order id read


async def read_drop(collection_id: int, *, order_seen: int, now: datetime) -> DropReading:
    """The drop's figures at `now` through the one availability rule (holds whose time has
    passed are not counted, as shoppers see it)."""
    ids: list[int] = await Variant.filter(
        product__collection_id=collection_id, product__published=True
    ).values_list("id", flat=True)  # type: ignore[assignment]
    positions = await stock_positions(ids, now=now) if ids else {}
    free = sum(available(p) for p in positions.values())
    holds = await Reservation.filter(
        variant_id__in=ids, state=ReservationState.HELD, expires_at__gt=now
    ).values_list("quantity", "cart_line__cart__device")
    orders = await OrderLine.filter(variant_id__in=ids, order_id__gt=order_seen).values_list(
        "order_id", "order__device"
    )
    return DropReading(
        stock=DropStock(free_units=free, returnable_units=sum(int(q) for q, _ in holds)),
        holding_devices=sorted({str(d) for _, d in holds if d}),
        ordered_devices=sorted({str(d) for _, d in orders if d}),
        order_seen=max([order_seen, *(int(o) for o, _ in orders)]),
    )
