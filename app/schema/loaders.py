"""Per-request DataLoaders: one query per relation per request, whatever the page size."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader

from app.domain.availability import StockPosition
from app.models.catalog import Category, Collection, ProductImage, Variant, Warehouse
from app.models.stock import StockLevel

K = TypeVar("K")
V = TypeVar("V")


def _loader(fn: Callable[[list[K]], Coroutine[Any, Any, Sequence[V]]]) -> DataLoader[K, V]:
    return DataLoader(load_fn=fn)


async def _variants_by_product(ids: list[int]) -> list[list[Variant]]:
    groups: dict[int, list[Variant]] = defaultdict(list)
    for v in await Variant.filter(product_id__in=ids).order_by("position", "id"):
        groups[v.product_id].append(v)
    return [groups[i] for i in ids]


async def _images_by_product(ids: list[int]) -> list[list[ProductImage]]:
    groups: dict[int, list[ProductImage]] = defaultdict(list)
    for image in await ProductImage.filter(product_id__in=ids).order_by("position", "id"):
        groups[image.product_id].append(image)
    return [groups[i] for i in ids]


async def _levels_by_variant(ids: list[int]) -> list[list[StockLevel]]:
    groups: dict[int, list[StockLevel]] = defaultdict(list)
    for level in await StockLevel.filter(variant_id__in=ids):
        groups[level.variant_id].append(level)
    return [groups[i] for i in ids]


async def _collections(ids: list[int]) -> list[Collection | None]:
    found = {c.id: c for c in await Collection.filter(id__in=ids)}
    return [found.get(i) for i in ids]


async def _categories(ids: list[int]) -> list[Category | None]:
    found = {c.id: c for c in await Category.filter(id__in=ids)}
    return [found.get(i) for i in ids]


async def _all_warehouses(keys: list[str]) -> list[dict[int, Warehouse]]:
    rows = {w.id: w for w in await Warehouse.all().order_by("priority", "id")}
    return [rows for _ in keys]


@dataclass
class Loaders:
    variants_by_product: DataLoader[int, list[Variant]] = field(
        default_factory=lambda: _loader(_variants_by_product)
    )
    images_by_product: DataLoader[int, list[ProductImage]] = field(
        default_factory=lambda: _loader(_images_by_product)
    )
    levels_by_variant: DataLoader[int, list[StockLevel]] = field(
        default_factory=lambda: _loader(_levels_by_variant)
    )
    collection: DataLoader[int, Collection | None] = field(
        default_factory=lambda: _loader(_collections)
    )
    category: DataLoader[int, Category | None] = field(default_factory=lambda: _loader(_categories))
    # One key ("all"): concurrent resolvers share one read of the brand's few warehouses.
    _warehouses: DataLoader[str, dict[int, Warehouse]] = field(
        default_factory=lambda: _loader(_all_warehouses)
    )

    async def warehouses(self) -> dict[int, Warehouse]:
        """All warehouses by id, in allocation order, read once per request."""
        return await self._warehouses.load("all")

    async def stock_positions(self, variant_id: int) -> list[StockPosition]:
        """What the availability rule needs for one variant, batched across the page."""
        pending_levels = self.levels_by_variant.load(variant_id)  # joins this tick's batch
        warehouses = await self.warehouses()
        levels = await pending_levels
        by_warehouse = {lvl.warehouse_id: lvl for lvl in levels}
        return [
            StockPosition(
                warehouse_id=w.id,
                on_hand=by_warehouse[w.id].on_hand if w.id in by_warehouse else 0,
                buffer=by_warehouse[w.id].buffer if w.id in by_warehouse else 0,
                sellable=w.sellable_online,
            )
            for w in warehouses.values()
        ]
