"""Upsert what 1C owns: warehouses, categories, collections, products with variants, prices.

Every item is validated and written on its own: a bad item is reported with its path and
leaves nothing behind, the valid ones land.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import KW_ONLY, dataclass, field
from typing import TypeVar

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app.domain.catalog import parse_guid, parse_rub
from app.domain.errors import DomainError, ErrorCode, Problem
from app.domain.stock import parse_instant
from app.models.catalog import (
    Category,
    Collection,
    HoldMode,
    Product,
    Variant,
    Warehouse,
    WarehouseKind,
)
from app.services.catalog.products import ProductData, refresh_price_from, upsert_product
from app.services.catalog.slugs import slug_for

T = TypeVar("T")
Path = tuple[str | int, ...]


@dataclass
class IntakeReport:
    created: int = 0
    updated: int = 0
    problems: list[Problem] = field(default_factory=list)


@dataclass(frozen=True)
class WarehouseData:
    guid: str
    name: str
    kind: str
    address: str = ""
    _: KW_ONLY  # a flag and numbers that mean nothing without their names
    sellable_online: bool = True
    priority: int = 100
    slack_channel: str | None = None


@dataclass(frozen=True)
class CategoryData:
    guid: str
    name: str
    parent_guid: str | None = None
    slug: str | None = None
    position: int = 0


@dataclass(frozen=True)
class CollectionData:
    guid: str
    name: str
    release_at: str
    slug: str | None = None
    description: str = ""
    # Drop rules; None keeps what the collection has (the merchandiser may have set them).
    hold_mode: str | None = None
    hold_minutes: int | None = None
    purchase_limit: int | None = None


async def _each(
    items: Sequence[T], field_name: str, write: Callable[[T, Path], Awaitable[bool]]
) -> IntakeReport:
    """Write items one by one, each in its own transaction; collect per-item problems."""
    report = IntakeReport()
    for index, item in enumerate(items):
        try:
            async with in_transaction():
                created = await write(item, (field_name, index))
        except DomainError as error:
            report.problems.append(error.as_problem())
        except IntegrityError:
            message = "conflicts with existing data (a unique GUID, SKU or slug)"
            report.problems.append(Problem(ErrorCode.INVALID, (field_name, index), message))
        else:
            report.created += created
            report.updated += not created
    return report


def _require_name(name: str, path: Path) -> str:
    if not name.strip():
        raise DomainError(ErrorCode.INVALID, "name must not be empty", (*path, "name"))
    return name.strip()


async def upsert_warehouses(*, items: Sequence[WarehouseData]) -> IntakeReport:
    """Create or update warehouses by 1C GUID."""
    return await _each(items, "warehouses", _upsert_warehouse)


async def _upsert_warehouse(item: WarehouseData, path: Path) -> bool:
    guid = parse_guid(item.guid, path=(*path, "guid"))
    try:
        kind = WarehouseKind(item.kind.lower())
    except ValueError:
        raise DomainError(ErrorCode.INVALID, "kind is online or shop", (*path, "kind")) from None
    _, created = await Warehouse.update_or_create(
        guid=guid,
        defaults={
            "name": _require_name(item.name, path),
            "kind": kind,
            "address": item.address,
            "sellable_online": item.sellable_online,
            "priority": item.priority,
            "slack_channel": item.slack_channel,
        },
    )
    return created


async def upsert_categories(*, items: Sequence[CategoryData]) -> IntakeReport:
    """Create or update categories by GUID; a parent may come earlier in the same batch."""
    return await _each(items, "categories", _upsert_category)


async def _upsert_category(item: CategoryData, path: Path) -> bool:
    guid = parse_guid(item.guid, path=(*path, "guid"))
    parent_id = None
    if item.parent_guid:
        parent_guid = parse_guid(item.parent_guid, path=(*path, "parentGuid"))
        parent = await Category.get_or_none(guid=parent_guid)
        if parent is None:
            raise DomainError(
                ErrorCode.UNKNOWN_CATEGORY, f"no parent {parent_guid}", (*path, "parentGuid")
            )
        if guid in await _ancestry(parent):
            raise DomainError(
                ErrorCode.INVALID,
                "this parent would make a loop in the tree",
                (*path, "parentGuid"),
            )
        parent_id = parent.id
    name = _require_name(item.name, path)
    _, created = await Category.update_or_create(
        guid=guid,
        defaults={
            "name": name,
            "slug": await slug_for(Category, guid=guid, name=name, explicit=item.slug),
            "parent_id": parent_id,
            "position": item.position,
        },
    )
    return created


async def _ancestry(category: Category) -> set[str]:
    """GUIDs of a category and everything above it."""
    tree = {
        cid: (g, parent)
        for cid, g, parent in await Category.all().values_list("id", "guid", "parent_id")
    }
    seen: set[str] = set()
    current: int | None = category.id
    while current is not None and tree[current][0] not in seen:
        seen.add(tree[current][0])
        current = tree[current][1]
    return seen


async def upsert_collections(*, items: Sequence[CollectionData]) -> IntakeReport:
    """Create or update monthly collections by GUID; a moved drop moves its products' dates."""
    return await _each(items, "collections", _upsert_collection)


