"""How an order went out (carrier and tracking), as 1C reported it: on the order page."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import strawberry
from strawberry.dataloader import DataLoader

from app.models.channels import OrderShipment
from app.schema.context import Info

_LOADER = "_shipments_by_order"  # kept on the request's context: one loader per request


@strawberry.type
class Shipment:
    carrier: str = strawberry.field(description="e.g. СДЭК, Почта России; empty if not known")
    tracking_number: str = strawberry.field(description="the carrier's; may be empty")
    shipped_at: datetime


async def _shipments(order_ids: Sequence[int]) -> list[OrderShipment | None]:
    rows = await OrderShipment.filter(order_id__in=list(order_ids))
    by_order = {row.order_id: row for row in rows}
    return [by_order.get(order_id) for order_id in order_ids]


async def shipment_of(info: Info, order_id: int) -> Shipment | None:
    """The order's shipment, one query per request for every order shown (me.orders)."""
    loader: DataLoader[int, OrderShipment | None] | None = getattr(info.context, _LOADER, None)
    if loader is None:
        loader = DataLoader(load_fn=_shipments)
        setattr(info.context, _LOADER, loader)
    row = await loader.load(order_id)
    if row is None:
        return None
    return Shipment(
        carrier=row.carrier, tracking_number=row.tracking_number, shipped_at=row.shipped_at
    )
