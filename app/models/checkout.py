"""Checkout aggregate: an anonymous cart, found by its secret token."""

from __future__ import annotations

from tortoise import fields
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model

from app.domain.orders import DeliveryKind
from app.models.catalog import Variant, Warehouse
from app.models.customers import Customer
from app.models.sql import is_postgres


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
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    pickup_warehouse_id: int | None
    customer_id: int | None

    class Meta:
        table = "cart"


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
