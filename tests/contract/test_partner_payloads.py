"""A partner event's `data` is exactly what the public schema answers for the same selection."""

from __future__ import annotations

from datetime import timedelta

import httpx

from app.domain.instashop import SlideKind
from app.integrations.payments.dummy import SUCCEEDS, DummyProvider
from app.models.catalog import Collection, Product
from app.models.instashop import Look, LookProduct, LookSlide
from app.models.orders import Order
from app.services.catalog import intake
from app.services.catalog.products import ImageData, ProductData
from app.services.instashop.looks import get_look
from app.services.instashop.store import public_url
from app.services.jobs import NoQueue
from app.services.partners.payloads import (
    COLLECTION_SELECTION,
    LOOK_SELECTION,
    ORDER_SELECTION,
    PRODUCT_SELECTION,
    STOCK_SELECTION,
    collection_data,
    look_data,
    order_data,
    product_data,
    stock_data,
)
from app.services.payments.start import pay_order
from app.settings import Settings
from tests import factories
from tests.conftest import Clock, graphql

DRESS = factories.guid("variant/Dress/M/black")


async def _catalogue(clock: Clock) -> None:
    await factories.warehouses()
    category = await factories.category("Dresses")
    drop = await factories.collection("Winter", clock.now - timedelta(days=1))
    report = await intake.upsert_products(
        items=[
            ProductData(
                factories.guid("product/Dress"),
                "Платье миди",
                [factories.variant("Dress", "M", "black", "4990.00", "5990.00")],
                category_guid=category,
                collection_guid=drop,
                images=[ImageData("https://cdn.example/dress.jpg", "front")],
            )
        ]
    )
    assert not report.problems
    await factories.stock(DRESS, factories.ONLINE, 7)
    await factories.stock(DRESS, factories.SHOP_A, 2)


async def test_an_orders_data_is_what_the_order_query_shows(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    await _catalogue(clock)
    cart = await factories.cart_with([(DRESS, 2)], now=clock.now, pickup=factories.SHOP_A)
    placed = await factories.place(cart, now=clock.now)
    await pay_order(
        order_token=placed.order.token,
        idempotency_key="pay-attempt-1",
        provider=DummyProvider(),
        card_number=SUCCEEDS,
        return_url="https://shop.example/",
        now=clock.now,
        jobs=NoQueue(),
    )
    query = f"query O($token: String!) {{ order(token: $token) {{ {ORDER_SELECTION} }} }}"

    shown = await graphql(client, query, {"token": placed.order.token})

    order = await Order.get(id=placed.order.id)
    data = await order_data(order)
    assert data == shown["data"]["order"]
    assert data["delivery"]["shop"]["id"] == factories.SHOP_A and data["payments"]


async def test_a_products_data_is_what_the_product_query_shows(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    await _catalogue(clock)
    query = f"query P($id: ID!) {{ product(id: $id) {{ {PRODUCT_SELECTION} }} }}"

    shown = await graphql(client, query, {"id": factories.guid("product/Dress")})

    product = await Product.get(guid=factories.guid("product/Dress"))
    data = await product_data(product, clock.now)
    assert data == shown["data"]["product"]
    assert data["category"] is not None and data["collection"]["isReleased"] is True


async def test_a_collections_and_a_variants_stock_data_are_what_the_catalog_shows(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    await _catalogue(clock)
    query = f"""query C($id: ID!) {{ collections {{ {COLLECTION_SELECTION} }}
      product(id: $id) {{ variants {{ {STOCK_SELECTION} }} }} }}"""

    shown = await graphql(client, query, {"id": factories.guid("product/Dress")})

    winter = await Collection.get(guid=factories.guid("collection/Winter"))
    assert [collection_data(winter, clock.now)] == shown["data"]["collections"]
    stock = await stock_data(DRESS, clock.now)
    assert stock == shown["data"]["product"]["variants"][0]
    assert stock is not None and stock["available"] == 9


async def _look(clock: Clock) -> None:
    look = await Look.create(
        media_id="17900000000000001",
        media_type="CAROUSEL_ALBUM",
        caption="Платье на осень",
        permalink="https://www.instagram.com/p/Cabc/",
        posted_at=clock.now - timedelta(days=2),
        seen_at=clock.now,
    )
    files = {r: f"looks/{r}/{r}.bin" for r in ("card_jpg", "card_webp", "full_jpg", "full_webp")}
    image = await LookSlide.create(
        look=look, media_id="1", position=0, kind=SlideKind.IMAGE, files=files, ready=True
    )
    await LookSlide.create(
        look=look,
        media_id="2",
        position=1,
        kind=SlideKind.VIDEO,
        files={**files, "video": "looks/v/video.mp4"},
        width=1080,
        height=1350,
        ready=True,
    )
    dress = await Product.get(guid=factories.guid("product/Dress"))
    await LookProduct.create(slide=image, product=dress, colour="black", x=0.25, y=0.5)


async def test_a_looks_data_is_what_the_look_query_shows(
    client: httpx.AsyncClient, clock: Clock, settings: Settings
) -> None:
    await _catalogue(clock)
    await _look(clock)
    query = f"query L($id: ID!) {{ look(id: $id) {{ {LOOK_SELECTION} }} }}"

    shown = await graphql(client, query, {"id": "17900000000000001"})

    view = await get_look(media_id="17900000000000001", now=clock.now)
    assert view is not None
    data = look_data(view, lambda key: public_url(settings, key))
    assert data == shown["data"]["look"]
    assert data["slides"][1]["videoUrl"] == "/media/looks/v/video.mp4"
    assert data["products"][0]["hotspot"] == {"x": 0.25, "y": 0.5}
