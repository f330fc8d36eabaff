"""Upsert one product with its variants and images, as 1C describes it: first checked on its
own (`check_product`, no database), then written (`write_product`, references resolved)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from app.domain.catalog import check_image_url, parse_guid, parse_rub
from app.domain.errors import DomainError, ErrorCode
from app.models.catalog import Category, Collection, Product, ProductImage, Variant
from app.services.catalog.slugs import slug_for
from app.services.partners import recording as partner_events

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class VariantData:
    guid: str
    sku: str
    size: str
    colour: str
    price: str
    old_price: str | None = None


@dataclass(frozen=True)
class ImageData:
    url: str
    alt: str = ""


@dataclass(frozen=True)
class ProductData:
    guid: str
    name: str
    variants: list[VariantData]
    description: str = ""
    category_guid: str | None = None
    collection_guid: str | None = None
    published: bool = True
    slug: str | None = None
    images: list[ImageData] | None = field(default=None)


@dataclass(frozen=True)
class _CleanVariant:
    guid: str
    sku: str
    size: str
    colour: str
    price: int
    old_price: int | None


@dataclass(frozen=True)
class CheckedProduct:
    """A product whose every field passed the rules that need no database."""

    item: ProductData
    guid: str
    name: str
    variants: list[_CleanVariant]
    images: list[ImageData] | None


def check_product(item: ProductData, path: Path) -> CheckedProduct:
    """Validate one product as 1C sent it, before anything is read or written."""
    guid = parse_guid(item.guid, path=(*path, "guid"))
    if not item.name.strip():
        raise DomainError(ErrorCode.INVALID, "name must not be empty", (*path, "name"))
    variants = _clean_variants(item.variants, path)
    for name, value in (
        ("categoryGuid", item.category_guid),
        ("collectionGuid", item.collection_guid),
    ):
        if value:
            parse_guid(value, path=(*path, name))
    return CheckedProduct(item, guid, item.name.strip(), variants, _check_images(item, path))


def _check_images(item: ProductData, path: Path) -> list[ImageData] | None:
    if item.images is None:
        return None
    return [
        ImageData(check_image_url(i.url, path=(*path, "images", n, "url")), i.alt)
        for n, i in enumerate(item.images)
    ]


async def write_product(checked: CheckedProduct, path: Path) -> bool:
    """Write one checked product; the caller owns the transaction. True if it was created."""
    item, guid, variants = checked.item, checked.guid, checked.variants
    category = await _category(item.category_guid, path)
    collection = await _collection(item.collection_guid, path)
    await _check_variants_belong_here(variants, guid, path)
    product = await Product.get_or_none(guid=guid)
    created = product is None
    sort_date = (
        collection.release_at
        if collection
        else (product.created_at if product else datetime.now(UTC))
    )
    fields: dict[str, Any] = {
        "name": checked.name,
        "slug": await slug_for(Product, guid=guid, name=item.name, explicit=item.slug),
        "description": item.description,
        "category_id": category.id if category else None,
        "collection_id": collection.id if collection else None,
        "published": item.published,
        "sort_date": sort_date,
    }
    before = product  # as it was: partners hear whether it appeared, changed or went
    if product is None:
        product = await Product.create(guid=guid, **fields)
    else:
        await Product.filter(id=product.id).update(**fields)
    await _write_variants(product.id, variants)
    if checked.images is not None:
        await _replace_images(product.id, checked.images)
    await refresh_price_from(product.id)
    await partner_events.record_product_written(product.id, before=before, now=datetime.now(UTC))
    return created


def _clean_variants(items: list[VariantData], path: Path) -> list[_CleanVariant]:
    seen_guids: set[str] = set()
    seen_skus: set[str] = set()
    clean = []
    for index, v in enumerate(items):
        vpath = (*path, "variants", index)
        guid = parse_guid(v.guid, path=(*vpath, "guid"))
        sku = v.sku.strip()
        if not sku or not v.size.strip() or not v.colour.strip():
            raise DomainError(ErrorCode.INVALID, "sku, size and colour are required", vpath)
        if guid in seen_guids or sku in seen_skus:
            raise DomainError(ErrorCode.DUPLICATE_IN_BATCH, "variant GUID or SKU repeated", vpath)
        seen_guids.add(guid)
        seen_skus.add(sku)
        price = parse_rub(v.price, path=(*vpath, "price"))
        old = parse_rub(v.old_price, path=(*vpath, "oldPrice")) if v.old_price else None
        clean.append(_CleanVariant(guid, sku, v.size.strip(), v.colour.strip(), price, old))
    return clean


async def _category(guid: str | None, path: Path) -> Category | None:
    if not guid:
        return None
    found = await Category.get_or_none(guid=parse_guid(guid, path=(*path, "categoryGuid")))
    if found is None:
        raise DomainError(
            ErrorCode.UNKNOWN_CATEGORY, f"no category {guid}", (*path, "categoryGuid")
        )
    return found


async def _collection(guid: str | None, path: Path) -> Collection | None:
    if not guid:
        return None
    found = await Collection.get_or_none(guid=parse_guid(guid, path=(*path, "collectionGuid")))
    if found is None:
        raise DomainError(
            ErrorCode.UNKNOWN_COLLECTION, f"no collection {guid}", (*path, "collectionGuid")
        )
    return found


async def _check_variants_belong_here(
    variants: list[_CleanVariant], product_guid: str, path: Path
) -> None:
    """A variant GUID or SKU already used by another product is a 1C data error, not a move."""
    if not variants:
        return
    clashes = (
        await Variant.filter(sku__in=[v.sku for v in variants])
        .exclude(product__guid=product_guid)
        .values_list("sku", "guid")
    )
    clashes += (
        await Variant.filter(guid__in=[v.guid for v in variants])
        .exclude(product__guid=product_guid)
        .values_list("sku", "guid")
    )
    for sku, guid in clashes:
        index = next(i for i, v in enumerate(variants) if v.sku == sku or v.guid == guid)
        raise DomainError(
            ErrorCode.INVALID,
            f"SKU {sku} / GUID {guid} belongs to another product",
            (*path, "variants", index),
        )


async def _write_variants(product_id: int, variants: list[_CleanVariant]) -> None:
    for position, v in enumerate(variants):
        await Variant.update_or_create(
            guid=v.guid,
            defaults={
                "product_id": product_id,
                "sku": v.sku,
                "size": v.size,
                "colour": v.colour,
                "price": v.price,
                "old_price": v.old_price,
                "position": position,
            },
        )


async def _replace_images(product_id: int, images: list[ImageData]) -> None:
    await ProductImage.filter(product_id=product_id).delete()
    await ProductImage.bulk_create(
        [
            ProductImage(product_id=product_id, url=i.url, alt=i.alt, position=n)
            for n, i in enumerate(images)
        ]
    )


async def refresh_price_from(product_id: int) -> None:
    """Keep the product's lowest variant price (used for sorting and 'from' labels) in step."""
    prices = await Variant.filter(product_id=product_id).values_list("price", flat=True)
    await Product.filter(id=product_id).update(price_from=min(prices) if prices else None)
