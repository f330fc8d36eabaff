"""Order aggregate: the order, its lines, its status history and its payments."""

from __future__ import annotations

from datetime import datetime

from tortoise import fields
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model

from app.domain.orders import DeliveryKind, OrderStatus
from app.domain.payments import PaymentStatus, RefundStatus
from app.models.catalog import Collection, Variant, Warehouse
from app.models.checkout import Cart
from app.models.customers import Customer
from app.models.sql import is_postgres, placeholders, sql_instant


class Order(Model):
    id = fields.IntField(primary_key=True)
    guid = fields.CharField(max_length=36, unique=True)
    number = fields.CharField(max_length=20, unique=True)
    token = fields.CharField(max_length=64, unique=True, description="the shopper's secret")
    idempotency_key = fields.CharField(max_length=100, unique=True)
    cart: fields.ForeignKeyNullableRelation[Cart] = fields.ForeignKeyField(
        "models.Cart", related_name="orders", null=True, on_delete=fields.SET_NULL
    )
    customer: fields.ForeignKeyNullableRelation[Customer] = fields.ForeignKeyField(
        "models.Customer", related_name="orders", null=True, on_delete=fields.RESTRICT
    )
    status = fields.CharEnumField(OrderStatus, max_length=32, db_index=True)
    email = fields.CharField(max_length=254, null=True, db_index=True)
    phone = fields.CharField(max_length=20, null=True, db_index=True)
    phone_raw = fields.CharField(max_length=64, null=True, description="as the shopper typed it")
    first_name = fields.CharField(max_length=100, default="")
    last_name = fields.CharField(max_length=100, default="")
    delivery_kind = fields.CharEnumField(DeliveryKind, max_length=16)
    delivery_address = fields.CharField(max_length=500, default="")
    pickup_warehouse: fields.ForeignKeyNullableRelation[Warehouse] = fields.ForeignKeyField(
        "models.Warehouse", related_name="pickup_orders", null=True, on_delete=fields.RESTRICT
    )
    total = fields.BigIntField(description="kopecks")
    payment_deadline = fields.DatetimeField(db_index=True)
    registered_at = fields.DatetimeField(null=True, description="1C's clock")
    onec_number = fields.CharField(max_length=50, null=True, description="1C ЗаказКлиента №")
    device = fields.CharField(max_length=32, null=True, description="placed from")
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    cart_id: int | None
    customer_id: int | None
    pickup_warehouse_id: int | None

    class Meta:
        table = "orders"
        indexes = (("device",), ("cart_id",))


class OrderLine(Model):
    id = fields.IntField(primary_key=True)
    order: fields.ForeignKeyRelation[Order] = fields.ForeignKeyField(
        "models.Order", related_name="lines", on_delete=fields.CASCADE
    )
    variant: fields.ForeignKeyRelation[Variant] = fields.ForeignKeyField(
        "models.Variant", related_name="order_lines", on_delete=fields.RESTRICT
    )
    quantity = fields.IntField()
    unit_price = fields.BigIntField(description="kopecks, as sold")
    product_name = fields.CharField(max_length=300)
    sku = fields.CharField(max_length=64)
    unavailable = fields.IntField(default=0, description="units no warehouse could serve")

    order_id: int
    variant_id: int

    class Meta:
        table = "order_line"


class OrderStatusChange(Model):
    id = fields.IntField(primary_key=True)
    order: fields.ForeignKeyRelation[Order] = fields.ForeignKeyField(
        "models.Order", related_name="history", on_delete=fields.CASCADE
    )
    from_status = fields.CharEnumField(OrderStatus, max_length=32, null=True)
    to_status = fields.CharEnumField(OrderStatus, max_length=32)
    reason = fields.CharField(max_length=200, default="")
    at = fields.DatetimeField()

    order_id: int

    class Meta:
        table = "order_status_change"


