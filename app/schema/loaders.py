"""Per-request DataLoaders: one query per relation per request, whatever the page size."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader

from app.domain.availability import StockPosition
from app.models.catalog import Category, Collection, ProductImage, Variant, Warehouse
from app.services.inventory.availability import stock_positions

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
    now: datetime
    variants_by_product: DataLoader[int, list[Variant]] = field(
        default_factory=lambda: _loader(_variants_by_product)
    )
    images_by_product: DataLoader[int, list[ProductImage]] = field(
        default_factory=lambda: _loader(_images_by_product)
    )
    collection: DataLoader[int, Collection | None] = field(
        default_factory=lambda: _loader(_collections)
    )
    category: DataLoader[int, Category | None] = field(default_factory=lambda: _loader(_categories))
    # One key ("all"): concurrent resolvers share one read of the brand's few warehouses.
    _warehouses: DataLoader[str, dict[int, Warehouse]] = field(
        default_factory=lambda: _loader(_all_warehouses)
    )
    _positions: DataLoader[int, list[StockPosition]] = field(init=False)

    def __post_init__(self) -> None:
        async def positions(ids: list[int]) -> list[list[StockPosition]]:
            warehouses = list((await self.warehouses()).values())
            found = await stock_positions(ids, now=self.now, warehouses=warehouses)
            return [found[i] for i in ids]

        self._positions = _loader(positions)

    async def warehouses(self) -> dict[int, Warehouse]:
        """All warehouses by id, in allocation order, read once per request."""
        return await self._warehouses.load("all")

    async def stock_positions(self, variant_id: int) -> list[StockPosition]:
        """What the availability rule needs for one variant, batched across the page."""
        return await self._positions.load(variant_id)
