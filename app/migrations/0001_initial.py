import functools
from json import dumps, loads

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

from app.models.catalog import WarehouseKind


class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name="Category",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                ("guid", fields.CharField(unique=True, max_length=36)),
                ("name", fields.CharField(max_length=200)),
                ("slug", fields.CharField(unique=True, max_length=200)),
                (
                    "parent",
                    fields.ForeignKeyField(
                        "models.Category",
                        source_field="parent_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="children",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("position", fields.IntField(default=0)),
            ],
            options={"table": "category", "app": "models", "pk_attr": "id"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Collection",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                ("guid", fields.CharField(unique=True, max_length=36)),
                ("name", fields.CharField(max_length=200)),
                ("slug", fields.CharField(unique=True, max_length=200)),
                ("description", fields.TextField(default="", unique=False)),
                (
                    "release_at",
                    fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False),
                ),
            ],
            options={
                "table": "collection",
                "app": "models",
                "pk_attr": "id",
                "table_description": "A monthly drop: its products stay hidden from shoppers until `release_at`.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="IntegrationToken",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                ("name", fields.CharField(max_length=200)),
                (
                    "token_hash",
                    fields.CharField(unique=True, description="sha256 hex", max_length=64),
                ),
                (
                    "scopes",
                    fields.JSONField(
                        default=list,
                        encoder=functools.partial(dumps, separators=(",", ":")),
                        decoder=loads,
                    ),
                ),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                (
                    "last_used_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                ("revoked_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={"table": "integration_token", "app": "models", "pk_attr": "id"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Product",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                ("guid", fields.CharField(unique=True, max_length=36)),
                ("name", fields.CharField(max_length=300)),
                ("slug", fields.CharField(unique=True, max_length=300)),
                ("description", fields.TextField(default="", unique=False)),
                (
                    "category",
                    fields.ForeignKeyField(
                        "models.Category",
                        source_field="category_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="products",
                        on_delete=OnDelete.SET_NULL,
                    ),
                ),
                (
                    "collection",
                    fields.ForeignKeyField(
                        "models.Collection",
                        source_field="collection_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="products",
                        on_delete=OnDelete.SET_NULL,
                    ),
                ),
                ("published", fields.BooleanField(default=True)),
                (
                    "price_from",
                    fields.BigIntField(null=True, description="lowest variant price, kopecks"),
                ),
                (
                    "sort_date",
                    fields.DatetimeField(
                        description="collection release_at, else created_at",
                        auto_now=False,
                        auto_now_add=False,
                    ),
                ),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={
                "table": "product",
                "app": "models",
                "indexes": [Index(fields=["sort_date", "id"]), Index(fields=["price_from", "id"])],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="ProductImage",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                (
                    "product",
                    fields.ForeignKeyField(
                        "models.Product",
                        source_field="product_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="images",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("url", fields.CharField(max_length=1000)),
                ("alt", fields.CharField(default="", max_length=300)),
                ("position", fields.IntField(default=0)),
            ],
            options={"table": "product_image", "app": "models", "pk_attr": "id"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Variant",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                ("guid", fields.CharField(unique=True, max_length=36)),
                (
                    "product",
                    fields.ForeignKeyField(
                        "models.Product",
                        source_field="product_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="variants",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("sku", fields.CharField(unique=True, max_length=64)),
                ("size", fields.CharField(db_index=True, max_length=32)),
                ("colour", fields.CharField(db_index=True, max_length=64)),
                ("price", fields.BigIntField(description="kopecks")),
                (
                    "old_price",
                    fields.BigIntField(null=True, description="kopecks, shown struck through"),
                ),
                ("position", fields.IntField(default=0)),
            ],
            options={
                "table": "variant",
                "app": "models",
                "pk_attr": "id",
                "table_description": "A sellable size/colour of a product (1C ХарактеристикаНоменклатуры).",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Warehouse",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                ("guid", fields.CharField(unique=True, max_length=36)),
                ("name", fields.CharField(max_length=200)),
                (
                    "kind",
                    fields.CharEnumField(
                        description="ONLINE: online\nSHOP: shop",
                        enum_type=WarehouseKind,
                        max_length=16,
                    ),
                ),
                ("address", fields.CharField(default="", max_length=500)),
                ("sellable_online", fields.BooleanField(default=True)),
                ("priority", fields.IntField(default=100, description="lower is tried first")),
                ("slack_channel", fields.CharField(null=True, max_length=100)),
            ],
            options={
                "table": "warehouse",
                "app": "models",
                "pk_attr": "id",
                "table_description": "A 1C Склад: the online warehouse or one of the brand's shops.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="StockLevel",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                (
                    "variant",
                    fields.ForeignKeyField(
                        "models.Variant",
                        source_field="variant_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="stock_levels",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "warehouse",
                    fields.ForeignKeyField(
                        "models.Warehouse",
                        source_field="warehouse_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="stock_levels",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("on_hand", fields.IntField(default=0)),
                (
                    "buffer",
                    fields.IntField(default=0, description="reserved, not yet in 1C's figure"),
                ),
                ("as_of", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={
                "table": "stock_level",
                "app": "models",
                "unique_together": (("variant", "warehouse"),),
                "pk_attr": "id",
                "table_description": "On-hand as 1C last reported it (at `as_of`, 1C's clock) and what we hold against it.",
            },
            bases=["Model"],
        ),
    ]
