"""Checkout aggregate: an anonymous cart, found by its secret token."""

from __future__ import annotations

from datetime import datetime

from tortoise import fields
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model

from app.domain.orders import DeliveryKind
from app.models.catalog import Variant, Warehouse
from app.models.customers import Customer
from app.models.sql import is_postgres, sql_instant


class Cart(Model):
    id = fields.IntField(primary_key=True)
    token = fields.CharField(max_length=64, unique=True)
    email = fields.CharField(max_length=254, null=True)
    phone = fields.CharField(max_length=20, null=True)
    phone_raw = fields.CharField(max_length=64, null=True, description="as the shopper typed it")
    first_name = fields.CharField(max_length=100, default="")
    last_name = fields.CharField(max_length=100, default="")
    delivery_kind = fields.CharEnumField(DeliveryKind, max_length=16, null=True)
    delivery_address = fields.CharField(max_length=500, default="")
    pickup_warehouse: fields.ForeignKeyNullableRelation[Warehouse] = fields.ForeignKeyField(
        "models.Warehouse", related_name="pickup_carts", null=True, on_delete=fields.SET_NULL
    )
    customer: fields.ForeignKeyNullableRelation[Customer] = fields.ForeignKeyField(
        "models.Customer", related_name="carts", null=True, on_delete=fields.SET_NULL
    )
    device = fields.CharField(max_length=32, null=True, description="the last device to change it")
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    pickup_warehouse_id: int | None
    customer_id: int | None

    class Meta:
        table = "cart"
        indexes = (("updated_at",), ("device",))


class CartLine(Model):
    id = fields.IntField(primary_key=True)
    cart: fields.ForeignKeyRelation[Cart] = fields.ForeignKeyField(
        "models.Cart", related_name="lines", on_delete=fields.CASCADE
    )
    variant: fields.ForeignKeyRelation[Variant] = fields.ForeignKeyField(
        "models.Variant", related_name="cart_lines", on_delete=fields.CASCADE
    )
    quantity = fields.IntField()
    created_at = fields.DatetimeField(auto_now_add=True)

    cart_id: int
    variant_id: int

    class Meta:
        table = "cart_line"
        unique_together = (("cart", "variant"),)


async def lock_cart(conn: BaseDBAsyncClient, cart_id: int) -> None:
    """Serialise everything done to one cart (edits, placing it): its row is locked first."""
    if is_postgres(conn):
        await conn.execute_query("SELECT id FROM cart WHERE id = $1 FOR UPDATE", [cart_id])


async def lock_and_touch_cart(
    conn: BaseDBAsyncClient, cart_id: int, *, now: datetime, device: str | None
) -> bool:
    """`lock_cart` that also records the shopper's activity (and their device, if known) in
    the same statement: the idle-cart sweep goes by `updated_at`. False: the cart is gone."""
    if is_postgres(conn):
        sql = "UPDATE cart SET updated_at = $1, device = coalesce($2, device) WHERE id = $3"
    else:
        sql = "UPDATE cart SET updated_at = ?, device = coalesce(?, device) WHERE id = ?"
    touched, _ = await conn.execute_query(sql, [sql_instant(conn, now), device, cart_id])
    return bool(touched)


async def lock_idle_carts(conn: BaseDBAsyncClient, *, before: datetime, limit: int) -> list[int]:
    """Lock up to `limit` carts untouched since `before` that still hold lines or that no order
    came from (a cart an order came from is how an account proves the order is its own, so
    it stays). A cart someone is using right now is skipped, not waited for."""
    where = (
        "updated_at <= {at} AND (EXISTS (SELECT 1 FROM cart_line l WHERE l.cart_id = cart.id)"
        " OR NOT EXISTS (SELECT 1 FROM orders o WHERE o.cart_id = cart.id))"
    )
    if is_postgres(conn):
        sql = (
            f"SELECT id FROM cart WHERE {where.format(at='$1')} ORDER BY id LIMIT $2"
            " FOR UPDATE SKIP LOCKED"
        )
    else:  # one writer at a time: nobody else is in a cart now
        sql = f"SELECT id FROM cart WHERE {where.format(at='?')} ORDER BY id LIMIT ?"
    rows = await conn.execute_query_dict(sql, [sql_instant(conn, before), limit])
    return [row["id"] for row in rows]
