"""Shop confirmation aggregate: one request per shop and order, one row per reservation asked.

A request is one Slack message in the shop's channel. Its lines are the order's units reserved
in that shop; each line is decided once (the first decision wins, by a conditional update of
its `state` from `requested`).
"""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model

from app.domain.reservations import ShopConfirmation
from app.domain.shop_confirmation import DeclineReason, RequestState
from app.models.catalog import Warehouse
from app.models.orders import Order, OrderLine
from app.models.stock import Reservation


class ShopRequest(Model):
    id = fields.IntField(primary_key=True)
    order: fields.ForeignKeyRelation[Order] = fields.ForeignKeyField(
        "models.Order", related_name="shop_requests", on_delete=fields.CASCADE
    )
    warehouse: fields.ForeignKeyRelation[Warehouse] = fields.ForeignKeyField(
        "models.Warehouse", related_name="shop_requests", on_delete=fields.RESTRICT
    )
    state = fields.CharEnumField(RequestState, max_length=16, default=RequestState.POSTING)
    channel = fields.CharField(max_length=100, null=True, description="where it was posted")
    message_ts = fields.CharField(max_length=32, null=True, description="Slack's message id")
    created_at = fields.DatetimeField()
    posted_at = fields.DatetimeField(null=True)
    deadline = fields.DatetimeField(null=True, description="posted_at + the window")
    remind_at = fields.DatetimeField(null=True)
    reminded_at = fields.DatetimeField(null=True)
    closed_at = fields.DatetimeField(null=True)

    order_id: int
    warehouse_id: int

    class Meta:
        table = "shop_request"
        indexes = (("state", "deadline"), ("state", "created_at"), ("warehouse_id", "created_at"))


class ShopRequestLine(Model):
    id = fields.IntField(primary_key=True)
    request: fields.ForeignKeyRelation[ShopRequest] = fields.ForeignKeyField(
        "models.ShopRequest", related_name="lines", on_delete=fields.CASCADE
    )
    reservation: fields.ForeignKeyRelation[Reservation] = fields.ForeignKeyField(
        "models.Reservation", related_name="shop_request_lines", on_delete=fields.RESTRICT
    )
    order_line: fields.ForeignKeyRelation[OrderLine] = fields.ForeignKeyField(
        "models.OrderLine", related_name="shop_request_lines", on_delete=fields.CASCADE
    )
    quantity = fields.IntField()
    state = fields.CharEnumField(
        ShopConfirmation, max_length=16, default=ShopConfirmation.REQUESTED
    )
    decided_by = fields.CharField(max_length=100, null=True, description="Slack user id")
    decided_by_name = fields.CharField(max_length=100, null=True)
    decided_at = fields.DatetimeField(null=True)
    reason = fields.CharEnumField(DeclineReason, max_length=32, null=True)
    note = fields.CharField(max_length=200, default="", description="why it moved on by itself")

    request_id: int
    reservation_id: int
    order_line_id: int

    class Meta:
        table = "shop_request_line"
        unique_together = (("reservation",),)


async def decide_once(line_id: int, **changes: Any) -> bool:
    """Write a decision if the line is still waiting: the first decision wins, once."""
    updated = await ShopRequestLine.filter(id=line_id, state=ShopConfirmation.REQUESTED).update(
        **changes
    )
    return bool(updated)
