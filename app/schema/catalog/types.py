"""Storefront catalog types. Relations resolve through the request's DataLoaders."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry

from app.domain.availability import availability_by_warehouse
from app.domain.catalog import kopecks_to_rub
from app.models.catalog import Category as CategoryRow
from app.models.catalog import Collection as CollectionRow
from app.models.catalog import Product as ProductRow
from app.models.catalog import Variant as VariantRow
from app.models.catalog import Warehouse as WarehouseRow
from app.schema.checkout.queue import CollectionQueueMode
from app.schema.context import Info
from app.schema.loaders import VariantRow as VariantColumns

if TYPE_CHECKING:
    from app.schema.catalog.looks import Look


@strawberry.type
class Money:
    amount: Decimal = strawberry.field(description="roubles with kopecks, e.g. 4990.00")
    currency: str = "RUB"

    @classmethod
    def rub(cls, kopecks: int | None) -> Money | None:
        return None if kopecks is None else cls(amount=kopecks_to_rub(kopecks))


@strawberry.enum
class WarehouseKind(Enum):
    ONLINE = "online"
    SHOP = "shop"


@strawberry.type
class Warehouse:
    id: strawberry.ID
    name: str
    kind: WarehouseKind
    address: str

    @classmethod
    def of(cls, row: WarehouseRow) -> Warehouse:
        kind = WarehouseKind(row.kind.value)
        return cls(id=strawberry.ID(row.guid), name=row.name, kind=kind, address=row.address)


@strawberry.type
class WarehouseAvailability:
    warehouse: Warehouse
    quantity: int


@strawberry.type
class Image:
    url: str
    alt: str


@strawberry.type
class Collection:
    id: strawberry.ID
    slug: str
    name: str
    description: str
    release_at: datetime = strawberry.field(
        description="the drop instant; products are hidden before it"
    )
    queue_mode: CollectionQueueMode = CollectionQueueMode.OFF  # LOTTERY: joinQueue first

    @strawberry.field
    def is_released(self, info: Info) -> bool:
        return self.release_at <= info.context.now

    @classmethod
    def of(cls, row: CollectionRow) -> Collection:
        return cls(
            id=strawberry.ID(row.guid),
            slug=row.slug,
            name=row.name,
            description=row.description,
            release_at=row.release_at,
            queue_mode=CollectionQueueMode(row.queue_mode.value),
        )


@strawberry.type
class Category:
    id: strawberry.ID
    slug: str
    name: str
    parent_id: strawberry.Private[int | None]

    @strawberry.field
    async def parent(self, info: Info) -> Category | None:
        if self.parent_id is None:
            return None
        parent = await info.context.loaders.category.load(self.parent_id)
        return Category.of(parent) if parent else None

    @classmethod
    def of(cls, row: CategoryRow) -> Category:
        return cls(
            id=strawberry.ID(row.guid), slug=row.slug, name=row.name, parent_id=row.parent_id
        )


@strawberry.type
class Variant:
    id: strawberry.ID
    sku: str
    size: str
    colour: str
    price: Money
    old_price: Money | None = strawberry.field(description="the price before a markdown, if any")
    pk: strawberry.Private[int]

    @strawberry.field(description="units a shopper can buy now, across sellable warehouses")
    async def available(self, info: Info) -> int:
        info.context.read_stock(info, (self.pk,))  # the response cache's stock overlay
        return await info.context.loaders.available((self.pk,))

    @strawberry.field(description="units per sellable warehouse (shops included)")
    async def availability(self, info: Info) -> list[WarehouseAvailability]:
        info.context.read_stock(info, (self.pk,))  # the response cache's stock overlay
        loaders = info.context.loaders
        warehouses = await loaders.warehouses()
        per = availability_by_warehouse(await loaders.stock_positions(self.pk))
        return [
            WarehouseAvailability(warehouse=Warehouse.of(warehouses[wid]), quantity=qty)
            for wid, qty in per.items()
        ]

    @classmethod
    def of(cls, row: VariantRow | VariantColumns) -> Variant:
        return cls(
            id=strawberry.ID(row.guid),
            sku=row.sku,
            size=row.size,
            colour=row.colour,
            price=Money(amount=kopecks_to_rub(row.price)),
            old_price=Money.rub(row.old_price),
            pk=row.id,
        )


@strawberry.type
class Product:
    id: strawberry.ID
    slug: str
    name: str
    description: str
    price_from: Money | None = strawberry.field(description="the lowest variant price")
    row: strawberry.Private[ProductRow]

    @strawberry.field
    async def category(self, info: Info) -> Category | None:
        if self.row.category_id is None:
            return None
        row = await info.context.loaders.category.load(self.row.category_id)
        return Category.of(row) if row else None

    @strawberry.field
    async def collection(self, info: Info) -> Collection | None:
        if self.row.collection_id is None:
            return None
        row = await info.context.loaders.collection.load(self.row.collection_id)
        return Collection.of(row) if row else None

    @strawberry.field
    async def images(self, info: Info) -> list[Image]:
        rows = await info.context.loaders.images_by_product.load(self.row.id)
        return [Image(url=r.url, alt=r.alt) for r in rows]

    @strawberry.field
    async def variants(self, info: Info) -> list[Variant]:
        rows = await info.context.loaders.variants_by_product.load(self.row.id)
        return [Variant.of(r) for r in rows]

    @strawberry.field(description="units available across all variants")
    async def available(self, info: Info) -> int:
        loaders = info.context.loaders
        rows = await loaders.variants_by_product.load(self.row.id)
        info.context.read_stock(info, (r.id for r in rows))  # the response cache's overlay
        return await loaders.available(r.id for r in rows)

    @strawberry.field(description="Instashop looks it is seen in, in the looks' order")
    async def looks(
        self, info: Info
    ) -> list[Annotated[Look, strawberry.lazy("app.schema.catalog.looks")]]:
        from app.schema.catalog.looks import looks_of_product

        return await looks_of_product(info, self.row.id)

    @classmethod
    def of(cls, row: ProductRow) -> Product:
        return cls(
            id=strawberry.ID(row.guid),
            slug=row.slug,
            name=row.name,
            description=row.description,
            price_from=Money.rub(row.price_from),
            row=row,
        )


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None

    @classmethod
    def of(cls, cursors: Sequence[str], *, has_next: bool, has_previous: bool) -> PageInfo:
        """A page's info from its nodes' cursors, first to last."""
        return cls(
            has_next_page=has_next,
            has_previous_page=has_previous,
            start_cursor=cursors[0] if cursors else None,
            end_cursor=cursors[-1] if cursors else None,
        )


@strawberry.type
class ProductEdge:
    cursor: str
    node: Product
