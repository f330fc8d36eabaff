"""Storefront catalog queries."""

from __future__ import annotations

from decimal import Decimal

import strawberry
from graphql import GraphQLError

from app.domain.errors import DomainError
from app.models.catalog import WarehouseKind as WarehouseKindRow
from app.schema.catalog.types import (
    Category,
    Collection,
    PageInfo,
    Product,
    ProductEdge,
    Warehouse,
)
from app.schema.context import Info
from app.services.catalog import queries as catalog

strawberry.enum(catalog.ProductSort, name="ProductSort")


@strawberry.input
class ProductFilterInput:
    collection: str | None = strawberry.field(default=None, description="collection slug")
    category: str | None = strawberry.field(
        default=None, description="category slug; its subcategories are included"
    )
    sizes: list[str] | None = None
    colours: list[str] | None = None
    price_min: Decimal | None = strawberry.field(default=None, description="roubles")
    price_max: Decimal | None = strawberry.field(default=None, description="roubles")
    in_stock_only: bool = False

    def to_domain(self) -> catalog.ProductFilter:
        return catalog.ProductFilter(
            collection_slug=self.collection,
            category_slug=self.category,
            sizes=tuple(self.sizes or ()),
            colours=tuple(self.colours or ()),
            price_min=self.price_min,
            price_max=self.price_max,
            in_stock_only=self.in_stock_only,
        )


@strawberry.type
class ProductConnection:
    edges: list[ProductEdge]
    page_info: PageInfo
    page: strawberry.Private[catalog.ProductPage]

    @strawberry.field(description="products matching the filter, all pages together")
    async def total_count(self) -> int:
        return await self.page.query.count()


def query_error(error: DomainError) -> GraphQLError:
    """A domain refusal in a query, as a GraphQL error with code and input path."""
    extensions = {"code": error.code.value, "field": [str(p) for p in error.path]}
    return GraphQLError(error.message, extensions=extensions)


def _connection(page: catalog.ProductPage) -> ProductConnection:
    edges = [
        ProductEdge(cursor=c, node=Product.of(p))
        for p, c in zip(page.products, page.cursors, strict=True)
    ]
    info = PageInfo.of(
        page.cursors, has_next=page.has_next_page, has_previous=page.has_previous_page
    )
    return ProductConnection(edges=edges, page_info=info, page=page)


@strawberry.type
class CatalogQuery:
    @strawberry.field(description="visible products, keyset-paginated (first ≤ 100)")
    async def products(
        self,
        info: Info,
        first: int = 24,
        after: str | None = None,
        filter: ProductFilterInput | None = None,
        sort: catalog.ProductSort = catalog.ProductSort.NEWEST,
    ) -> ProductConnection:
        filters = filter.to_domain() if filter else catalog.ProductFilter()
        try:
            page = await catalog.list_products(
                filters=filters, sort=sort, first=first, after=after, now=info.context.now
            )
        except DomainError as error:
            raise query_error(error) from None
        info.context.loaders.prime_related(page.products)
        return _connection(page)

    @strawberry.field(description="one visible product by slug or id")
    async def product(
        self, info: Info, slug: str | None = None, id: strawberry.ID | None = None
    ) -> Product | None:
        if (slug is None) == (id is None):
            raise GraphQLError("give exactly one of slug or id", extensions={"code": "INVALID"})
        row = await catalog.get_product(slug=slug, guid=id, now=info.context.now)
        if row is None:
            return None
        info.context.loaders.prime_related([row], categories=True)
        return Product.of(row)

    @strawberry.field(description="monthly drops, newest first")
    async def collections(self, info: Info, include_upcoming: bool = False) -> list[Collection]:
        rows = await catalog.list_collections(
            now=info.context.now, include_upcoming=include_upcoming
        )
        return [Collection.of(r) for r in rows]

    @strawberry.field
    async def categories(self) -> list[Category]:
        return [Category.of(r) for r in await catalog.list_categories()]

    @strawberry.field(description="the brand's shops, in allocation order")
    async def shops(self, info: Info) -> list[Warehouse]:
        warehouses = (await info.context.loaders.warehouses()).values()
        return [Warehouse.of(w) for w in warehouses if w.kind == WarehouseKindRow.SHOP]