async def _upsert_collection(item: CollectionData, path: Path) -> bool:
    guid = parse_guid(item.guid, path=(*path, "guid"))
    release_at = parse_instant(item.release_at, path=(*path, "releaseAt"))
    name = _require_name(item.name, path)
    collection, created = await Collection.update_or_create(
        guid=guid,
        defaults={
            "name": name,
            "slug": await slug_for(Collection, guid=guid, name=name, explicit=item.slug),
            "release_at": release_at,
            "description": item.description,
            **_drop_rules(item, path),
        },
    )
    if not created:
        await Product.filter(collection_id=collection.id).update(sort_date=release_at)
    return created


def _drop_rules(item: CollectionData, path: Path) -> dict[str, object]:
    rules: dict[str, object] = {}
    if item.hold_mode is not None:
        try:
            rules["hold_mode"] = HoldMode(item.hold_mode)
        except ValueError:
            raise DomainError(
                ErrorCode.INVALID, "holdMode is at_order or at_cart", (*path, "holdMode")
            ) from None
    if item.hold_minutes is not None:
        if not 1 <= item.hold_minutes <= 120:
            raise DomainError(ErrorCode.INVALID, "1..120 minutes", (*path, "holdMinutes"))
        rules["hold_minutes"] = item.hold_minutes
    if item.purchase_limit is not None:
        if item.purchase_limit < 1:
            raise DomainError(ErrorCode.INVALID, "at least 1", (*path, "purchaseLimit"))
        rules["purchase_limit"] = item.purchase_limit
    return rules


async def upsert_products(*, items: Sequence[ProductData]) -> IntakeReport:
    """Create or update products with their variants and images by 1C GUID."""
    return await _each(items, "products", upsert_product)


@dataclass(frozen=True)
class PriceData:
    variant_guid: str
    price: str
    old_price: str | None = None


async def update_prices(*, items: Sequence[PriceData]) -> IntakeReport:
    """Set variant prices (roubles as decimal strings); keep products' lowest price in step."""
    return await _each(items, "prices", _update_price)


async def _update_price(item: PriceData, path: Path) -> bool:
    guid = parse_guid(item.variant_guid, path=(*path, "variantGuid"))
    price = parse_rub(item.price, path=(*path, "price"))
    old = parse_rub(item.old_price, path=(*path, "oldPrice")) if item.old_price else None
    variant = await Variant.get_or_none(guid=guid)
    if variant is None:
        raise DomainError(ErrorCode.UNKNOWN_VARIANT, f"no variant {guid}", (*path, "variantGuid"))
    await Variant.filter(id=variant.id).update(price=price, old_price=old)
    await refresh_price_from(variant.product_id)
    return False
