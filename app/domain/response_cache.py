"""The response cache's rules: what may be shared, its key, its tags and how long it lives.

An entry is one anonymous answer to one registered catalog document with one set of variables.
It is tagged by every catalog object it shows (`product:<guid>`, `variant:<guid>`, …; an object
shown without its id tags the entry with its whole kind, `product:*`) and by the lists it ran
(`list:products`: any product written, created or priced changes which products a page holds
and in what order). A change bumps the tags it touches; an entry any of whose tags moved past
the point it was filled at is stale. An entry never outlives the next drop instant after it
was filled, nor its maximum age.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Final

# Root fields whose answer is the same for every anonymous shopper and is tagged here.
SHAREABLE_ROOTS: Final = frozenset({"products", "product", "collections", "categories", "shops"})
# Catalog object types by the tag kind their GUID `id` names.
KIND_OF_TYPE: Final = {
    "Product": "product",
    "Variant": "variant",
    "Collection": "collection",
    "Category": "category",
    "Warehouse": "warehouse",
}
# Value types the catalog's entries may show besides those; anything else is not shared.
PLAIN_TYPES: Final = frozenset(
    {"Query", "Money", "Image", "WarehouseAvailability", "ProductConnection", "ProductEdge"}
    | {"PageInfo"}
)
PRODUCT_LIST: Final = "list:products"
COLLECTION_LIST: Final = "list:collections"
CATEGORY_LIST: Final = "list:categories"
SHOP_LIST: Final = "list:shops"
STOCK_SHOWN: Final = "stock:*"  # an entry that shows availability (a warehouse may stop selling)
# Which list each root field runs: a new or changed object of that kind may change the list.
LIST_OF_ROOT: Final = {
    "products": PRODUCT_LIST,
    "collections": COLLECTION_LIST,
    "categories": CATEGORY_LIST,
    "shops": SHOP_LIST,
}


def entity_tag(kind: str, guid: str) -> str:
    return f"{kind}:{guid}"


def kind_tag(kind: str) -> str:
    """The tag of an entry that showed an object of this kind without its id."""
    return f"{kind}:*"


def cache_key(document_id: str, variables: Mapping[str, object], operation: str | None) -> str:
    """One key per document, canonical variables (keys sorted, no spaces) and operation."""
    canonical = json.dumps(variables, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return f"{document_id}\n{operation or ''}\n{canonical}"


# --- what a change bumps ------------------------------------------------------------------------


def _touched(kind: str, guids: Iterable[str]) -> set[str]:
    return {kind_tag(kind), *(entity_tag(kind, g) for g in guids)}


def product_written(product_guid: str, variant_guids: Iterable[str]) -> set[str]:
    """A product created or edited with its variants and images: its pages and every list."""
    return {PRODUCT_LIST} | _touched("product", [product_guid]) | _touched("variant", variant_guids)


def price_written(variant_guid: str) -> set[str]:
    """A price: the variant wherever shown, and every list (price sort, price filters)."""
    return {PRODUCT_LIST} | _touched("variant", [variant_guid])


def category_written(guid: str) -> set[str]:
    """A category: the menu, where it is shown, and lists filtered by its subtree."""
    return {CATEGORY_LIST, PRODUCT_LIST} | _touched("category", [guid])


def collection_written(guid: str) -> set[str]:
    """A collection (its release instant may move): drops, where it is shown, product lists."""
    return {COLLECTION_LIST, PRODUCT_LIST} | _touched("collection", [guid])


def warehouse_written(guid: str) -> set[str]:
    """A warehouse: the shops, where it is shown, and every availability figure (it may have
    stopped or started selling online)."""
    return {SHOP_LIST, STOCK_SHOWN} | _touched("warehouse", [guid])


# --- freshness ----------------------------------------------------------------------------------


def is_fresh(
    tags: Iterable[str], filled_at_seq: int, versions: Mapping[str, int], floor: int = 0
) -> bool:
    """No tag of the entry was bumped after the invalidation sequence it was filled at.

    `floor`: versions at or below it may have been forgotten (the tag book is bounded), so an
    entry filled below it cannot be vouched for and is not fresh."""
    return filled_at_seq >= floor and all(versions.get(tag, 0) <= filled_at_seq for tag in tags)


def next_release(instants: Sequence[datetime], now: datetime) -> datetime | None:
    """The first drop instant strictly after `now` (`instants` sorted), if any."""
    index = bisect.bisect_right(instants, now)
    return instants[index] if index < len(instants) else None


def expires_at(
    now: datetime,
    *,
    max_age: timedelta,
    release: datetime | None,
    stock_list: bool,
    stock_list_age: timedelta,
) -> datetime:
    """When an entry filled at `now` must be computed again: its maximum age, the next drop
    instant (its products appear then on every process, no flush), and for a list filtered by
    stock (which products it holds moves with every sale) a short age of its own."""
    deadline = now + max_age
    if stock_list:
        deadline = min(deadline, now + stock_list_age)
    return deadline if release is None else min(deadline, release)


def filters_by_stock(variables: Mapping[str, object]) -> bool:
    """Whether a products query asks for items in stock only (its membership moves with sales).

    Conservative: any variable holding `inStockOnly` that is not false counts."""
    return any(_asks_in_stock(value) for value in variables.values())


def _asks_in_stock(value: object) -> bool:
    if isinstance(value, Mapping):
        flag = value.get("inStockOnly", False)
        return flag is not False or any(_asks_in_stock(v) for v in value.values())
    if isinstance(value, list):
        return any(_asks_in_stock(v) for v in value)
    return False


# --- the stock overlay --------------------------------------------------------------------------


def needs_overlay(filled_version: int | None, current_version: int) -> bool:
    """A published figure newer than the one an entry was filled with (None: the feed knew no
    figure then, so any it knows now may be newer)."""
    return filled_version is None or current_version > filled_version


def overlaid_quantities(order: Sequence[int], by_warehouse: Mapping[int, int]) -> list[int] | None:
    """Per-warehouse quantities in the order the entry lists them, or None when the feed's
    warehouses are not the entry's (a warehouse started or stopped selling: compute again)."""
    if len(order) != len(by_warehouse) or any(w not in by_warehouse for w in order):
        return None
    return [by_warehouse[w] for w in order]
