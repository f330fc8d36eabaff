"""Per-request DataLoaders: one query per relation per request, whatever the page size."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader

from app.domain.availability import StockPosition, available
from app.domain.reservations import SERVING_ORDER
from app.domain.shop_confirmation import LineState
from app.models.catalog import Category, Collection, Product, ProductImage, Variant, Warehouse
from app.models.orders import OrderLine, OrderStatusChange, Payment, Refund
from app.models.stock import Reservation
from app.services.inventory.availability import stock_positions
from app.services.shops.progress import line_states

K = TypeVar("K")
V = TypeVar("V")


def _loader(fn: Callable[[list[K]], Coroutine[Any, Any, Sequence[V]]]) -> DataLoader[K, V]:
    return DataLoader(load_fn=fn)


def _grouped(ids: list[int], rows: Iterable[V], key: Callable[[V], int | None]) -> list[list[V]]:
    """Rows per id, in the order the query returned them; an empty list for an id with none."""
    groups: dict[int | None, list[V]] = defaultdict(list)
    for row in rows:
        groups[key(row)].append(row)
    return [groups[i] for i in ids]


@dataclass(frozen=True, slots=True)
class VariantRow:
    """A variant's columns as a page shows them. Rows, not ORM models: a catalog page reads
    hundreds, and building a tortoise model each cost twice its query (bench/catalog_miss.py)."""

    id: int
    guid: str
    product_id: int
    sku: str
    size: str
    colour: str
    price: int  # kopecks
    old_price: int | None


@dataclass(frozen=True, slots=True)
class ImageRow:
    product_id: int
    url: str
    alt: str


async def _variants_by_product(ids: list[int]) -> list[list[VariantRow]]:
    query = Variant.filter(product_id__in=ids).order_by("position", "id")
    rows = [VariantRow(**r) for r in await query.values(*VariantRow.__dataclass_fields__)]
    return _grouped(ids, rows, lambda v: v.product_id)


async def _images_by_product(ids: list[int]) -> list[list[ImageRow]]:
    query = ProductImage.filter(product_id__in=ids).order_by("position", "id")
    rows = [ImageRow(**r) for r in await query.values(*ImageRow.__dataclass_fields__)]
    return _grouped(ids, rows, lambda image: image.product_id)


async def _variants(ids: list[int]) -> list[Variant]:
    # An order line's variant is never deleted (on_delete=RESTRICT): every id is found.
    found = {v.id: v for v in await Variant.filter(id__in=ids)}
    return [found[i] for i in ids]


async def _collections(ids: list[int]) -> list[Collection | None]:
    found = {c.id: c for c in await Collection.filter(id__in=ids)}
    return [found.get(i) for i in ids]


async def _categories(ids: list[int]) -> list[Category | None]:
    found = {c.id: c for c in await Category.filter(id__in=ids)}
    return [found.get(i) for i in ids]


async def _lines_by_order(ids: list[int]) -> list[list[OrderLine]]:
    rows = await OrderLine.filter(order_id__in=ids).order_by("id")
    return _grouped(ids, rows, lambda line: line.order_id)


async def _allocations_by_line(ids: list[int]) -> list[list[Reservation]]:
    rows = await Reservation.filter(order_line_id__in=ids, state__in=list(SERVING_ORDER)).order_by(
        "id"
    )
    return _grouped(ids, rows, lambda r: r.order_line_id)


async def _line_states_by_order(ids: list[int]) -> list[dict[int, LineState]]:
    states = await line_states(ids)
    return [states[order_id] for order_id in ids]


async def _history_by_order(ids: list[int]) -> list[list[OrderStatusChange]]:
    rows = await OrderStatusChange.filter(order_id__in=ids).order_by("at", "id")
    return _grouped(ids, rows, lambda change: change.order_id)


async def _payments_by_order(ids: list[int]) -> list[list[Payment]]:
    rows = await Payment.filter(order_id__in=ids).order_by("id")
    return _grouped(ids, rows, lambda payment: payment.order_id)


async def _refunds_by_payment(ids: list[int]) -> list[list[Refund]]:
    rows = await Refund.filter(payment_id__in=ids).order_by("id")
    return _grouped(ids, rows, lambda refund: refund.payment_id)


async def _all_warehouses(keys: list[str]) -> list[dict[int, Warehouse]]:
    rows = {w.id: w for w in await Warehouse.all().order_by("priority", "id")}
    return [rows for _ in keys]


@dataclass
class Loaders:
    now: datetime
    variants_by_product: DataLoader[int, list[VariantRow]] = field(
        default_factory=lambda: _loader(_variants_by_product)
    )
    images_by_product: DataLoader[int, list[ImageRow]] = field(
        default_factory=lambda: _loader(_images_by_product)
    )
    collection: DataLoader[int, Collection | None] = field(
        default_factory=lambda: _loader(_collections)
    )
    category: DataLoader[int, Category | None] = field(default_factory=lambda: _loader(_categories))
    variant: DataLoader[int, Variant] = field(default_factory=lambda: _loader(_variants))
    lines_by_order: DataLoader[int, list[OrderLine]] = field(
        default_factory=lambda: _loader(_lines_by_order)
    )
    allocations_by_line: DataLoader[int, list[Reservation]] = field(
        default_factory=lambda: _loader(_allocations_by_line)
    )
    line_states_by_order: DataLoader[int, dict[int, LineState]] = field(
        default_factory=lambda: _loader(_line_states_by_order)
    )
    history_by_order: DataLoader[int, list[OrderStatusChange]] = field(
        default_factory=lambda: _loader(_history_by_order)
    )
    payments_by_order: DataLoader[int, list[Payment]] = field(
        default_factory=lambda: _loader(_payments_by_order)
    )
    refunds_by_payment: DataLoader[int, list[Refund]] = field(
        default_factory=lambda: _loader(_refunds_by_payment)
    )
    # One key ("all"): concurrent resolvers share one read of the brand's few warehouses.
    _warehouses: DataLoader[str, dict[int, Warehouse]] = field(
        default_factory=lambda: _loader(_all_warehouses)
    )
    _positions: DataLoader[int, list[StockPosition]] = field(init=False)
    _available: dict[int, int] = field(default_factory=dict)  # variant id → units, once

    def __post_init__(self) -> None:
        async def positions(ids: list[int]) -> list[list[StockPosition]]:
            warehouses = list((await self.warehouses()).values())
            found = await stock_positions(ids, now=self.now, warehouses=warehouses)
            return [found[i] for i in ids]

        self._positions = _loader(positions)

    async def warehouses(self) -> dict[int, Warehouse]:
        """All warehouses by id, in allocation order, read once per request."""
        return await self._warehouses.load("all")

    def prime_related(self, products: Iterable[Product], *, categories: bool = False) -> None:
        """Hand the loaders the drops (and categories, with their parents) read with these
        products by `select_related`, so showing them costs no query of its own."""
        for product in products:
            collection = product.collection  # the row itself once selected with the product
            if isinstance(collection, Collection):
                self.collection.prime(collection.id, collection)
            category = product.category if categories else None
            if isinstance(category, Category):
                self.category.prime(category.id, category)
                parent = category.parent
                if isinstance(parent, Category):
                    self.category.prime(parent.id, parent)

    def stock_positions(self, variant_id: int) -> Awaitable[list[StockPosition]]:
        """What the availability rule needs for one variant, batched across the page (the
        loader's future itself: awaiting one already read takes no task and no loop turn)."""
        return self._positions.load(variant_id)

    async def available(self, variant_ids: Iterable[int]) -> int:
        """Units a shopper may buy of these variants together: the rule applied once per
        variant and request, however many fields show it (a card's total, each size)."""
        ids = list(variant_ids)
        missing = [i for i in ids if i not in self._available]
        if missing:
            for variant_id, positions in zip(
                missing, await self._positions.load_many(missing), strict=True
            ):
                self._available[variant_id] = available(positions)
        return sum(self._available[i] for i in ids)
