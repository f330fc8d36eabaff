"""1C intake mutations: catalog, warehouses, prices, stock. Each needs a scoped token."""

from __future__ import annotations

from enum import Enum

import strawberry
from strawberry import UNSET, Parent

from app.domain.access import Scope
from app.domain.errors import DomainError
from app.schema.catalog.types import WarehouseKind
from app.schema.checkout.queue import CollectionQueueMode
from app.schema.context import Info
from app.schema.errors import UserError, require_scope
from app.schema.validation import ITEMWISE, RejectedItems
from app.services.catalog import intake as catalog
from app.services.catalog import products
from app.services.inventory import stock_snapshots as stock


@strawberry.input
class WarehouseInput:
    guid: str
    name: str
    kind: WarehouseKind
    address: str = ""
    sellable_online: bool = True
    priority: int = strawberry.field(default=100, description="lower is allocated first")
    slack_channel: str | None = strawberry.field(
        default=UNSET, description="shops: where requests are posted; omit to keep, null clears"
    )
    slack_on_duty: str | None = strawberry.field(
        default=UNSET,
        description="mentioned in reminders: <!subteam^S…> or <@U…>; omit to keep, null clears",
    )

    def to_data(self) -> catalog.WarehouseData:
        return catalog.WarehouseData(
            guid=self.guid,
            name=self.name,
            kind=self.kind.value,
            address=self.address,
            sellable_online=self.sellable_online,
            priority=self.priority,
            slack_channel=keep_unset(self.slack_channel),
            slack_on_duty=keep_unset(self.slack_on_duty),
        )


def keep_unset(value: str | None) -> str | None | catalog.Keep:
    """An argument or input field the caller left out keeps what is stored; null clears it."""
    return catalog.KEEP if value is UNSET else value


@strawberry.input
class CategoryInput:
    guid: str
    name: str
    parent_guid: str | None = None
    slug: str | None = None
    position: int = 0

    def to_data(self) -> catalog.CategoryData:
        return catalog.CategoryData(
            self.guid, self.name, self.parent_guid, self.slug, self.position
        )


@strawberry.enum
class CollectionHoldMode(Enum):
    AT_ORDER = "at_order"
    AT_CART = "at_cart"


@strawberry.input
class CollectionInput:
    guid: str
    name: str
    release_at: str = strawberry.field(
        description="ISO 8601 with offset, e.g. 2026-12-01T10:00:00+03:00"
    )
    slug: str | None = None
    description: str = ""
    hold_mode: CollectionHoldMode | None = strawberry.field(
        default=None, description="drop rule: when stock is held; omit to keep the current one"
    )
    hold_minutes: int | None = strawberry.field(
        default=None, description="AT_CART: how long a cart holds stock (extended while active)"
    )
    purchase_limit: int | None = strawberry.field(
        default=None, description="most units of one variant per shopper in this drop"
    )
    queue_mode: CollectionQueueMode | None = strawberry.field(
        default=None, description="LOTTERY: a waiting room in front of the drop; omit to keep"
    )

    def to_data(self) -> catalog.CollectionData:
        return catalog.CollectionData(
            self.guid,
            self.name,
            self.release_at,
            self.slug,
            self.description,
            self.hold_mode.value if self.hold_mode else None,
            self.hold_minutes,
            self.purchase_limit,
            queue_mode=self.queue_mode.value if self.queue_mode else None,
        )


@strawberry.input
class VariantInput:
    guid: str = strawberry.field(description="1C ХарактеристикаНоменклатуры GUID")
    sku: str
    size: str
    colour: str
    price: str = strawberry.field(description="roubles as a decimal string, e.g. 4990.00")
    old_price: str | None = None


@strawberry.input
class ImageInput:
    url: str
    alt: str = ""


@strawberry.input
class ProductInput:
    guid: str = strawberry.field(description="1C Номенклатура GUID")
    name: str
    variants: list[VariantInput]
    description: str = ""
    category_guid: str | None = None
    collection_guid: str | None = None
    published: bool = True
    slug: str | None = None
    images: list[ImageInput] | None = strawberry.field(
        default=None, description="replaces the product's images; omit to keep them"
    )

    def to_data(self) -> products.ProductData:
        return products.ProductData(
            guid=self.guid,
            name=self.name,
            description=self.description,
            category_guid=self.category_guid,
            collection_guid=self.collection_guid,
            published=self.published,
            slug=self.slug,
            variants=[
                products.VariantData(v.guid, v.sku, v.size, v.colour, v.price, v.old_price)
                for v in self.variants
            ],
            images=None
            if self.images is None
            else [products.ImageData(i.url, i.alt) for i in self.images],
        )


@strawberry.input
class CatalogInput:
    categories: list[CategoryInput] = strawberry.field(default_factory=list)
    collections: list[CollectionInput] = strawberry.field(default_factory=list)
    products: list[ProductInput] = strawberry.field(default_factory=list)


