"""Fill an empty shop with the demo brand «Лён и Лес», through the same services 1C uses.

Every GUID is derived from a fixed namespace and every stock figure from a seeded generator,
so two loads produce the same catalogue; only the drop dates follow the `now` passed in.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Protocol

from app.devtools.demo_catalogue import (
    ACCESSORY_CATEGORIES,
    CATEGORIES,
    CLOTHING_SIZES,
    COLLECTIONS,
    COLOUR_CODES,
    ONE_SIZE,
    PRODUCTS,
    SIZE_CODES,
    WAREHOUSES,
    CollectionSpec,
    ProductSpec,
    WarehouseSpec,
)
from app.domain.catalog import slugify
from app.domain.errors import Problem
from app.models.catalog import Product
from app.services.catalog.intake import (
    CategoryData,
    CollectionData,
    WarehouseData,
    upsert_categories,
    upsert_collections,
    upsert_products,
    upsert_warehouses,
)
from app.services.catalog.products import ImageData, ProductData, VariantData
from app.services.inventory.stock_snapshots import RawStockSnapshot, apply_stock_snapshots

DEMO_NAMESPACE = uuid.UUID("5b0e7d3c-9a41-5c2e-8f6d-4c1a0b9e2d71")
STOCK_SEED = 20_240_601
MOSCOW = timezone(timedelta(hours=3), "MSK")  # no DST since 2014, so a fixed offset is exact
DROP_HOUR = 10
IMAGE_BASE = "https://cdn.example.com/demo"


class _Report(Protocol):
    @property
    def problems(self) -> list[Problem]: ...


async def load_demo_data(*, now: datetime) -> bool:
    """Load a realistic small fashion brand if the catalog is empty; return True if loaded."""
    if now.tzinfo is None:
        raise ValueError("now must carry a time zone")
    if await Product.exists():
        return False
    _require_clean("warehouses", await upsert_warehouses(items=demo_warehouses()))
    _require_clean("categories", await upsert_categories(items=demo_categories()))
    _require_clean("collections", await upsert_collections(items=demo_collections(now)))
    products = demo_products()
    _require_clean("products", await upsert_products(items=products))
    rows = demo_stock(products, as_of=now - timedelta(minutes=5))
    _require_clean("stock", await apply_stock_snapshots(rows=rows, max_rows=len(rows)))
    return True


def _require_clean(stage: str, report: _Report) -> None:
    """Demo data is ours, so any problem the intake reports is a bug in this module."""
    if report.problems:
        shown = "; ".join(f"{'.'.join(map(str, p.path))}: {p.message}" for p in report.problems[:5])
        raise RuntimeError(f"demo {stage} rejected ({len(report.problems)} problems): {shown}")


def demo_guid(kind: str, key: str) -> str:
    """The same GUID for the same demo object on every run."""
    return str(uuid.uuid5(DEMO_NAMESPACE, f"{kind}:{key}"))


def demo_warehouses() -> list[WarehouseData]:
    return [
        WarehouseData(
            guid=demo_guid("warehouse", w.key),
            name=w.name,
            kind=w.kind,
            address=w.address,
            sellable_online=True,
            priority=w.priority,
            slack_channel=w.slack_channel,
        )
        for w in WAREHOUSES
    ]


def demo_categories() -> list[CategoryData]:
    return [
        CategoryData(
            guid=demo_guid("category", c.key),
            name=c.name,
            parent_guid=demo_guid("category", c.parent) if c.parent else None,
            position=c.position,
        )
        for c in CATEGORIES
    ]


def demo_collections(now: datetime) -> list[CollectionData]:
    return [_collection(c, now) for c in COLLECTIONS]


def _collection(spec: CollectionSpec, now: datetime) -> CollectionData:
    return CollectionData(
        guid=demo_guid("collection", spec.key),
        name=spec.name,
        release_at=_drop_time(now + timedelta(days=spec.days_from_now)),
        description=spec.description,
        hold_mode=spec.hold_mode,
        hold_minutes=10,
        purchase_limit=spec.purchase_limit,
    )


def _drop_time(day: datetime) -> str:
    """Drops open at 10:00 Moscow time, written the way 1C sends instants."""
    moment = day.astimezone(MOSCOW).replace(hour=DROP_HOUR, minute=0, second=0, microsecond=0)
    return moment.isoformat()


def demo_products() -> list[ProductData]:
    return [_product(number, spec) for number, spec in enumerate(PRODUCTS, start=1)]


def _product(number: int, spec: ProductSpec) -> ProductData:
    return ProductData(
        guid=demo_guid("product", _article(number)),
        name=spec.name,
        description=spec.description,
        category_guid=demo_guid("category", spec.category),
        collection_guid=demo_guid("collection", spec.collection) if spec.collection else None,
        variants=_variants(number, spec),
        images=_images(number, spec),
    )


def _article(number: int) -> str:
    return f"LL-{number:04d}"


def _variants(number: int, spec: ProductSpec) -> list[VariantData]:
    sizes = ONE_SIZE if spec.category in ACCESSORY_CATEGORIES else CLOTHING_SIZES
    variants = []
    for colour_index, colour in enumerate(spec.colours):
        price, old_price = _prices(spec, marked_down=colour_index == 0)
        for size in sizes:
            sku = f"{_article(number)}-{SIZE_CODES.get(size, size)}-{COLOUR_CODES[colour]}"
            variants.append(
                VariantData(
                    guid=demo_guid("variant", sku),
                    sku=sku,
                    size=size,
                    colour=colour,
                    price=price,
                    old_price=old_price,
                )
            )
    return variants


def _prices(spec: ProductSpec, *, marked_down: bool) -> tuple[str, str | None]:
    """Price and struck-through price; a sale marks down only the product's first colour."""
    if spec.sale is not None and marked_down:
        return f"{spec.sale}.00", f"{spec.price}.00"
    return f"{spec.price}.00", None


def _images(number: int, spec: ProductSpec) -> list[ImageData]:
    slug = slugify(spec.name)
    count = 1 + number % 3
    return [
        ImageData(url=f"{IMAGE_BASE}/{slug}-{n}.jpg", alt=f"{spec.name}, фото {n}")
        for n in range(1, count + 1)
    ]


def demo_stock(products: Sequence[ProductData], *, as_of: datetime) -> list[RawStockSnapshot]:
    """A figure for every variant in every warehouse; shops run out more often than online."""
    rng = random.Random(STOCK_SEED)
    stamp = as_of.astimezone(MOSCOW).isoformat(timespec="seconds")
    return [
        RawStockSnapshot(
            variant_guid=variant.guid,
            warehouse_guid=demo_guid("warehouse", warehouse.key),
            quantity=_quantity(rng, warehouse),
            as_of=stamp,
        )
        for product in products
        for variant in product.variants
        for warehouse in WAREHOUSES
    ]


def _quantity(rng: random.Random, warehouse: WarehouseSpec) -> int:
    if warehouse.kind == "online":
        return 0 if rng.random() < 0.1 else rng.randint(1, 12)
    return 0 if rng.random() < 0.45 else rng.randint(1, 6)


def demo_instagram_articles() -> list[tuple[str, str, str]]:
    """(article, one full SKU, name) of each demo product, for the simulated Instagram feed's
    captions (`vitrina dev`)."""
    return [
        (_article(n), _variants(n, spec)[0].sku, spec.name)
        for n, spec in enumerate(PRODUCTS, start=1)
    ]
