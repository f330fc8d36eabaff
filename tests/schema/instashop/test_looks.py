"""Instashop on the storefront through the real ASGI app, the feed synced from the simulator:
looks in order, only released products, live sizes, files served by the app, buying a look."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
from redis.asyncio import Redis

from app.devtools.simulators.instagram import InstagramSimulator
from app.integrations.instagram.client import InstagramClient
from app.main import create_app
from app.models.checkout import CartLine
from app.models.instashop import Look, LookSlide
from app.schema.documents import MANIFEST
from app.services.catalog.products import VariantData
from app.services.checkout import carts
from app.services.instashop import admin
from app.services.instashop.account import InstashopConfig
from app.services.instashop.store import IMMUTABLE, FileStore
from app.services.instashop.sync import sync_feed
from app.settings import Settings
from tests import factories
from tests.conftest import Clock, graphql
from tests.contract.documents import document

DRESS, SCARF, COAT = (factories.guid(f"product/{n}") for n in ("Dress", "Scarf", "Coat"))


def size(product: str, sku: str, size: str, colour: str) -> VariantData:
    return VariantData(
        factories.guid(f"variant/{product}/{size}/{colour}"), sku, size, colour, "4990.00"
    )


def variant(product: str, size: str, colour: str) -> str:
    return factories.guid(f"variant/{product}/{size}/{colour}")


async def catalogue(clock: Clock) -> None:
    """A dress in two sizes and a scarf on sale now; a coat of a drop three days away."""
    await factories.warehouses()
    drop = await factories.collection("Shore", clock.now + timedelta(days=3))
    await factories.product(
        "Dress",
        variants=[
            size("Dress", "LL-0012-S-BLK", "S", "black"),
            size("Dress", "LL-0012-M-BLK", "M", "black"),
            size("Dress", "LL-0012-M-WHT", "M", "white"),
        ],
    )
    await factories.product("Scarf", variants=[size("Scarf", "LL-0007-OS-OLV", "OS", "olive")])
    await factories.product(
        "Coat", variants=[size("Coat", "LL-0300-M-GRF", "M", "graphite")], collection_guid=drop
    )
    await factories.stock(variant("Dress", "M", "black"), factories.ONLINE, 2)
    await factories.stock(variant("Scarf", "OS", "olive"), factories.ONLINE, 1)
    await factories.stock(variant("Coat", "M", "graphite"), factories.ONLINE, 5)


async def feed(
    sim: InstagramSimulator,
    instagram: InstagramClient,
    store: FileStore,
    config: InstashopConfig,
    clock: Clock,
) -> dict[str, str]:
    """Four posts synced: a dress carousel, a scarf, a coat teaser and one with no product."""
    posts = {
        "plain": sim.add_post("За кадром", posted_at=clock.now - timedelta(days=4)),
        "coat": sim.add_post("Скоро: LL-0300", posted_at=clock.now - timedelta(days=3)),
        "scarf": sim.add_post("Шарф LL-0007", posted_at=clock.now - timedelta(days=2)),
        "dress": sim.add_post(
            "Платье LL-0012",
            media_type="CAROUSEL_ALBUM",
            slides=["IMAGE", "VIDEO"],
            posted_at=clock.now - timedelta(days=1),
        ),
    }
    report = await sync_feed(client=instagram, store=store, config=config, now=clock.now)
    assert report.slides_failed == 0
    return {name: post.media_id for name, post in posts.items()}


async def link(media_id: str, product: str, colour: str | None = None, slide: int = 0) -> None:
    slides = await LookSlide.filter(look__media_id=media_id).order_by("position")
    linked = admin.LinkInput(slide_id=slides[slide].id, product_guid=product, colour=colour)
    await admin.link_product(link=linked)


async def looks(client: httpx.AsyncClient, **variables: Any) -> list[dict[str, Any]]:
    body = await graphql(client, document("Looks"), variables)
    assert "errors" not in body, body
    return [edge["node"] for edge in body["data"]["looks"]["edges"]]


async def shop(
    clock: Clock,
    ig_sim: InstagramSimulator,
    instagram: InstagramClient,
    media_store: FileStore,
    ig_config: InstashopConfig,
) -> dict[str, str]:
    await catalogue(clock)
    ids = await feed(ig_sim, instagram, media_store, ig_config, clock)
    await link(ids["dress"], DRESS, colour="black", slide=1)
    await link(ids["scarf"], SCARF)
    await link(ids["coat"], COAT)
    return ids


async def test_looks_come_newest_first_with_their_products_and_the_sizes_buyable_now(
    client: httpx.AsyncClient,
    clock: Clock,
    ig_sim: InstagramSimulator,
    instagram: InstagramClient,
    media_store: FileStore,
    ig_config: InstashopConfig,
) -> None:
    ids = await shop(clock, ig_sim, instagram, media_store, ig_config)

    shown = await looks(client)

    # the coat's drop is not released: its look stays hidden until releaseAt
    assert [n["id"] for n in shown] == [ids["dress"], ids["scarf"], ids["plain"]]
    dress = shown[0]
    assert dress["caption"] == "Платье LL-0012" and dress["soldOut"] is False
    assert [s["kind"] for s in dress["slides"]] == ["IMAGE", "VIDEO"]
    assert dress["slides"][1]["videoUrl"].startswith("/media/looks/")
    assert dress["slides"][0]["videoUrl"] is None
    (item,) = dress["products"]
    assert item["product"]["id"] == DRESS and item["colour"] == "black"
    assert item["slideId"] == dress["slides"][1]["id"]
    assert [(s["variant"]["size"], s["available"], s["soldOut"]) for s in item["sizes"]] == [
        ("S", 0, True),
        ("M", 2, False),
    ]
    assert shown[2]["products"] == []  # a post without products is shown on its own


async def test_a_look_of_an_unreleased_drop_appears_at_its_release(
    client: httpx.AsyncClient,
    clock: Clock,
    ig_sim: InstagramSimulator,
    instagram: InstagramClient,
    media_store: FileStore,
    ig_config: InstashopConfig,
) -> None:
    ids = await shop(clock, ig_sim, instagram, media_store, ig_config)
    await link(ids["dress"], COAT)  # a released dress and an unreleased coat in one look
    before = await looks(client)

    clock.advance(days=3)
    after = await looks(client)

    assert ids["coat"] not in [n["id"] for n in before]
    dress_before = next(n for n in before if n["id"] == ids["dress"])
    assert [p["product"]["id"] for p in dress_before["products"]] == [DRESS]
    assert [n["id"] for n in after][:2] == [ids["dress"], ids["scarf"]]
    assert ids["coat"] in [n["id"] for n in after]
    dress_after = next(n for n in after if n["id"] == ids["dress"])
    assert [p["product"]["id"] for p in dress_after["products"]] == [COAT, DRESS]


async def test_a_look_whose_items_all_sell_out_sinks_to_the_end_at_once(
    client: httpx.AsyncClient,
    clock: Clock,
    ig_sim: InstagramSimulator,
    instagram: InstagramClient,
    media_store: FileStore,
    ig_config: InstashopConfig,
) -> None:
    ids = await shop(clock, ig_sim, instagram, media_store, ig_config)

    await factories.stock(variant("Dress", "M", "black"), factories.ONLINE, 0, clock.now)
    shown = await looks(client)

    assert [n["id"] for n in shown] == [ids["scarf"], ids["plain"], ids["dress"]]
    assert shown[-1]["soldOut"] is True
    assert [s["soldOut"] for s in shown[-1]["products"][0]["sizes"]] == [True, True]


async def test_pinned_looks_lead_in_staff_order(
    client: httpx.AsyncClient,
    clock: Clock,
    ig_sim: InstagramSimulator,
    instagram: InstagramClient,
    media_store: FileStore,
    ig_config: InstashopConfig,
) -> None:
    ids = await shop(clock, ig_sim, instagram, media_store, ig_config)
    await admin.order_pinned(look_ids=[ids["plain"], ids["scarf"]])

    first = await graphql(client, document("Looks"), {"first": 2})
    page = first["data"]["looks"]
    rest = await looks(client, after=page["pageInfo"]["endCursor"])

    assert [e["node"]["id"] for e in page["edges"]] == [ids["plain"], ids["scarf"]]
    assert page["pageInfo"]["hasNextPage"] is True
    assert [n["pinned"] for n in (e["node"] for e in page["edges"])] == [True, True]
    assert [n["id"] for n in rest] == [ids["dress"]]


async def test_looks_of_a_product_or_a_collection_and_product_looks(
    client: httpx.AsyncClient,
    clock: Clock,
    ig_sim: InstagramSimulator,
    instagram: InstagramClient,
    media_store: FileStore,
    ig_config: InstashopConfig,
) -> None:
    ids = await shop(clock, ig_sim, instagram, media_store, ig_config)
    await link(ids["plain"], SCARF)

    by_product = await looks(client, productSlug="scarf")
    of_drop = await looks(client, collection="shore")
    page = await graphql(
        client, 'query P { product(slug: "scarf") { looks { id products { colour } } } }'
    )

    assert [n["id"] for n in by_product] == [ids["scarf"], ids["plain"]]
    assert of_drop == []  # the coat is not released: nothing of that drop is shown
    assert [n["id"] for n in page["data"]["product"]["looks"]] == [ids["scarf"], ids["plain"]]


async def test_a_hidden_look_is_gone_and_a_shown_one_is_found_by_id(
    client: httpx.AsyncClient,
    clock: Clock,
    ig_sim: InstagramSimulator,
    instagram: InstagramClient,
    media_store: FileStore,
    ig_config: InstashopConfig,
) -> None:
    ids = await shop(clock, ig_sim, instagram, media_store, ig_config)
    await admin.set_hidden(look_id=ids["scarf"], hidden=True)

    hidden = await graphql(client, document("Look"), {"id": ids["scarf"]})
    shown = await graphql(client, document("Look"), {"id": ids["dress"]})

    assert hidden == {"data": {"look": None}}
    assert shown["data"]["look"]["id"] == ids["dress"]


async def test_the_app_serves_the_files_after_instagrams_links_expired(
    client: httpx.AsyncClient,
    clock: Clock,
    ig_sim: InstagramSimulator,
    instagram: InstagramClient,
    media_store: FileStore,
    ig_config: InstashopConfig,
) -> None:
    await shop(clock, ig_sim, instagram, media_store, ig_config)
    clock.advance(hours=2)  # the simulator's links last an hour
    slides = (await looks(client))[0]["slides"]

    urls = [slides[0]["image"][k] for k in ("card", "cardWebp", "full", "fullWebp")]
    answers = [await client.get(url) for url in [*urls, slides[1]["videoUrl"]]]

    assert [a.status_code for a in answers] == [200] * 5
    assert [a.headers["content-type"] for a in answers] == [
        "image/jpeg",
        "image/webp",
        "image/jpeg",
        "image/webp",
        "video/mp4",
    ]
    assert {a.headers["cache-control"] for a in answers} == {IMMUTABLE}
    assert (await client.get("/media/../vitrina.sqlite3")).status_code == 404
    assert (await client.get("/media/looks/none.jpg")).status_code == 404


ADD = document("AddLookToCart")


async def test_add_look_to_cart_adds_every_item_in_one_call(
    client: httpx.AsyncClient,
    clock: Clock,
    ig_sim: InstagramSimulator,
    instagram: InstagramClient,
    media_store: FileStore,
    ig_config: InstashopConfig,
) -> None:
    ids = await shop(clock, ig_sim, instagram, media_store, ig_config)
    await link(ids["dress"], SCARF)
    cart = await carts.create_cart()
    items = [
        {"productId": DRESS, "variantId": variant("Dress", "M", "black")},
        {"productId": SCARF, "variantId": variant("Scarf", "OS", "olive")},
    ]

    body = await graphql(
        client, ADD, {"cartToken": cart.token, "lookId": ids["dress"], "items": items}
    )

    answer = body["data"]["addLookToCart"]
    assert answer["errors"] == []
    lines = await CartLine.filter(cart_id=cart.id).order_by("id").prefetch_related("variant")
    assert [(line.variant.guid, line.quantity) for line in lines] == [
        (variant("Dress", "M", "black"), 1),
        (variant("Scarf", "OS", "olive"), 1),
    ]


async def test_add_look_to_cart_adds_nothing_when_an_item_cannot_be_added(
    client: httpx.AsyncClient,
    clock: Clock,
    ig_sim: InstagramSimulator,
    instagram: InstagramClient,
    media_store: FileStore,
    ig_config: InstashopConfig,
) -> None:
    ids = await shop(clock, ig_sim, instagram, media_store, ig_config)
    await link(ids["dress"], SCARF)
    cart = await carts.create_cart()
    items = [
        {"productId": DRESS, "variantId": variant("Dress", "M", "black")},  # fine
        {"productId": DRESS, "variantId": variant("Dress", "S", "black")},  # sold out
        {"productId": COAT, "variantId": variant("Coat", "M", "graphite")},  # not in the look
        {"productId": SCARF, "variantId": variant("Dress", "M", "white")},  # another's size
    ]

    body = await graphql(
        client, ADD, {"cartToken": cart.token, "lookId": ids["dress"], "items": items}
    )

    answer = body["data"]["addLookToCart"]
    assert answer["cart"] is None
    assert [(e["code"], e["path"], e["available"]) for e in answer["errors"]] == [
        ("INSUFFICIENT_STOCK", ["items", "1", "variantId"], 0),
        ("NOT_FOUND", ["items", "2", "productId"], None),
        ("NOT_FOUND", ["items", "3", "variantId"], None),
    ]
    assert await CartLine.filter(cart_id=cart.id).count() == 0  # the fine item was not kept


async def test_add_look_to_cart_refuses_a_look_that_is_not_shown(
    client: httpx.AsyncClient,
    clock: Clock,
    ig_sim: InstagramSimulator,
    instagram: InstagramClient,
    media_store: FileStore,
    ig_config: InstashopConfig,
) -> None:
    ids = await shop(clock, ig_sim, instagram, media_store, ig_config)
    cart = await carts.create_cart()
    items = [{"productId": COAT, "variantId": variant("Coat", "M", "graphite")}]

    body = await graphql(
        client, ADD, {"cartToken": cart.token, "lookId": ids["coat"], "items": items}
    )

    assert body["data"]["addLookToCart"]["errors"] == [
        {"code": "NOT_FOUND", "path": ["lookId"], "message": "no such look", "available": None}
    ]
    assert await CartLine.filter(cart_id=cart.id).count() == 0
    assert await Look.filter(media_id=ids["coat"]).exists()


async def test_an_anonymous_get_of_the_looks_document_is_cached_like_the_catalog(
    client: httpx.AsyncClient,
    clock: Clock,
    ig_sim: InstagramSimulator,
    instagram: InstagramClient,
    media_store: FileStore,
    ig_config: InstashopConfig,
) -> None:
    await shop(clock, ig_sim, instagram, media_store, ig_config)
    ids = {entry["name"]: key for key, entry in json.loads(MANIFEST.read_text()).items()}

    answer = await client.get("/graphql", params={"documentId": ids["Looks"]})

    assert answer.status_code == 200, answer.text
    assert len(answer.json()["data"]["looks"]["edges"]) == 3
    assert answer.headers["cache-control"] == "public, max-age=5, stale-while-revalidate=30"
    # the page of 12 looks with their products and sizes stays well within MAX_QUERY_COST
    assert answer.json()["extensions"]["cost"]["requested"] <= 10000


async def test_add_look_to_cart_spends_the_devices_cart_change_budget(
    settings: Settings,
    redis_url: str,
    clock: Clock,
    ig_sim: InstagramSimulator,
    instagram: InstagramClient,
    media_store: FileStore,
    ig_config: InstashopConfig,
) -> None:
    ids = await shop(clock, ig_sim, instagram, media_store, ig_config)
    cart = await carts.create_cart()
    items = [{"productId": DRESS, "variantId": variant("Dress", "M", "black")}]
    async with Redis.from_url(redis_url) as redis:
        await redis.flushdb()  # no other test's buckets
    throttled = settings.model_copy(
        update={"checkout_throttles": True, "throttle_change_cart_per_device": 1}
    )
    app = create_app(throttled, redis_url=redis_url, manage_db=False, clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        headers = {"X-Device-Id": "7f1d3c52-6a51-4c1e-9a0b-3d2f8e4c5b6a"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://t", headers=headers
        ) as c:
            variables = {"cartToken": cart.token, "lookId": ids["dress"], "items": items}
            first = (await graphql(c, ADD, variables))["data"]["addLookToCart"]
            second = (await graphql(c, ADD, variables))["data"]["addLookToCart"]

    assert first["errors"] == []
    assert [e["code"] for e in second["errors"]] == ["TOO_MANY_ATTEMPTS"]
    assert await CartLine.filter(cart_id=cart.id).count() == 1  # the second call wrote nothing