class Payment(Model):
    """One attempt to take money for an order; written before the provider is asked, so a
    notification or a crash between the two never leaves a charge we know nothing about."""

    id = fields.IntField(primary_key=True)
    guid = fields.CharField(max_length=36, unique=True, description="Idempotence-Key, metadata")
    order: fields.ForeignKeyRelation[Order] = fields.ForeignKeyField(
        "models.Order", related_name="payments", on_delete=fields.RESTRICT
    )
    idempotency_key = fields.CharField(max_length=100, null=True, description="the client's")
    provider = fields.CharField(max_length=32)
    provider_payment_id = fields.CharField(max_length=100, null=True)
    status = fields.CharEnumField(PaymentStatus, max_length=32, db_index=True)
    amount = fields.BigIntField(description="kopecks: asked for, then as captured")
    refunded = fields.BigIntField(default=0, description="kopecks refunded so far")
    confirmation_url = fields.CharField(max_length=1000, null=True)
    paid_at = fields.DatetimeField(null=True, description="authorised or captured")
    cancellation_reason = fields.CharField(max_length=100, null=True)
    checked_at = fields.DatetimeField(null=True, description="last read from the provider")
    surplus = fields.BooleanField(
        default=False, description="holds money the order does not need: given back by itself"
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    order_id: int

    class Meta:
        table = "payment"
        unique_together = (("provider", "provider_payment_id"), ("order", "idempotency_key"))


class Refund(Model):
    """Money given back on a payment: asked for by the finance team, or automatically."""

    id = fields.IntField(primary_key=True)
    guid = fields.CharField(max_length=36, unique=True, description="Idempotence-Key")
    payment: fields.ForeignKeyRelation[Payment] = fields.ForeignKeyField(
        "models.Payment", related_name="refunds", on_delete=fields.RESTRICT
    )
    provider_refund_id = fields.CharField(max_length=100, null=True, unique=True)
    amount = fields.BigIntField(description="kopecks")
    status = fields.CharEnumField(RefundStatus, max_length=16, db_index=True)
    reason = fields.CharField(max_length=250, default="")
    requested_by = fields.CharField(max_length=100, description="'auto' or the admin token name")
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    payment_id: int

    class Meta:
        table = "refund"


async def lock_order(conn: BaseDBAsyncClient, order_id: int) -> None:
    """Serialise what is done to one order's money (payments reported at once, an expiry):
    its row is locked first. On SQLite a write makes the transaction the single writer."""
    if is_postgres(conn):
        await conn.execute_query("SELECT id FROM orders WHERE id = $1 FOR UPDATE", [order_id])
    else:
        await conn.execute_query("UPDATE orders SET id = id WHERE id = ?", [order_id])


class DropOrderClaim(Model):
    """One shopper identity's latest order in a drop (the one-unpaid-order rule).

    While that order waits for payment, no other order with this identity takes the drop's
    variants; once it is paid, cancelled or past its time, the next order takes the claim."""

    id = fields.IntField(primary_key=True)
    collection: fields.ForeignKeyRelation[Collection] = fields.ForeignKeyField(
        "models.Collection", related_name="order_claims", on_delete=fields.CASCADE
    )
    shopper = fields.CharField(max_length=32, description="digest of one identity")
    order: fields.ForeignKeyRelation[Order] = fields.ForeignKeyField(
        "models.Order", related_name="drop_claims", on_delete=fields.CASCADE
    )

    collection_id: int
    order_id: int

    class Meta:
        table = "drop_order_claim"
        unique_together = (("collection", "shopper"),)


async def claim_drops(
    conn: BaseDBAsyncClient, claims: list[tuple[int, str]], *, order_id: int, now: datetime
) -> set[tuple[int, str]]:
    """Point each (collection, shopper) claim at this order, unless it points at an order still
    waiting for payment and in time; the claims this order won.

    One statement, race-free: a claim another transaction is writing makes this one wait for
    its commit and then read that order (invisible to this statement's snapshot: not won).
    Pass the claims sorted, so that overlapping sets are written in one order (no deadlock).
    """
    values = ", ".join(f"({a}, {b}, {c})" for a, b, c in placeholders(conn, len(claims), 3))
    after = len(claims) * 3
    status, deadline = (f"${after + 1}", f"${after + 2}") if is_postgres(conn) else ("?", "?")
    sql = (
        f"INSERT INTO drop_order_claim (collection_id, shopper, order_id) VALUES {values}"
        " ON CONFLICT (collection_id, shopper) DO UPDATE SET order_id = excluded.order_id"
        " WHERE EXISTS (SELECT 1 FROM orders o WHERE o.id = drop_order_claim.order_id"
        f" AND (o.status <> {status} OR o.payment_deadline <= {deadline}))"
        " RETURNING collection_id, shopper"
    )
    params: list[object] = [v for c, key in claims for v in (c, key, order_id)]
    params += [OrderStatus.AWAITING_PAYMENT.value, sql_instant(conn, now)]
    rows = await conn.execute_query_dict(sql, params)
    return {(row["collection_id"], row["shopper"]) for row in rows}
