"""Catalog aggregate: categories, monthly collections, products, variants, warehouses."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class Category(Model):
    id = fields.IntField(primary_key=True)
    guid = fields.CharField(max_length=36, unique=True)
    name = fields.CharField(max_length=200)
    slug = fields.CharField(max_length=200, unique=True)
    parent: fields.ForeignKeyNullableRelation[Category] = fields.ForeignKeyField(
        "models.Category", related_name="children", null=True, on_delete=fields.RESTRICT
    )
    position = fields.IntField(default=0)

    parent_id: int | None

    class Meta:
        table = "category"


class HoldMode(StrEnum):
    AT_ORDER = "at_order"  # stock is taken only when the order is placed
    AT_CART = "at_cart"  # adding to the cart holds stock for a short, renewable time


class QueueMode(StrEnum):
    OFF = "off"  # shoppers go straight to the cart
    LOTTERY = "lottery"  # a waiting room: a pre-queue drawn by lot at release, then in order


class Collection(Model):
    """A monthly drop: its products stay hidden from shoppers until `release_at`."""

    id = fields.IntField(primary_key=True)
    guid = fields.CharField(max_length=36, unique=True)
    name = fields.CharField(max_length=200)
    slug = fields.CharField(max_length=200, unique=True)
    description = fields.TextField(default="")
    release_at = fields.DatetimeField(db_index=True)
    hold_mode = fields.CharEnumField(HoldMode, max_length=16, default=HoldMode.AT_ORDER)
    hold_minutes = fields.IntField(default=10)
    purchase_limit = fields.IntField(null=True, description="most units of a variant per shopper")
    queue_mode = fields.CharEnumField(
        QueueMode,
        max_length=16,
        default=QueueMode.OFF,
        db_default="off",
        description="off, or lottery: a waiting room in front of the drop",
    )

    class Meta:
        table = "collection"


class Product(Model):
    id = fields.IntField(primary_key=True)
    guid = fields.CharField(max_length=36, unique=True)
    name = fields.CharField(max_length=300)
    slug = fields.CharField(max_length=300, unique=True)
    description = fields.TextField(default="")
    category: fields.ForeignKeyNullableRelation[Category] = fields.ForeignKeyField(
        "models.Category", related_name="products", null=True, on_delete=fields.SET_NULL
    )
    collection: fields.ForeignKeyNullableRelation[Collection] = fields.ForeignKeyField(
        "models.Collection", related_name="products", null=True, on_delete=fields.SET_NULL
    )
    published = fields.BooleanField(default=True)
    # Denormalised for sorting and keyset pagination; kept by the catalog services.
    price_from = fields.BigIntField(null=True, description="lowest variant price, kopecks")
    sort_date = fields.DatetimeField(description="collection release_at, else created_at")
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    category_id: int | None
    collection_id: int | None

    class Meta:
        table = "product"
        indexes = (("sort_date", "id"), ("price_from", "id"))


class ProductImage(Model):
    id = fields.IntField(primary_key=True)
    product: fields.ForeignKeyRelation[Product] = fields.ForeignKeyField(
        "models.Product", related_name="images", on_delete=fields.CASCADE
    )
    url = fields.CharField(max_length=1000)
    alt = fields.CharField(max_length=300, default="")
    position = fields.IntField(default=0)

    product_id: int

    class Meta:
        table = "product_image"


class Variant(Model):
    """A sellable size/colour of a product (1C ХарактеристикаНоменклатуры)."""

    id = fields.IntField(primary_key=True)
    guid = fields.CharField(max_length=36, unique=True)
    product: fields.ForeignKeyRelation[Product] = fields.ForeignKeyField(
        "models.Product", related_name="variants", on_delete=fields.CASCADE
    )
    sku = fields.CharField(max_length=64, unique=True)
    size = fields.CharField(max_length=32, db_index=True)
    colour = fields.CharField(max_length=64, db_index=True)
    price = fields.BigIntField(description="kopecks")
    old_price = fields.BigIntField(null=True, description="kopecks, shown struck through")
    position = fields.IntField(default=0)

    product_id: int

    class Meta:
        table = "variant"


class WarehouseKind(StrEnum):
    ONLINE = "online"
    SHOP = "shop"


class Warehouse(Model):
    """A 1C Склад: the online warehouse or one of the brand's shops."""

    id = fields.IntField(primary_key=True)
    guid = fields.CharField(max_length=36, unique=True)
    name = fields.CharField(max_length=200)
    kind = fields.CharEnumField(WarehouseKind, max_length=16)
    address = fields.CharField(max_length=500, default="")
    sellable_online = fields.BooleanField(default=True)
    priority = fields.IntField(default=100, description="lower is tried first")
    slack_channel = fields.CharField(max_length=100, null=True)
    slack_on_duty = fields.CharField(
        max_length=100, null=True, description="mentioned in reminders, e.g. <!subteam^S123>"
    )

    class Meta:
        table = "warehouse"
