"""Upsert what 1C owns: warehouses, categories, collections, products with variants, prices.

Per item: every item of a call is checked first (the rules that need no database), then each
valid one is written in its own transaction. A bad item is reported with its path and leaves
nothing behind; the valid ones land. Items the caller's input validation already refused
(`rejected`, by index) are reported as given and never written.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field, replace
from datetime import UTC, datetime
from enum import Enum
from typing import Any, Final, TypeVar

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app.domain import response_cache as tags
from app.domain.catalog import parse_guid, parse_rub
from app.domain.errors import DomainError, ErrorCode, Problem
from app.domain.stock import parse_instant
from app.models.catalog import (
    Category,
    Collection,
    HoldMode,
    Product,
    QueueMode,
    Variant,
    Warehouse,
    WarehouseKind,
)
from app.models.stock import written_versions
from app.services.catalog.products import (
    ProductData,
    check_product,
    refresh_price_from,
    write_product,
)
from app.services.catalog.slugs import slug_for
from app.services.partners import recording as partner_events
from app.services.response_cache.invalidation import catalog_changed

T = TypeVar("T")
C = TypeVar("C")  # an item once checked
Path = tuple[str | int, ...]


@dataclass
class IntakeReport:
    created: int = 0
    updated: int = 0
    problems: list[Problem] = field(default_factory=list)


class Keep(Enum):
    """A setting the caller left out: the stored value stays (None would clear it)."""

    KEEP = "keep"


KEEP: Final = Keep.KEEP


@dataclass(frozen=True)
class WarehouseData:
    guid: str
    name: str
    kind: str
    address: str = ""
    _: KW_ONLY  # a flag and numbers that mean nothing without their names
    sellable_online: bool = True
    priority: int = 100
    # Ours, not 1C's (an admin may set them, setShopSlack): left out, they stay as stored.
    slack_channel: str | None | Keep = KEEP
    slack_on_duty: str | None | Keep = KEEP


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
    queue_mode: str | None = None  # off | lottery (the waiting room)


Rejected = Mapping[int, Problem]  # item index → why the caller's input validation refused it


async def _each(
    items: Sequence[T],
    field_name: str,
    check: Callable[[T, Path], C],
    write: Callable[[C, Path], Awaitable[bool]],
    rejected: Rejected | None,
    changed: Callable[[C], set[str]],
) -> IntakeReport:
    """Check every item, then write each valid one in its own transaction; collect problems.
    After each commit, the response cache entries that show the item are invalidated."""
    report = IntakeReport()
    checked: list[tuple[Path, C]] = []
    for index, item in enumerate(items):
        path: Path = (field_name, index)
        if rejected and index in rejected:
            report.problems.append(rejected[index])
            continue
        try:
            checked.append((path, check(item, path)))
        except DomainError as error:
            report.problems.append(error.as_problem())
    for path, clean in checked:
        try:
            async with in_transaction():
                created = await write(clean, path)
        except DomainError as error:
            report.problems.append(error.as_problem())
        except IntegrityError:
            message = "conflicts with existing data (a unique GUID, SKU or slug)"
            report.problems.append(Problem(ErrorCode.INVALID, path, message))
        else:
            report.created += created
            report.updated += not created
            await catalog_changed(changed(clean))
    report.problems.sort(key=lambda problem: int(problem.path[1]))  # in the order sent
    return report


def _require_name(name: str, path: Path) -> str:
    if not name.strip():
        raise DomainError(ErrorCode.INVALID, "name must not be empty", (*path, "name"))
    return name.strip()


async def upsert_warehouses(
    *, items: Sequence[WarehouseData], rejected: Rejected | None = None
) -> IntakeReport:
    """Create or update warehouses by 1C GUID."""
    report = await _each(
        items,
        "warehouses",
        _check_warehouse,
        _write_warehouse,
        rejected,
        lambda w: tags.warehouse_written(w.guid),
    )
    if report.updated:
        # whether a warehouse sells online changes every figure of its variants, with no stock
        # row written: the stock-change stream tells every feed to drop what it holds (a new
        # warehouse has no stock yet, so no figure can be wrong)
        written_versions.note_reset()
    return report


@dataclass(frozen=True)
class _CheckedWarehouse:
    guid: str
    defaults: dict[str, Any]


def _check_warehouse(item: WarehouseData, path: Path) -> _CheckedWarehouse:
    guid = parse_guid(item.guid, path=(*path, "guid"))
    try:
        kind = WarehouseKind(item.kind.lower())
    except ValueError:
        raise DomainError(ErrorCode.INVALID, "kind is online or shop", (*path, "kind")) from None
    defaults = {
        "name": _require_name(item.name, path),
        "kind": kind,
        "address": item.address,
        "sellable_online": item.sellable_online,
        "priority": item.priority,
    }
    for column, value in (
        ("slack_channel", item.slack_channel),
        ("slack_on_duty", item.slack_on_duty),
    ):
        if value is not KEEP:
            defaults[column] = value
    return _CheckedWarehouse(guid, defaults)


async def _write_warehouse(item: _CheckedWarehouse, path: Path) -> bool:
    _, created = await Warehouse.update_or_create(guid=item.guid, defaults=item.defaults)
    return created


async def upsert_categories(
    *, items: Sequence[CategoryData], rejected: Rejected | None = None
) -> IntakeReport:
    """Create or update categories by GUID; a parent may come earlier in the same batch."""
    return await _each(
        items,
        "categories",
        _check_category,
        _write_category,
        rejected,
        lambda c: tags.category_written(c.guid),
    )


def _check_category(item: CategoryData, path: Path) -> CategoryData:
    return replace(
        item,
        guid=parse_guid(item.guid, path=(*path, "guid")),
        name=_require_name(item.name, path),
        parent_guid=parse_guid(item.parent_guid, path=(*path, "parentGuid"))
        if item.parent_guid
        else None,
    )


async def _write_category(item: CategoryData, path: Path) -> bool:
    parent_id = None
    if item.parent_guid:
        parent = await Category.get_or_none(guid=item.parent_guid)
        if parent is None:
            raise DomainError(
                ErrorCode.UNKNOWN_CATEGORY, f"no parent {item.parent_guid}", (*path, "parentGuid")
            )
        if item.guid in await _ancestry(parent):
            raise DomainError(
                ErrorCode.INVALID,
                "this parent would make a loop in the tree",
                (*path, "parentGuid"),
            )
        parent_id = parent.id
    _, created = await Category.update_or_create(
        guid=item.guid,
        defaults={
            "name": item.name,
            "slug": await slug_for(Category, guid=item.guid, name=item.name, explicit=item.slug),
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


async def upsert_collections(
    *, items: Sequence[CollectionData], rejected: Rejected | None = None
) -> IntakeReport:
    """Create or update monthly collections by GUID; a moved drop moves its products' dates."""
    return await _each(
        items,
        "collections",
        _check_collection,
        _write_collection,
        rejected,
        lambda c: tags.collection_written(c.guid),
    )


