"""An event's `data`: the object as the public GraphQL schema shows it, nothing internal.

Each builder answers exactly what the selection beside it asks of the public schema (field
names, enum names, money as decimal strings, instants in ISO 8601): tests/contract runs each
selection through the real schema and compares. The order's `token` (the shopper's key to it)
is never sent.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from app.domain.availability import availability_by_warehouse, available
from app.domain.catalog import kopecks_to_rub
from app.domain.instashop import SlideKind
from app.models.catalog import Category, Collection, Product, ProductImage, Variant, Warehouse
from app.models.instashop import LookProduct, LookSlide
from app.models.orders import Order, OrderLine, Payment
from app.services.instashop.looks import LookView
from app.services.inventory.availability import stock_positions

Data = dict[str, Any]

MONEY = "{ amount currency }"
WAREHOUSE = "{ id name kind address }"
VARIANT = f"id sku size colour price {MONEY} oldPrice {MONEY}"
ORDER_SELECTION = f"""
  id number status total {MONEY} email phone paymentDeadline createdAt
  delivery {{ method address shop {WAREHOUSE} }}
  lines {{ variant {{ {VARIANT} }} productName sku quantity unitPrice {MONEY}
           unavailableQuantity }}
  payments {{ id provider status amount {MONEY} refunded {MONEY} paidAt }}
"""
COLLECTION_SELECTION = "id slug name description releaseAt isReleased"
PRODUCT_SELECTION = f"""
  id slug name description priceFrom {MONEY}
  category {{ id slug name }}
  collection {{ {COLLECTION_SELECTION} }}
  images {{ url alt }}
  variants {{ {VARIANT} }}
"""
LOOK_SELECTION = """
  id caption permalink postedAt
  slides { id kind image { card cardWebp full fullWebp width height } videoUrl }
  products { product { id slug name } colour slideId hotspot { x y } }
"""
STOCK_SELECTION = f"id sku size colour available availability {{ warehouse {WAREHOUSE} quantity }}"


def money(kopecks: int | None) -> Data | None:
    if kopecks is None:
        return None
    return {"amount": str(kopecks_to_rub(kopecks)), "currency": "RUB"}


def _instant(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def warehouse_data(row: Warehouse) -> Data:
    return {"id": row.guid, "name": row.name, "kind": row.kind.name, "address": row.address}


def variant_data(row: Variant) -> Data:
    return {
        "id": row.guid,
        "sku": row.sku,
        "size": row.size,
        "colour": row.colour,
        "price": money(row.price),
        "oldPrice": money(row.old_price),
    }


async def order_data(order: Order) -> Data:
    """The order as `order(token:)` shows ORDER_SELECTION of it."""
    lines = await OrderLine.filter(order_id=order.id).order_by("id").prefetch_related("variant")
    payments = await Payment.filter(order_id=order.id).order_by("id")
    shop = None
    if order.pickup_warehouse_id is not None:
        shop = await Warehouse.get_or_none(id=order.pickup_warehouse_id)
    return {
        "id": order.guid,
        "number": order.number,
        "status": order.status.name,
        "total": money(order.total),
        "email": order.email,
        "phone": order.phone,
        "paymentDeadline": _instant(order.payment_deadline),
        "createdAt": _instant(order.created_at),
        "delivery": {
            "method": order.delivery_kind.name,
            "address": order.delivery_address,
            "shop": warehouse_data(shop) if shop else None,
        },
        "lines": [_line_data(line) for line in lines],
        "payments": [_payment_data(p) for p in payments],
    }


def _line_data(line: OrderLine) -> Data:
    return {
        "variant": variant_data(line.variant),
        "productName": line.product_name,
        "sku": line.sku,
        "quantity": line.quantity,
        "unitPrice": money(line.unit_price),
        "unavailableQuantity": line.unavailable,
    }


def _payment_data(payment: Payment) -> Data:
    return {
        "id": payment.guid,
        "provider": payment.provider,
        "status": payment.status.name,
        "amount": money(payment.amount),
        "refunded": money(payment.refunded),
        "paidAt": _instant(payment.paid_at),
    }


def collection_data(row: Collection, now: datetime) -> Data:
    """The collection as COLLECTION_SELECTION shows it at `now`."""
    return {
        "id": row.guid,
        "slug": row.slug,
        "name": row.name,
        "description": row.description,
        "releaseAt": _instant(row.release_at),
        "isReleased": row.release_at <= now,
    }


async def product_data(product: Product, now: datetime) -> Data:
    """The product as `product(id:)` shows PRODUCT_SELECTION of it at `now`."""
    category = await Category.get_or_none(id=product.category_id) if product.category_id else None
    collection = None
    if product.collection_id is not None:
        collection = await Collection.get_or_none(id=product.collection_id)
    images = await ProductImage.filter(product_id=product.id).order_by("position", "id")
    variants = await Variant.filter(product_id=product.id).order_by("position", "id")
    return {
        "id": product.guid,
        "slug": product.slug,
        "name": product.name,
        "description": product.description,
        "priceFrom": money(product.price_from),
        "category": {"id": category.guid, "slug": category.slug, "name": category.name}
        if category
        else None,
        "collection": collection_data(collection, now) if collection else None,
        "images": [{"url": i.url, "alt": i.alt} for i in images],
        "variants": [variant_data(v) for v in variants],
    }


def look_data(view: LookView, url: Callable[[str], str]) -> Data:
    """The look as `look(id:)` shows LOOK_SELECTION of it (`url`: a stored file's public URL)."""
    look = view.look
    return {
        "id": look.media_id,
        "caption": look.caption,
        "permalink": look.permalink,
        "postedAt": _instant(look.posted_at),
        "slides": [_slide_data(s, url) for s in view.slides],
        "products": [_look_product_data(link) for link in view.links],
    }


def _slide_data(slide: LookSlide, url: Callable[[str], str]) -> Data:
    files = slide.files
    video = slide.kind is SlideKind.VIDEO and "video" in files
    return {
        "id": str(slide.id),
        "kind": slide.kind.name,
        "image": {
            "card": url(files["card_jpg"]),
            "cardWebp": url(files["card_webp"]),
            "full": url(files["full_jpg"]),
            "fullWebp": url(files["full_webp"]),
            "width": slide.width,
            "height": slide.height,
        },
        "videoUrl": url(files["video"]) if video else None,
    }


def _look_product_data(link: LookProduct) -> Data:
    spot = None if link.x is None or link.y is None else {"x": link.x, "y": link.y}
    product = link.product
    return {
        "product": {"id": product.guid, "slug": product.slug, "name": product.name},
        "colour": link.colour,
        "slideId": str(link.slide_id),
        "hotspot": spot,
    }


async def stock_data(variant_guid: str, now: datetime) -> Data | None:
    """The variant's availability now, as STOCK_SELECTION shows it (None: it is gone)."""
    variant = await Variant.get_or_none(guid=variant_guid)
    if variant is None:
        return None
    warehouses = await Warehouse.all().order_by("priority", "id")
    positions = (await stock_positions([variant.id], now=now, warehouses=warehouses))[variant.id]
    by_id = {w.id: w for w in warehouses}
    return {
        "id": variant.guid,
        "sku": variant.sku,
        "size": variant.size,
        "colour": variant.colour,
        "available": available(positions),
        "availability": [
            {"warehouse": warehouse_data(by_id[wid]), "quantity": qty}
            for wid, qty in availability_by_warehouse(positions).items()
        ],
    }
