"""Read the storefront catalog: visible products, filtered, sorted, keyset-paginated."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from tortoise.expressions import F, Q, Subquery
from tortoise.queryset import QuerySet

from app.domain.catalog import parse_rub
from app.domain.cursors import decode_cursor, encode_cursor, instant_key, instant_of_key
from app.domain.errors import DomainError, ErrorCode
from app.models.catalog import Category, Collection, Product, Variant
from app.models.stock import StockLevel

MAX_PAGE = 100


class ProductSort(StrEnum):
    NEWEST = "NEWEST"
    PRICE_ASC = "PRICE_ASC"
    PRICE_DESC = "PRICE_DESC"


@dataclass(frozen=True)
class ProductFilter:
    collection_slug: str | None = None
    category_slug: str | None = None
    sizes: tuple[str, ...] = ()
    colours: tuple[str, ...] = ()
    price_min: Decimal | None = None
    price_max: Decimal | None = None
    in_stock_only: bool = False


@dataclass(frozen=True, kw_only=True)
class ProductPage:
    products: list[Product]
    cursors: list[str]
    has_next_page: bool
    has_previous_page: bool
    query: QuerySet[Product]


_SORT_KEYS: dict[ProductSort, tuple[str, bool]] = {
    ProductSort.NEWEST: ("sort_date", True),
    ProductSort.PRICE_ASC: ("price_from", False),
    ProductSort.PRICE_DESC: ("price_from", True),
}


def visible_products(now: datetime) -> QuerySet[Product]:
    """Products a shopper may see at `now`: published, sellable, and their drop has started."""
    return Product.filter(published=True, price_from__isnull=False).filter(
        Q(collection_id__isnull=True) | Q(collection__release_at__lte=now)
    )


async def list_products(
    *, filters: ProductFilter, sort: ProductSort, first: int, after: str | None, now: datetime
) -> ProductPage:
    """One page of visible products after the `after` cursor."""
    if not 0 <= first <= MAX_PAGE:
        raise DomainError(ErrorCode.INVALID, f"first must be 0..{MAX_PAGE}", ("first",))
    query = await _filtered(visible_products(now), filters)
    key, descending = _SORT_KEYS[sort]
    page_query = query
    if after:
        page_query = page_query.filter(_after(after, key, descending, sort))
    order = [f"-{key}", "-id"] if descending else [key, "id"]
    # each card shows its drop: read with the page (the query joins it anyway)
    rows = await page_query.order_by(*order).limit(first + 1).select_related("collection")
    products = rows[:first]
    cursors = [_cursor(sort, getattr(p, key), p.id) for p in products]
    return ProductPage(
        products=products,
        cursors=cursors,
        has_next_page=len(rows) > first,
        has_previous_page=after is not None,
        query=query,
    )


async def _filtered(query: QuerySet[Product], f: ProductFilter) -> QuerySet[Product]:
    if f.collection_slug is not None:
        query = query.filter(collection__slug=f.collection_slug)
    if f.category_slug is not None:
        query = query.filter(category_id__in=await _category_subtree(f.category_slug))
    variants = _variant_filter(f)
    if variants is not None:
        query = query.filter(id__in=Subquery(variants.values("product_id")))
    return query


def _variant_filter(f: ProductFilter) -> QuerySet[Variant] | None:
    """Variants that match every variant-level filter at once (size AND colour AND price …)."""
    conditions: dict[str, Any] = {}
    if f.sizes:
        conditions["size__in"] = list(f.sizes)
    if f.colours:
        conditions["colour__in"] = list(f.colours)
    if f.price_min is not None:
        conditions["price__gte"] = parse_rub(f.price_min, path=("filter", "priceMin"))
    if f.price_max is not None:
        conditions["price__lte"] = parse_rub(f.price_max, path=("filter", "priceMax"))
    if not conditions and not f.in_stock_only:
        return None
    variants = Variant.filter(**conditions)
    if f.in_stock_only:
        # available > 0 ⇔ some sellable warehouse has on_hand > buffer (see domain.availability)
        in_stock = StockLevel.filter(
            on_hand__gt=F("buffer"), warehouse__sellable_online=True
        ).values("variant_id")
        variants = variants.filter(id__in=Subquery(in_stock))
    return variants


async def _category_subtree(slug: str) -> list[int]:
    tree = await Category.all().values_list("id", "parent_id", "slug")
    roots = [cid for cid, _, s in tree if s == slug]
    children: dict[int | None, list[int]] = {}
    for cid, parent, _ in tree:
        children.setdefault(parent, []).append(cid)
    found: set[int] = set()
    stack = list(roots)
    while stack:
        cid = stack.pop()
        if cid not in found:  # a tree by construction; never loop even if data says otherwise
            found.add(cid)
            stack.extend(children.get(cid, []))
    return sorted(found)


def _cursor(sort: ProductSort, value: datetime | int, pk: int) -> str:
    key = instant_key(value) if isinstance(value, datetime) else value
    return encode_cursor(f"products:{sort.value}", key, pk)


def _after(cursor: str, key: str, descending: bool, sort: ProductSort) -> Q:
    sort_key, pk = decode_cursor(cursor, f"products:{sort.value}", 2)
    value: datetime | int = instant_of_key(sort_key) if key == "sort_date" else sort_key
    op = "lt" if descending else "gt"
    beyond: dict[str, Any] = {f"{key}__{op}": value}
    tie: dict[str, Any] = {key: value, f"id__{op}": pk}
    return Q(**beyond) | Q(**tie)


async def get_product(*, slug: str | None, guid: str | None, now: datetime) -> Product | None:
    """One visible product by slug or id (GUID); None if unknown or not yet released."""
    query = visible_products(now)
    query = query.filter(slug=slug) if slug else query.filter(guid=guid)
    # the product page shows its drop and its category (with its parent): read with it
    return await query.select_related("collection", "category", "category__parent").first()


async def list_collections(*, now: datetime, include_upcoming: bool) -> list[Collection]:
    """Collections, newest drop first; upcoming ones only when asked (teasers)."""
    query = Collection.all() if include_upcoming else Collection.filter(release_at__lte=now)
    return await query.order_by("-release_at")


async def list_categories() -> list[Category]:
    return await Category.all().order_by("position", "name")