@dataclass(frozen=True)
class _CheckedCollection:
    guid: str
    name: str
    release_at: datetime
    item: CollectionData
    rules: dict[str, object]


def _check_collection(item: CollectionData, path: Path) -> _CheckedCollection:
    guid = parse_guid(item.guid, path=(*path, "guid"))
    release_at = parse_instant(item.release_at, path=(*path, "releaseAt"))
    name = _require_name(item.name, path)
    return _CheckedCollection(guid, name, release_at, item, _drop_rules(item, path))


async def _write_collection(checked: _CheckedCollection, path: Path) -> bool:
    guid, name = checked.guid, checked.name
    collection, created = await Collection.update_or_create(
        guid=guid,
        defaults={
            "name": name,
            "slug": await slug_for(Collection, guid=guid, name=name, explicit=checked.item.slug),
            "release_at": checked.release_at,
            "description": checked.item.description,
            **checked.rules,
        },
    )
    if not created:
        await Product.filter(collection_id=collection.id).update(sort_date=checked.release_at)
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
    if item.queue_mode is not None:
        try:
            rules["queue_mode"] = QueueMode(item.queue_mode)
        except ValueError:
            raise DomainError(
                ErrorCode.INVALID, "queueMode is off or lottery", (*path, "queueMode")
            ) from None
    return rules


async def upsert_products(
    *, items: Sequence[ProductData], rejected: Rejected | None = None
) -> IntakeReport:
    """Create or update products with their variants and images by 1C GUID."""
    return await _each(
        items,
        "products",
        check_product,
        write_product,
        rejected,
        lambda p: tags.product_written(p.guid, [v.guid for v in p.variants]),
    )


@dataclass(frozen=True)
class PriceData:
    variant_guid: str
    price: str
    old_price: str | None = None


@dataclass(frozen=True)
class _CheckedPrice:
    variant_guid: str
    price: int
    old_price: int | None


async def update_prices(
    *, items: Sequence[PriceData], rejected: Rejected | None = None
) -> IntakeReport:
    """Set variant prices (roubles as decimal strings); keep products' lowest price in step."""
    return await _each(
        items,
        "prices",
        _check_price,
        _write_price,
        rejected,
        lambda p: tags.price_written(p.variant_guid),
    )


def _check_price(item: PriceData, path: Path) -> _CheckedPrice:
    guid = parse_guid(item.variant_guid, path=(*path, "variantGuid"))
    price = parse_rub(item.price, path=(*path, "price"))
    old = parse_rub(item.old_price, path=(*path, "oldPrice")) if item.old_price else None
    return _CheckedPrice(guid, price, old)


async def _write_price(item: _CheckedPrice, path: Path) -> bool:
    variant = await Variant.get_or_none(guid=item.variant_guid)
    if variant is None:
        raise DomainError(
            ErrorCode.UNKNOWN_VARIANT, f"no variant {item.variant_guid}", (*path, "variantGuid")
        )
    await Variant.filter(id=variant.id).update(price=item.price, old_price=item.old_price)
    await refresh_price_from(variant.product_id)
    await partner_events.record_product_updated(variant.product_id, now=datetime.now(UTC))
    return False