@strawberry.input
class PriceInput:
    variant_guid: str
    price: str = strawberry.field(description="roubles as a decimal string")
    old_price: str | None = None


@strawberry.input
class StockSnapshotInput:
    variant_guid: str
    warehouse_guid: str
    quantity: int
    as_of: str = strawberry.field(description="1C's clock, ISO 8601 with offset")


@strawberry.type
class UpsertResult:
    created: int
    updated: int


@strawberry.type
class UpsertWarehousesPayload:
    result: UpsertResult
    errors: list[UserError]


@strawberry.type
class UpsertCatalogPayload:
    categories: UpsertResult
    collections: UpsertResult
    products: UpsertResult
    errors: list[UserError] = strawberry.field(description="per item; valid items were applied")


@strawberry.type
class UpdatePricesPayload:
    updated: int
    errors: list[UserError]


@strawberry.type
class ApplyStockSnapshotsPayload:
    applied: int = strawberry.field(description="rows that replaced the stored figure")
    duplicates: int = strawberry.field(description="rows already applied (re-deliveries)")
    stale_rows: list[int] = strawberry.field(
        description="indexes of rows older than the figure we hold: ignored"
    )
    errors: list[UserError] = strawberry.field(description="rejected rows; the others applied")


def _result(report: catalog.IntakeReport) -> UpsertResult:
    return UpsertResult(created=report.created, updated=report.updated)


def _errors(*reports: catalog.IntakeReport) -> list[UserError]:
    return [UserError.from_problem(p) for r in reports for p in r.problems]


@strawberry.type
class IntakeMutation:
    """Per item: an item whose input text is refused (`found`, from ValidateInput) or that
    breaks a rule is reported with its path and leaves nothing; every other item is applied."""

    @strawberry.mutation(
        description="1C: create or update warehouses by GUID (catalog:write)", metadata=ITEMWISE
    )
    async def upsert_warehouses(
        self, info: Info, warehouses: list[WarehouseInput], found: Parent[RejectedItems]
    ) -> UpsertWarehousesPayload:
        await require_scope(info, Scope.CATALOG_WRITE)
        rejected = found.by_item().get("warehouses")
        items = [w.to_data() for w in warehouses]
        report = await catalog.upsert_warehouses(items=items, rejected=rejected)
        return UpsertWarehousesPayload(result=_result(report), errors=_errors(report))

    @strawberry.mutation(
        description="1C: categories, then collections, then products with variants (catalog:write)",
        metadata=ITEMWISE,
    )
    async def upsert_catalog(
        self, info: Info, input: CatalogInput, found: Parent[RejectedItems]
    ) -> UpsertCatalogPayload:
        await require_scope(info, Scope.CATALOG_WRITE)
        rejected = found.by_item(under=("input",))
        cats = await catalog.upsert_categories(
            items=[c.to_data() for c in input.categories], rejected=rejected.get("categories")
        )
        cols = await catalog.upsert_collections(
            items=[c.to_data() for c in input.collections], rejected=rejected.get("collections")
        )
        prods = await catalog.upsert_products(
            items=[p.to_data() for p in input.products], rejected=rejected.get("products")
        )
        return UpsertCatalogPayload(
            categories=_result(cats),
            collections=_result(cols),
            products=_result(prods),
            errors=_errors(cats, cols, prods),
        )

    @strawberry.mutation(description="1C: set variant prices (catalog:write)", metadata=ITEMWISE)
    async def update_prices(
        self, info: Info, prices: list[PriceInput], found: Parent[RejectedItems]
    ) -> UpdatePricesPayload:
        await require_scope(info, Scope.CATALOG_WRITE)
        report = await catalog.update_prices(
            items=[catalog.PriceData(p.variant_guid, p.price, p.old_price) for p in prices],
            rejected=found.by_item().get("prices"),
        )
        return UpdatePricesPayload(updated=report.updated, errors=_errors(report))

    @strawberry.mutation(
        description="1C: stock figures per variant and warehouse; newest asOf wins (stock:write)",
        metadata=ITEMWISE,
    )
    async def apply_stock_snapshots(
        self, info: Info, rows: list[StockSnapshotInput], found: Parent[RejectedItems]
    ) -> ApplyStockSnapshotsPayload:
        await require_scope(info, Scope.STOCK_WRITE)
        raw = [
            stock.RawStockSnapshot(r.variant_guid, r.warehouse_guid, r.quantity, r.as_of)
            for r in rows
        ]
        try:
            report = await stock.apply_stock_snapshots(
                rows=raw,
                max_rows=info.context.settings.max_intake_batch,
                rejected=found.by_item().get("rows"),
            )
        except DomainError as error:
            return ApplyStockSnapshotsPayload(
                applied=0, duplicates=0, stale_rows=[], errors=[UserError.from_error(error)]
            )
        return ApplyStockSnapshotsPayload(
            applied=report.applied,
            duplicates=report.duplicates,
            stale_rows=report.stale_rows,
            errors=[UserError.from_problem(p) for p in report.problems],
        )
