"""What a live availability subscription needs to know of its product, read once per subscribe."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from app.domain.errors import DomainError, ErrorCode
from app.models.catalog import Variant, Warehouse
from app.services.catalog.queries import get_product
from app.services.stock_stream.feed import StockFeed
from app.services.stock_stream.figures import VariantStock


@dataclass(frozen=True, slots=True)
class WatchedProduct:
    """A visible product's variants and the warehouses figures name, by public id."""

    variant_guids: dict[int, str]  # variant pk -> GUID, in the product's order
    warehouse_guids: dict[int, str]  # warehouse pk -> GUID, in allocation order

    @property
    def variant_ids(self) -> frozenset[int]:
        return frozenset(self.variant_guids)


async def watched_product(*, product_guid: str, now: datetime) -> WatchedProduct:
    """The product a shopper may see at `now` (released, published), else UNKNOWN_PRODUCT."""
    product = await get_product(slug=None, guid=product_guid, now=now)
    if product is None:
        raise DomainError(ErrorCode.UNKNOWN_PRODUCT, "no such product", ("productId",))
    variants = (
        await Variant.filter(product_id=product.id)
        .order_by("position", "id")
        .values_list("id", "guid")
    )
    warehouses = await Warehouse.all().order_by("priority", "id").values_list("id", "guid")
    return WatchedProduct(variant_guids=dict(variants), warehouse_guids=dict(warehouses))


async def current_figures(
    feed: StockFeed, variant_ids: frozenset[int], *, now: datetime
) -> list[VariantStock]:
    """The figures a subscription starts with: the feed's where it knows them, the rest read
    in one query."""
    known = {v: f for v in variant_ids if (f := feed.latest(v, now)) is not None}
    missing = sorted(variant_ids - known.keys())
    if missing:
        known.update((await feed.read_live(missing, now)).figures)
    return [known[v] for v in sorted(known)]
