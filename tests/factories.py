"""Build catalog state through the same services 1C uses (no hand-written rows)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from app.domain.access import Scope
from app.services.catalog import intake as catalog
from app.services.catalog.products import ProductData, VariantData
from app.services.checkout.orders import PlacedOrder
from app.services.inventory.stock_snapshots import RawStockSnapshot, apply_stock_snapshots
from app.services.tokens import create_token


def guid(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"vitrina-test/{name}"))


ONLINE = guid("warehouse/online")
SHOP_A = guid("warehouse/shop-a")
SHOP_B = guid("warehouse/shop-b")
CLOSED = guid("warehouse/closed")  # a warehouse whose stock is not sold online
T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def iso(moment: datetime) -> str:
    return moment.isoformat()


async def warehouses() -> None:
    report = await catalog.upsert_warehouses(
        items=[
            catalog.WarehouseData(ONLINE, "Online", "online", priority=10),
            catalog.WarehouseData(
                SHOP_A, "Shop A", "shop", "Тверская, 1", priority=20, slack_channel="#shop-a"
            ),
            catalog.WarehouseData(SHOP_B, "Shop B", "shop", "Невский, 2", priority=30),
            catalog.WarehouseData(CLOSED, "Returns", "online", sellable_online=False, priority=99),
        ]
    )
    assert not report.problems, report.problems


async def upsert_shop_b_channel(channel: str | None = "#shop-b", priority: int = 30) -> None:
    """Give shop B a Slack channel (or take it away) and a priority."""
    report = await catalog.upsert_warehouses(
        items=[
            catalog.WarehouseData(
                SHOP_B, "Shop B", "shop", "Невский, 2", priority=priority, slack_channel=channel
            )
        ]
    )
    assert not report.problems, report.problems


async def collection(name: str, release_at: datetime) -> str:
    g = guid(f"collection/{name}")
    report = await catalog.upsert_collections(
        items=[catalog.CollectionData(g, name, iso(release_at))]
    )
    assert not report.problems, report.problems
    return g


async def category(name: str, parent: str | None = None) -> str:
    g = guid(f"category/{name}")
    report = await catalog.upsert_categories(items=[catalog.CategoryData(g, name, parent)])
    assert not report.problems, report.problems
    return g


def variant(
    product: str, size: str, colour: str, price: str = "4990.00", old_price: str | None = None
) -> VariantData:
    return VariantData(
        guid(f"variant/{product}/{size}/{colour}"),
        f"{product}-{size}-{colour}",
        size,
        colour,
        price,
        old_price,
    )


async def product(
    name: str,
    *,
    variants: list[VariantData] | None = None,
    collection_guid: str | None = None,
    category_guid: str | None = None,
    published: bool = True,
) -> str:
    g = guid(f"product/{name}")
    data = ProductData(
        g,
        name,
        variants if variants is not None else [variant(name, "M", "black")],
        collection_guid=collection_guid,
        category_guid=category_guid,
        published=published,
    )
    report = await catalog.upsert_products(items=[data])
    assert not report.problems, report.problems
    return g


async def stock(
    variant_guid: str, warehouse_guid: str, quantity: int, as_of: datetime = T0
) -> None:
    report = await apply_stock_snapshots(
        rows=[RawStockSnapshot(variant_guid, warehouse_guid, quantity, iso(as_of))], max_rows=10
    )
    assert not report.problems, report.problems


async def token(*scopes: Scope) -> str:
    return await create_token(name="test", scopes=list(scopes))


def later(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


async def cart_with(
    lines: list[tuple[str, int]],
    *,
    now: datetime,
    pickup: str | None = None,
    email: str = "buyer@example.com",
) -> str:
    """A cart ready to order: lines (variant GUID, quantity), contact and delivery set."""
    from app.domain.orders import DeliveryKind
    from app.services.checkout import carts

    cart = await carts.create_cart()
    for variant_guid, quantity in lines:
        await carts.set_line(
            cart_token=cart.token, variant_guid=variant_guid, quantity=quantity, now=now
        )
    await carts.set_contact(
        cart_token=cart.token, email=email, phone=None, first_name="Анна", last_name=""
    )
    kind = DeliveryKind.PICKUP if pickup else DeliveryKind.COURIER
    await carts.set_delivery(
        cart_token=cart.token, kind=kind, address="Москва, Тверская, 7", shop_guid=pickup, now=now
    )
    return cart.token


async def place(cart_token: str, *, now: datetime, key: str | None = None) -> PlacedOrder:
    from app.services.checkout.orders import place_order
    from app.services.jobs import NoQueue

    return await place_order(
        cart_token=cart_token,
        idempotency_key=key or f"key-{cart_token}",
        now=now,
        payment_timeout=timedelta(minutes=15),
        jobs=NoQueue(),
    )


async def positions(variant_guid: str) -> dict[str, tuple[int, int]]:
    """(on_hand, buffer) per warehouse GUID for one variant."""
    from app.models.stock import StockLevel

    levels = await StockLevel.filter(variant__guid=variant_guid).prefetch_related("warehouse")
    return {lvl.warehouse.guid: (lvl.on_hand, lvl.buffer) for lvl in levels}


async def partner(name: str = "Marketplace", contact: str = "dev@partner.example") -> int:
    """A partner app, through the partners' service."""
    from app.services.partners.apps import create_partner

    return (await create_partner(name=name, contact_email=contact, now=datetime.now(UTC))).id


async def subscription(
    partner_id: int, url: str, *events: str, collection_guid: str | None = None
) -> tuple[int, str]:
    """A webhook subscription (events by name, e.g. "order.placed"): its id and secret. URLs
    may point at 127.0.0.1, as in dev."""
    from app.domain.outbox import EventKind
    from app.services.partners.subscriptions import UrlRules, create_subscription
    from app.settings import Settings

    created = await create_subscription(
        partner_id=partner_id,
        url=url,
        events=[EventKind(e) for e in events],
        collection_guid=collection_guid,
        scopes=frozenset({Scope.ADMIN}),
        rules=UrlRules(require_https=False, allow_loopback=True),
        key=Settings(environment="test").resolved_partner_secret_key,
        now=datetime.now(UTC),
    )
    return created.subscription.id, created.secret
