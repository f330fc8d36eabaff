"""The shared response cache through the real app: hits by GET and POST, who may share an entry,
single-flight, every invalidation tag, a new product in a list, the release instant, the stock
overlay (a changed figure is written into the cached answer, nothing flushed), the fallback
when the stock feed is not healthy, and two apps with caches of their own sharing redis."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from starlette.applications import Starlette

from app.domain.access import Scope
from app.domain.response_cache import product_written
from app.main import VitrinaGraphQL, create_app
from app.models.catalog import Variant
from app.schema.documents import MANIFEST
from app.services.response_cache.cache import ResponseCache
from app.services.response_cache.invalidation import catalog_changed
from app.services.response_cache.overlay import StockWatch
from app.services.response_cache.tags import PREFIX
from app.services.stock_stream import VariantStock
from app.settings import Settings
from tests import factories
from tests.conftest import Clock, QueryCounter

IDS = {entry["name"]: key for key, entry in json.loads(MANIFEST.read_text()).items()}
PRICES = "mutation P($prices: [PriceInput!]!) { updatePrices(prices: $prices) { updated } }"


# --- a stock feed under the test's control ------------------------------------------------------


@dataclass
class FakeFeed:
    """The StockFeed interface: figures the test publishes, health the test sets."""

    healthy: bool = True
    generation: int = 1
    figures: dict[int, VariantStock] = field(default_factory=dict)
    listeners: list[Callable[[VariantStock], None]] = field(default_factory=list)
    tracked: set[int] = field(default_factory=set)  # what the overlay asked to vouch for

    def latest(self, variant_id: int, now: datetime) -> VariantStock | None:
        figure = self.figures.get(variant_id)
        return figure if figure is not None and figure.is_valid_at(now) else None

    def on_change(self, callback: Callable[[VariantStock], None]) -> Callable[[], None]:
        self.listeners.append(callback)
        return lambda: self.listeners.remove(callback)

    def track(self, variant_ids: Iterable[int]) -> None:
        self.tracked.update(variant_ids)

    def publish(self, variant_id: int, by_warehouse: dict[int, int], version: int) -> None:
        figure = VariantStock(variant_id, sum(by_warehouse.values()), by_warehouse, version, None)
        self.figures[variant_id] = figure
        for listener in self.listeners:
            listener(figure)

    def lose(self) -> None:
        self.healthy, self.generation = False, self.generation + 1


# --- apps ---------------------------------------------------------------------------------------


@dataclass
class Shop:
    client: httpx.AsyncClient
    cache: ResponseCache
    view: VitrinaGraphQL

    async def get(self, name: str, **variables: Any) -> httpx.Response:
        params = {"documentId": IDS[name], "variables": json.dumps(variables)}
        answer = await self.client.get("/graphql", params=params)
        assert answer.status_code == 200, answer.text
        assert "errors" not in answer.json(), answer.text
        return answer

    async def post(self, name: str, **variables: Any) -> httpx.Response:
        body = {"documentId": IDS[name], "variables": variables}
        answer = await self.client.post("/graphql", json=body)
        assert answer.status_code == 200, answer.text
        return answer

    def use_feed(self, feed: FakeFeed) -> None:
        self.cache.watch = StockWatch(feed)
        self.view.stock_feed = feed  # type: ignore[assignment]


Opened = Callable[[], AbstractAsyncContextManager[Shop]]


def _view(app: Starlette) -> VitrinaGraphQL:
    for route in app.routes:
        found = getattr(route, "app", None)
        if isinstance(found, VitrinaGraphQL):
            return found
    raise AssertionError("no /graphql route")


async def until(check: Callable[[], bool], seconds: float = 2.0) -> None:
    for _ in range(int(seconds / 0.01)):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("not within the time")


@pytest.fixture
async def fresh_redis(redis_url: str) -> AsyncIterator[None]:
    """No entry or tag version from an earlier test (their databases were emptied behind the
    cache's back)."""
    redis = Redis.from_url(redis_url)
    keys = [k async for k in redis.scan_iter(match=PREFIX + "*")]
    if keys:
        await redis.delete(*keys)
    await redis.aclose()
    yield


@pytest.fixture
def open_shop(
    db: str, tmp_path: Path, database_url: str, redis_url: str, clock: Clock, fresh_redis: None
) -> Opened:
    @asynccontextmanager
    async def opened() -> AsyncIterator[Shop]:
        settings = Settings(
            environment="test", data_dir=tmp_path, database_url=database_url, response_cache=True
        )
        app = create_app(settings, redis_url=redis_url, manage_db=False, clock=clock)
        async with app.router.lifespan_context(app):
            view = _view(app)
            feed = view.stock_feed
            await until(lambda: view.cache.book.healthy and (feed is None or feed.healthy), 10)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://vitrina.test") as c:
                yield Shop(c, view.cache, view)

    return opened


@pytest.fixture
async def shop(open_shop: Opened) -> AsyncIterator[Shop]:
    async with open_shop() as opened:
        yield opened


async def _catalog(clock: Clock) -> None:
    """Two dresses in a released collection, with stock online and in shop A."""
    await factories.warehouses()
    dresses = await factories.category("Dresses")
    autumn = await factories.collection("Autumn", clock.now - timedelta(days=30))
    for name, price in (("Linen dress", "7990.00"), ("Silk dress", "15990.00")):
        await factories.product(
            name,
            category_guid=dresses,
            collection_guid=autumn,
            variants=[factories.variant(name, "M", "black", price)],
        )
    await factories.stock(factories.guid("variant/Linen dress/M/black"), factories.ONLINE, 3)
    await factories.stock(factories.guid("variant/Linen dress/M/black"), factories.SHOP_A, 2)


def _names(answer: httpx.Response) -> list[str]:
    return [e["node"]["name"] for e in answer.json()["data"]["products"]["edges"]]


def _page(answer: httpx.Response) -> dict[str, Any]:
    product: dict[str, Any] = answer.json()["data"]["product"]
    return product


# --- hits ---------------------------------------------------------------------------------------


async def test_a_second_get_is_the_stored_bytes_without_a_query(
    shop: Shop, clock: Clock, sql_counter: QueryCounter
) -> None:
    await _catalog(clock)
    first = await shop.get("CatalogProducts", first=24)
    assert first.headers["x-cache"] == "miss"
    sql_counter.statements.clear()
    second = await shop.get("CatalogProducts", first=24)
    assert second.headers["x-cache"] == "hit"
    assert second.content == first.content
    assert second.headers["etag"] == first.headers["etag"]
    assert second.headers["cache-control"] == "public, max-age=5, stale-while-revalidate=30"
    assert sql_counter.statements == []
    assert _names(second) == ["Silk dress", "Linen dress"]


async def test_the_same_variables_in_another_order_are_the_same_entry(
    shop: Shop, clock: Clock
) -> None:
    await _catalog(clock)
    await shop.get("CatalogProducts", first=24, sort="NEWEST")
    params = {"documentId": IDS["CatalogProducts"], "variables": '{ "sort":"NEWEST","first":24}'}
    answer = await shop.client.get("/graphql", params=params)
    assert answer.headers["x-cache"] == "hit"


async def test_a_post_by_document_id_hits_the_same_entry_and_stays_private(
    shop: Shop, clock: Clock
) -> None:
    await _catalog(clock)
    got = await shop.get("ProductPage", slug="linen-dress")
    posted = await shop.post("ProductPage", slug="linen-dress")
    assert posted.headers["x-cache"] == "hit"
    assert posted.content == got.content
    assert posted.headers["cache-control"] == "private, no-store"
    assert "etag" not in posted.headers


async def test_if_none_match_on_a_hit_answers_304(shop: Shop, clock: Clock) -> None:
    await _catalog(clock)
    etag = (await shop.get("Categories")).headers["etag"]
    params = {"documentId": IDS["Categories"], "variables": "{}"}
    answer = await shop.client.get("/graphql", params=params, headers={"If-None-Match": etag})
    assert answer.status_code == 304
    assert answer.headers["etag"] == etag


# --- who shares ---------------------------------------------------------------------------------


async def test_a_request_with_a_token_never_reads_nor_fills_an_entry(
    shop: Shop, clock: Clock
) -> None:
    await _catalog(clock)
    token = await factories.token(Scope.CATALOG_WRITE)
    headers = {"Authorization": f"Bearer {token}"}
    params = {"documentId": IDS["Categories"], "variables": "{}"}
    signed = await shop.client.get("/graphql", params=params, headers=headers)
    assert signed.status_code == 200 and "x-cache" not in signed.headers
    assert len(shop.cache.lru) == 0  # it filled nothing
    await shop.get("Categories")  # an anonymous one fills it
    again = await shop.client.get("/graphql", params=params, headers=headers)
    assert "x-cache" not in again.headers  # and the signed-in one still does not read it
    customer = await shop.client.get(
        "/graphql", params=params, headers={"Authorization": "Bearer vca_not-a-session"}
    )
    assert "x-cache" not in customer.headers


async def test_a_cart_bearing_request_is_never_shared(shop: Shop, clock: Clock) -> None:
    await _catalog(clock)
    created = await shop.client.post(
        "/graphql", json={"documentId": IDS["CreateCart"], "variables": {}}
    )
    token = created.json()["data"]["createCart"]["cart"]["token"]
    params = {"documentId": IDS["CartView"], "variables": json.dumps({"token": token})}
    for _ in range(2):
        answer = await shop.client.get("/graphql", params=params)
        assert answer.status_code == 200 and "x-cache" not in answer.headers
    assert len(shop.cache.lru) == 0


async def test_a_free_form_query_is_never_shared(shop: Shop, clock: Clock) -> None:
    await _catalog(clock)
    for _ in range(2):
        answer = await shop.client.post("/graphql", json={"query": "query Q { categories { id } }"})
        assert answer.status_code == 200 and "x-cache" not in answer.headers
    assert len(shop.cache.lru) == 0


# --- single-flight ------------------------------------------------------------------------------


def _page_reads(counter: QueryCounter) -> int:
    """Statements but the stock stream's own (its publisher reads figures in the background)."""
    return len([s for s in counter.statements if "AS sellable" not in s])


async def test_a_stampede_of_identical_misses_runs_once(
    shop: Shop, clock: Clock, sql_counter: QueryCounter
) -> None:
    await _catalog(clock)
    await shop.get("Categories")  # what a process reads once (the drop instants)
    sql_counter.statements.clear()
    stampede = (shop.get("ProductPage", slug="linen-dress") for _ in range(20))
    answers = await asyncio.gather(*stampede)
    assert len({a.content for a in answers}) == 1
    assert sorted(a.headers["x-cache"] for a in answers) == ["joined"] * 19 + ["miss"]
    stampede_statements = _page_reads(sql_counter)
    await catalog_changed(product_written(factories.guid("product/Linen dress"), []))
    sql_counter.statements.clear()
    alone = await shop.get("ProductPage", slug="linen-dress")
    assert alone.headers["x-cache"] == "miss"
    assert stampede_statements == _page_reads(sql_counter)  # one execution's worth
    assert shop.cache.counts.misses == 3  # Categories, then linen twice


# --- invalidation -------------------------------------------------------------------------------


async def test_a_price_from_1c_changes_the_page_and_the_list(shop: Shop, clock: Clock) -> None:
    await _catalog(clock)
    await shop.get("ProductPage", slug="linen-dress")
    await shop.get("CatalogProducts", first=24)
    token = await factories.token(Scope.CATALOG_WRITE)
    variant = factories.guid("variant/Linen dress/M/black")
    answer = await shop.client.post(
        "/graphql",
        json={
            "query": PRICES,
            "variables": {"prices": [{"variantGuid": variant, "price": "5990"}]},
        },
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.json()["data"]["updatePrices"]["updated"] == 1
    page = await shop.get("ProductPage", slug="linen-dress")
    assert page.headers["x-cache"] == "miss"
    assert _page(page)["variants"][0]["price"]["amount"] == "5990.00"
    listed = await shop.get("CatalogProducts", first=24)
    prices = [e["node"]["priceFrom"]["amount"] for e in listed.json()["data"]["products"]["edges"]]
    assert listed.headers["x-cache"] == "miss" and prices == ["15990.00", "5990.00"]


async def test_an_edited_product_changes_its_page_and_leaves_the_others(
    shop: Shop, clock: Clock
) -> None:
    await _catalog(clock)
    await shop.get("ProductPage", slug="linen-dress")
    await shop.get("ProductPage", slug="silk-dress")
    await factories.product(
        "Linen dress",
        variants=[factories.variant("Linen dress", "M", "black", "7990.00")],
        category_guid=factories.guid("category/Dresses"),
        collection_guid=factories.guid("collection/Autumn"),
        published=False,
    )
    gone = await shop.get("ProductPage", slug="linen-dress")
    assert gone.headers["x-cache"] == "miss" and gone.json()["data"]["product"] is None
    assert (await shop.get("ProductPage", slug="silk-dress")).headers["x-cache"] == "hit"


async def test_a_new_product_in_a_collection_appears_in_its_list(shop: Shop, clock: Clock) -> None:
    await _catalog(clock)
    filtered = {"collection": "autumn"}
    assert _names(await shop.get("CatalogProducts", filter=filtered)) == [
        "Silk dress",
        "Linen dress",
    ]
    missing = await shop.get("ProductPage", slug="wool-coat")
    assert missing.json()["data"]["product"] is None
    await factories.product("Wool coat", collection_guid=factories.guid("collection/Autumn"))
    listed = await shop.get("CatalogProducts", filter=filtered)
    assert "Wool coat" in _names(listed)
    assert _page(await shop.get("ProductPage", slug="wool-coat"))["name"] == "Wool coat"


async def test_a_renamed_category_changes_the_menu_and_the_pages_that_show_it(
    shop: Shop, clock: Clock
) -> None:
    await _catalog(clock)
    await shop.get("Categories")
    await shop.get("ProductPage", slug="linen-dress")
    await factories.category("Dresses")  # the same GUID, renamed below
    from app.services.catalog import intake

    await intake.upsert_categories(
        items=[intake.CategoryData(factories.guid("category/Dresses"), "Платья")]
    )
    menu = await shop.get("Categories")
    assert [c["name"] for c in menu.json()["data"]["categories"]] == ["Платья"]
    page = await shop.get("ProductPage", slug="linen-dress")
    assert _page(page)["category"]["name"] == "Платья"


async def test_a_renamed_collection_changes_the_drops_and_the_cards(
    shop: Shop, clock: Clock
) -> None:
    await _catalog(clock)
    await shop.get("Collections")
    await shop.get("CatalogProducts", first=24)
    from app.services.catalog import intake

    autumn = factories.guid("collection/Autumn")
    released = factories.iso(clock.now - timedelta(days=30))
    await intake.upsert_collections(items=[intake.CollectionData(autumn, "Осень", released)])
    drops = await shop.get("Collections")
    assert [c["name"] for c in drops.json()["data"]["collections"]] == ["Осень"]
    cards = (await shop.get("CatalogProducts", first=24)).json()["data"]["products"]["edges"]
    assert {e["node"]["collection"]["name"] for e in cards} == {"Осень"}


async def test_a_renamed_warehouse_changes_the_shops_and_the_stock_lists(
    shop: Shop, clock: Clock
) -> None:
    await _catalog(clock)
    await shop.get("Shops")
    await shop.get("ProductPage", slug="linen-dress")
    from app.services.catalog import intake

    await intake.upsert_warehouses(
        items=[intake.WarehouseData(factories.SHOP_A, "Тверская", "shop", priority=20)]
    )
    shops = await shop.get("Shops")
    assert [s["name"] for s in shops.json()["data"]["shops"]] == ["Тверская", "Shop B"]
    page = _page(await shop.get("ProductPage", slug="linen-dress"))
    names = [a["warehouse"]["name"] for a in page["variants"][0]["availability"]]
    assert names == ["Online", "Тверская", "Shop B"]


# --- the release instant ------------------------------------------------------------------------


async def test_a_drop_appears_at_its_instant_without_a_flush(shop: Shop, clock: Clock) -> None:
    await _catalog(clock)
    release = clock.now + timedelta(seconds=10)
    winter = await factories.collection("Winter", release)
    await factories.product("Parka", collection_guid=winter)
    clock.advance(seconds=9.95)
    before = await shop.get("CatalogProducts", first=24)
    assert "Parka" not in _names(before)
    assert (await shop.get("CatalogProducts", first=24)).headers["x-cache"] == "hit"
    assert (await shop.get("ProductPage", slug="parka")).json()["data"]["product"] is None
    clock.advance(seconds=0.1)
    after = await shop.get("CatalogProducts", first=24)
    assert after.headers["x-cache"] == "miss" and _names(after)[0] == "Parka"
    assert _page(await shop.get("ProductPage", slug="parka"))["collection"]["isReleased"] is True


async def test_an_entry_lives_at_most_its_max_age(shop: Shop, clock: Clock) -> None:
    await _catalog(clock)
    await shop.get("Categories")
    clock.advance(seconds=59)
    assert (await shop.get("Categories")).headers["x-cache"] == "hit"
    clock.advance(seconds=1)
    assert (await shop.get("Categories")).headers["x-cache"] == "miss"


# --- the stock overlay --------------------------------------------------------------------------


async def _ids() -> tuple[int, int, int]:
    """The linen dress's variant pk and the online and shop A warehouse pks."""
    from app.models.catalog import Warehouse

    variant = await Variant.get(guid=factories.guid("variant/Linen dress/M/black"))
    online = await Warehouse.get(guid=factories.ONLINE)
    shop_a = await Warehouse.get(guid=factories.SHOP_A)
    return variant.id, online.id, shop_a.id


async def test_a_reservation_changes_the_cached_figures_without_a_flush(
    shop: Shop, clock: Clock, sql_counter: QueryCounter
) -> None:
    await _catalog(clock)
    feed = FakeFeed()
    shop.use_feed(feed)
    first = await shop.get("ProductPage", slug="linen-dress")
    assert _page(first)["variants"][0]["available"] == 5
    await shop.get("CatalogProducts", first=24)
    variant, online, shop_a = await _ids()
    shop_b = next(
        w for w in (await _warehouse_pks()) if w not in (online, shop_a)
    )  # zeros are listed too
    sql_counter.statements.clear()
    feed.publish(variant, {online: 2, shop_a: 2, shop_b: 0}, version=7)
    patched = await shop.get("ProductPage", slug="linen-dress")
    assert patched.headers["x-cache"] == "hit"
    page = _page(patched)
    assert page["available"] == 4 and page["variants"][0]["available"] == 4
    assert [a["quantity"] for a in page["variants"][0]["availability"]] == [2, 2, 0]
    assert patched.headers["etag"] != first.headers["etag"]
    assert sql_counter.statements == []  # no re-execution, no database
    again = await shop.get("ProductPage", slug="linen-dress")
    assert again.content == patched.content and shop.cache.counts.patched == 1
    card = await shop.get("CatalogProducts", first=24)
    linen = next(
        e["node"]
        for e in card.json()["data"]["products"]["edges"]
        if e["node"]["slug"] == "linen-dress"
    )
    assert linen["available"] == 4


async def _warehouse_pks() -> list[int]:
    from app.models.catalog import Warehouse

    return [w.id for w in await Warehouse.filter(sellable_online=True).order_by("priority", "id")]


async def test_an_unhealthy_feed_means_live_figures_never_old_ones(
    shop: Shop, clock: Clock
) -> None:
    await _catalog(clock)
    feed = FakeFeed()
    shop.use_feed(feed)
    await shop.get("ProductPage", slug="linen-dress")
    await factories.stock(
        factories.guid("variant/Linen dress/M/black"),
        factories.ONLINE,
        0,
        as_of=factories.T0 + timedelta(minutes=1),
    )
    feed.lose()  # the change above never reached this process
    live = await shop.get("ProductPage", slug="linen-dress")
    assert live.headers["x-cache"] == "miss"
    assert _page(live)["variants"][0]["available"] == 2
    feed.healthy = True
    refilled = await shop.get("ProductPage", slug="linen-dress")
    assert refilled.headers["x-cache"] == "miss"  # filled under the old generation: dropped
    assert (await shop.get("ProductPage", slug="linen-dress")).headers["x-cache"] == "hit"


async def test_with_the_feed_unhealthy_a_stampede_still_executes_once(
    shop: Shop, clock: Clock
) -> None:
    await _catalog(clock)
    feed = FakeFeed()
    feed.lose()
    shop.use_feed(feed)
    stampede = (shop.get("ProductPage", slug="linen-dress") for _ in range(10))
    answers = await asyncio.gather(*stampede)
    assert sorted(a.headers["x-cache"] for a in answers) == ["joined"] * 9 + ["miss"]
    assert len({a.content for a in answers}) == 1
    assert len(shop.cache.lru) == 0  # nothing stored: the next request reads live again
    assert (await shop.get("ProductPage", slug="linen-dress")).headers["x-cache"] == "miss"


async def test_without_a_feed_availability_is_never_cached(shop: Shop, clock: Clock) -> None:
    await _catalog(clock)
    shop.cache.watch = None
    for _ in range(2):
        answer = await shop.get("ProductPage", slug="linen-dress")
        assert answer.headers["x-cache"] == "miss"
    assert (await shop.get("Categories")).headers["x-cache"] == "miss"
    assert (await shop.get("Categories")).headers["x-cache"] == "hit"


# --- two apps, one redis ------------------------------------------------------------------------


async def test_an_invalidation_and_a_release_reach_the_other_process(
    open_shop: Opened, clock: Clock
) -> None:
    async with open_shop() as one, open_shop() as other:
        await _catalog(clock)
        winter = await factories.collection("Winter", clock.now + timedelta(seconds=5))
        await factories.product("Parka", collection_guid=winter)
        await until(lambda: other.cache.book.sequence == one.cache.book.sequence)
        filled = await one.get("Categories")
        shared = await other.get("Categories")
        assert shared.headers["x-cache"] == "shared" and shared.content == filled.content
        assert "Parka" not in _names(await other.get("CatalogProducts", first=24))
        await one.get("CatalogProducts", first=24)
        from app.services.catalog import intake

        guid = factories.guid("category/Dresses")
        await intake.upsert_categories(items=[intake.CategoryData(guid, "Платья")])  # in `one`
        await until(lambda: other.cache.book.sequence == one.cache.book.sequence, 1.0)
        menu = await other.get("Categories")
        assert [c["name"] for c in menu.json()["data"]["categories"]] == ["Платья"]
        clock.advance(seconds=5)
        assert _names(await other.get("CatalogProducts", first=24))[0] == "Parka"
        assert _names(await one.get("CatalogProducts", first=24))[0] == "Parka"


async def test_an_entry_from_another_process_is_overlaid_with_this_ones_feed(
    open_shop: Opened, clock: Clock
) -> None:
    async with open_shop() as one, open_shop() as other:
        await _catalog(clock)
        one.use_feed(FakeFeed())
        feed = FakeFeed()
        other.use_feed(feed)
        assert other.cache.watch is not None and other.cache.watch.usable(clock.now)
        clock.advance(seconds=1)  # filled after the other's feed became healthy
        await until(lambda: other.cache.book.sequence == one.cache.book.sequence)
        filled = await one.get("ProductPage", slug="linen-dress")
        shared = await other.get("ProductPage", slug="linen-dress")
        assert shared.headers["x-cache"] == "shared" and shared.content == filled.content
        variant, online, shop_a = await _ids()
        shop_b = next(w for w in await _warehouse_pks() if w not in (online, shop_a))
        feed.publish(variant, {online: 0, shop_a: 1, shop_b: 0}, version=3)
        patched = await other.get("ProductPage", slug="linen-dress")
        assert patched.headers["x-cache"] == "hit"
        assert _page(patched)["variants"][0]["available"] == 1


# --- the real stock stream ----------------------------------------------------------------------


async def test_a_1c_stock_figure_reaches_the_cached_page_through_the_stream(
    shop: Shop, clock: Clock
) -> None:
    await _catalog(clock)
    feed = shop.view.stock_feed
    assert feed is not None
    await until(lambda: feed.healthy)
    first = await shop.get("ProductPage", slug="linen-dress")
    assert _page(first)["variants"][0]["available"] == 5
    assert (await shop.get("ProductPage", slug="linen-dress")).headers["x-cache"] == "hit"
    await factories.stock(
        factories.guid("variant/Linen dress/M/black"),
        factories.ONLINE,
        1,
        as_of=factories.T0 + timedelta(minutes=1),
    )
    for _ in range(100):  # within a second
        answer = await shop.get("ProductPage", slug="linen-dress")
        if _page(answer)["variants"][0]["available"] == 3:
            break
        await asyncio.sleep(0.01)
    assert _page(answer)["variants"][0]["available"] == 3
    assert answer.headers["x-cache"] == "hit"  # overlaid, not flushed
    assert [a["quantity"] for a in _page(answer)["variants"][0]["availability"]] == [1, 2, 0]
