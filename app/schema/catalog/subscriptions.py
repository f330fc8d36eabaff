"""Live availability on the product page (graphql-transport-ws and SSE, app/schema/live/),
fed by the stock stream."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry
from graphql import GraphQLError

from app.domain.errors import DomainError, ErrorCode
from app.schema.catalog.queries import query_error
from app.schema.context import Info
from app.schema.live.shared import shareable
from app.services.stock_stream import StockFeed, VariantStock
from app.services.stock_stream.watched import WatchedProduct, current_figures, watched_product


@strawberry.type
class WarehouseQuantity:
    warehouse_id: strawberry.ID
    quantity: int


@strawberry.type(description="a variant's availability, sent whenever it changes")
class VariantAvailability:
    variant_id: strawberry.ID
    available: int = strawberry.field(description="units a shopper can buy now")
    availability: list[WarehouseQuantity] = strawberry.field(
        description="units per sellable warehouse (shops included)"
    )

    @classmethod
    def of(cls, figure: VariantStock, product: WatchedProduct) -> VariantAvailability:
        per = [
            WarehouseQuantity(warehouse_id=strawberry.ID(guid), quantity=figure.by_warehouse[pk])
            for pk, guid in product.warehouse_guids.items()
            if pk in figure.by_warehouse
        ]
        return cls(
            variant_id=strawberry.ID(product.variant_guids[figure.variant_id]),
            available=figure.available,
            availability=per,
        )


def _feed(info: Info) -> StockFeed:
    feed = info.context.stock_feed
    if feed is None:
        raise GraphQLError("live availability is unavailable", extensions={"code": "UNAVAILABLE"})
    if feed.watcher_count >= info.context.settings.max_subscriptions_per_process:
        error = DomainError(ErrorCode.TOO_MANY_ATTEMPTS, "too many live subscriptions", (), None, 5)
        raise query_error(error)
    return feed


@strawberry.type
class CatalogSubscription:
    @strawberry.subscription(
        description="a released product's variants: the current figures, then every change"
    )
    async def product_availability(
        self, info: Info, product_id: strawberry.ID
    ) -> AsyncGenerator[VariantAvailability, None]:
        feed = _feed(info)
        try:
            product = await watched_product(product_guid=str(product_id), now=feed.now())
        except DomainError as error:
            raise query_error(error) from None
        watch = feed.watch(product.variant_ids)  # before the first read: no change is missed
        try:
            for figure in await current_figures(feed, product.variant_ids, now=feed.now()):
                watch.offer(figure)
            async for figure in watch:
                yield VariantAvailability.of(figure, product)
        finally:
            await watch.aclose()


# principal-independent: one execution per product, fanned out (app/schema/live/)
shareable("productAvailability", identity="variantId")
