"""Storefront catalog types. Relations resolve through the request's DataLoaders."""

from __future__ import annotations

import asyncio
from datetime import datetime
from decimal import Decimal
from enum import Enum

import strawberry

from app.domain.availability import availability_by_warehouse, available
from app.domain.catalog import kopecks_to_rub
from app.models import catalog as m
from app.schema.context import Info


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
    row: strawberry.Private[m.Warehouse]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.row.guid)

    @strawberry.field
    def name(self) -> str:
        return self.row.name

    @strawberry.field
    def kind(self) -> WarehouseKind:
        return WarehouseKind(self.row.kind.value)

    @strawberry.field
    def address(self) -> str:
        return self.row.address


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
    row: strawberry.Private[m.Collection]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.row.guid)

    @strawberry.field
    def slug(self) -> str:
        return self.row.slug

    @strawberry.field
    def name(self) -> str:
        return self.row.name

    @strawberry.field
    def description(self) -> str:
        return self.row.description

    @strawberry.field(description="the drop instant; products are hidden before it")
    def release_at(self) -> datetime:
        return self.row.release_at

    @strawberry.field
    def is_released(self, info: Info) -> bool:
        return self.row.release_at <= info.context.now


@strawberry.type
class Category:
    row: strawberry.Private[m.Category]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.row.guid)

    @strawberry.field
    def slug(self) -> str:
        return self.row.slug

    @strawberry.field
    def name(self) -> str:
        return self.row.name

    @strawberry.field
    async def parent(self, info: Info) -> Category | None:
        if self.row.parent_id is None:
            return None
        parent = await info.context.loaders.category.load(self.row.parent_id)
        return Category(row=parent) if parent else None


@strawberry.type
class Variant:
    row: strawberry.Private[m.Variant]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.row.guid)

    @strawberry.field
    def sku(self) -> str:
        return self.row.sku

    @strawberry.field
    def size(self) -> str:
        return self.row.size

    @strawberry.field
    def colour(self) -> str:
        return self.row.colour

    @strawberry.field
    def price(self) -> Money:
        return Money(amount=kopecks_to_rub(self.row.price))

    @strawberry.field(description="the price before a markdown, if any")
    def old_price(self) -> Money | None:
        return Money.rub(self.row.old_price)

    @strawberry.field(description="units a shopper can buy now, across sellable warehouses")
    async def available(self, info: Info) -> int:
        return available(await info.context.loaders.stock_positions(self.row.id))

    @strawberry.field(description="units per sellable warehouse (shops included)")
    async def availability(self, info: Info) -> list[WarehouseAvailability]:
        loaders = info.context.loaders
        warehouses = await loaders.warehouses()
        per = availability_by_warehouse(await loaders.stock_positions(self.row.id))
        return [
            WarehouseAvailability(warehouse=Warehouse(row=warehouses[wid]), quantity=qty)
            for wid, qty in per.items()
        ]


@strawberry.type
class Product:
    row: strawberry.Private[m.Product]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.row.guid)

    @strawberry.field
    def slug(self) -> str:
        return self.row.slug

    @strawberry.field
    def name(self) -> str:
        return self.row.name

    @strawberry.field
    def description(self) -> str:
        return self.row.description

    @strawberry.field(description="the lowest variant price")
    def price_from(self) -> Money | None:
        return Money.rub(self.row.price_from)

    @strawberry.field
    async def category(self, info: Info) -> Category | None:
        if self.row.category_id is None:
            return None
        row = await info.context.loaders.category.load(self.row.category_id)
        return Category(row=row) if row else None

    @strawberry.field
    async def collection(self, info: Info) -> Collection | None:
        if self.row.collection_id is None:
            return None
        row = await info.context.loaders.collection.load(self.row.collection_id)
        return Collection(row=row) if row else None

    @strawberry.field
    async def images(self, info: Info) -> list[Image]:
        rows = await info.context.loaders.images_by_product.load(self.row.id)
        return [Image(url=r.url, alt=r.alt) for r in rows]

    @strawberry.field
    async def variants(self, info: Info) -> list[Variant]:
        rows = await info.context.loaders.variants_by_product.load(self.row.id)
        return [Variant(row=r) for r in rows]

    @strawberry.field(description="units available across all variants")
    async def available(self, info: Info) -> int:
        loaders = info.context.loaders
        rows = await loaders.variants_by_product.load(self.row.id)
        positions = await asyncio.gather(*(loaders.stock_positions(r.id) for r in rows))
        return sum(available(p) for p in positions)


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class ProductEdge:
    cursor: str
    node: Product
