"""What happens elsewhere, as it came in: shop till receipts, shipments and returns reported by
1C, and the cursors of the histories we pull from RetailCRM."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from app.domain.shop_sales import ReceiptKind
from app.models.catalog import Variant, Warehouse
from app.models.orders import Order, Refund


class ShopReceipt(Model):
    """A till receipt (ЧекККМ) or a return receipt (ЧекККМВозврат) from 1C:Розница."""

    id = fields.IntField(primary_key=True)
    guid = fields.CharField(max_length=36, unique=True, description="1C's receipt GUID")
    kind = fields.CharEnumField(ReceiptKind, max_length=8)
    shop: fields.ForeignKeyRelation[Warehouse] = fields.ForeignKeyField(
        "models.Warehouse", related_name="receipts", on_delete=fields.RESTRICT
    )
    sold_at = fields.DatetimeField(db_index=True, description="1C's clock")
    sale_guid = fields.CharField(max_length=36, null=True, description="a return: its sale")
    phone = fields.CharField(max_length=64, null=True, description="as the till saw it")
    loyalty_card = fields.CharField(max_length=64, null=True)
    email = fields.CharField(max_length=254, null=True)
    customer_guid = fields.CharField(max_length=36, null=True, description="1C Контрагент")
    customer_key = fields.CharField(max_length=300, description="the source record it is in")
    identity_record_id = fields.IntField(null=True, description="the identity source record")
    total = fields.BigIntField(description="kopecks paid (a return: given back)")
    fingerprint = fields.CharField(max_length=64, description="digest of the receipt as sent")
    received_at = fields.DatetimeField()

    shop_id: int
    lines: fields.ReverseRelation[ShopReceiptLine]

    class Meta:
        table = "shop_receipt"
        indexes = (("sale_guid",), ("customer_key",))


class ShopReceiptLine(Model):
    id = fields.IntField(primary_key=True)
    receipt: fields.ForeignKeyRelation[ShopReceipt] = fields.ForeignKeyField(
        "models.ShopReceipt", related_name="lines", on_delete=fields.CASCADE
    )
    variant_guid = fields.CharField(max_length=36)
    variant: fields.ForeignKeyNullableRelation[Variant] = fields.ForeignKeyField(
        "models.Variant",
        related_name="receipt_lines",
        null=True,
        on_delete=fields.RESTRICT,
        description="null: sold in shops only (not in our catalog)",
    )
    quantity = fields.IntField()
    price = fields.BigIntField(description="kopecks per unit")
    discount = fields.BigIntField(description="kopecks off the line")
    amount = fields.BigIntField(description="kopecks paid for the line")

    receipt_id: int
    variant_id: int | None

    class Meta:
        table = "shop_receipt_line"


class OrderShipment(Model):
    """How an order went out, as 1C reported it: the carrier and its tracking number."""

    id = fields.IntField(primary_key=True)
    order: fields.OneToOneRelation[Order] = fields.OneToOneField(
        "models.Order", related_name="shipment", on_delete=fields.CASCADE
    )
    carrier = fields.CharField(max_length=100)
    tracking_number = fields.CharField(max_length=100, default="")
    shipped_at = fields.DatetimeField(description="1C's clock")

    order_id: int

    class Meta:
        table = "order_shipment"


class MarkingCode(Model):
    """A unit's marking code (Честный ЗНАК DataMatrix), one row per unit shipped."""

    id = fields.IntField(primary_key=True)
    order: fields.ForeignKeyRelation[Order] = fields.ForeignKeyField(
        "models.Order", related_name="marking_codes", on_delete=fields.CASCADE
    )
    variant: fields.ForeignKeyRelation[Variant] = fields.ForeignKeyField(
        "models.Variant", related_name="marking_codes", on_delete=fields.RESTRICT
    )
    code = fields.CharField(max_length=255)

    order_id: int
    variant_id: int

    class Meta:
        table = "marking_code"
        unique_together = (("order", "code"),)


class OrderReturn(Model):
    """Units of an order that came back (a 1C return document), and the refund they made."""

    id = fields.IntField(primary_key=True)
    guid = fields.CharField(max_length=36, unique=True, description="1C's return document")
    order: fields.ForeignKeyRelation[Order] = fields.ForeignKeyField(
        "models.Order", related_name="returns", on_delete=fields.CASCADE
    )
    returned_at = fields.DatetimeField(description="1C's clock")
    amount = fields.BigIntField(description="kopecks the units were sold for")
    refund: fields.ForeignKeyNullableRelation[Refund] = fields.ForeignKeyField(
        "models.Refund", related_name="returns", null=True, on_delete=fields.SET_NULL
    )
    reason = fields.CharField(max_length=200, default="")

    order_id: int
    refund_id: int | None

    class Meta:
        table = "order_return"


class OrderReturnLine(Model):
    id = fields.IntField(primary_key=True)
    order_return: fields.ForeignKeyRelation[OrderReturn] = fields.ForeignKeyField(
        "models.OrderReturn", related_name="lines", on_delete=fields.CASCADE
    )
    variant: fields.ForeignKeyRelation[Variant] = fields.ForeignKeyField(
        "models.Variant", related_name="returned_lines", on_delete=fields.RESTRICT
    )
    quantity = fields.IntField()

    order_return_id: int
    variant_id: int

    class Meta:
        table = "order_return_line"


class ReturnedMarkingCode(Model):
    """A marked unit that came back, and with which return (its code is on that return's
    refund receipt): one row per unit, so no later return takes the same code again."""

    id = fields.IntField(primary_key=True)
    order_return: fields.ForeignKeyRelation[OrderReturn] = fields.ForeignKeyField(
        "models.OrderReturn", related_name="marking_codes", on_delete=fields.CASCADE
    )
    marking_code: fields.OneToOneRelation[MarkingCode] = fields.OneToOneField(
        "models.MarkingCode", related_name="returned", on_delete=fields.CASCADE
    )
    named = fields.BooleanField(description="named by the return (else picked by us)")

    order_return_id: int
    marking_code_id: int

    class Meta:
        table = "returned_marking_code"


class HistoryCursor(Model):
    """Where a pulled history stands (RetailCRM's `sinceId`): moved on with each applied page,
    in the page's transaction."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=64, unique=True, description="e.g. retailcrm:orders")
    since_id = fields.BigIntField(default=0, description="the last history id applied")
    updated_at = fields.DatetimeField()

    class Meta:
        table = "history_cursor"
