"""The storefront catalog through the real ASGI app: visibility, filters, sorting, pages."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from tests import factories
from tests.conftest import Clock, graphql

LIST = """
query L($first: Int, $after: String, $filter: ProductFilterInput, $sort: ProductSort) {
  products(first: $first, after: $after, filter: $filter, sort: $sort) {
    edges { cursor node { slug priceFrom { amount currency } } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    totalCount
  }
}"""


async def _slugs(client: httpx.AsyncClient, **variables: Any) -> list[str]:
    body = await graphql(client, LIST, variables)
    assert "errors" not in body, body
    return [e["node"]["slug"] for e in body["data"]["products"]["edges"]]


async def _shop(clock: Clock) -> None:
    """Three dresses and a shirt, in two categories, with stock in some warehouses."""
    await factories.warehouses()
    women = await factories.category("Women")
    dresses = await factories.category("Dresses", parent=women)
    shirts = await factories.category("Shirts", parent=women)
    autumn = await factories.collection("Autumn", clock.now.replace(year=2025))
    await factories.product(
        "Linen dress",
        category_guid=dresses,
        collection_guid=autumn,
        variants=[
            factories.variant("Linen dress", "S", "olive", "7990.00"),
            factories.variant("Linen dress", "M", "milk", "8990.00"),
        ],
    )
    await factories.product(
        "Silk dress",
        category_guid=dresses,
        variants=[factories.variant("Silk dress", "M", "black", "15990.00", old_price="19990.00")],
    )
    await factories.product(
        "Knit dress",
        category_guid=dresses,
        variants=[factories.variant("Knit dress", "L", "olive", "5990.00")],
    )
    await factories.product(
        "Oxford shirt",
        category_guid=shirts,
        variants=[factories.variant("Oxford shirt", "M", "milk", "3990.00")],
    )
    await factories.stock(factories.guid("variant/Linen dress/M/milk"), factories.SHOP_B, 1)
    await factories.stock(
        factories.guid("variant/Silk dress/M/black"), factories.CLOSED, 5
    )  # not sold online
    await factories.stock(factories.guid("variant/Oxford shirt/M/milk"), factories.ONLINE, 2)


async def test_newest_first_by_default(client: httpx.AsyncClient, clock: Clock) -> None:
    await _shop(clock)
    # products outside a collection are dated by creation; the 2025 collection is oldest
    assert (await _slugs(client))[-1] == "linen-dress"


async def test_sort_by_price_both_ways(client: httpx.AsyncClient, clock: Clock) -> None:
    await _shop(clock)
    ascending = ["oxford-shirt", "knit-dress", "linen-dress", "silk-dress"]
    assert await _slugs(client, sort="PRICE_ASC") == ascending
    assert await _slugs(client, sort="PRICE_DESC") == ascending[::-1]


async def test_filters_combine_on_one_variant(client: httpx.AsyncClient, clock: Clock) -> None:
    await _shop(clock)
    by_price = {"sort": "PRICE_ASC"}
    assert await _slugs(client, filter={"category": "women"}, **by_price) == [
        "oxford-shirt",
        "knit-dress",
        "linen-dress",
        "silk-dress",
    ]
    assert await _slugs(client, filter={"category": "dresses"}, **by_price) == [
        "knit-dress",
        "linen-dress",
        "silk-dress",
    ]
    assert await _slugs(client, filter={"collection": "autumn"}) == ["linen-dress"]
    assert await _slugs(client, filter={"sizes": ["M"], "colours": ["olive"]}) == []
    assert await _slugs(client, filter={"colours": ["olive"]}, **by_price) == [
        "knit-dress",
        "linen-dress",
    ]
    assert await _slugs(client, filter={"priceMin": "5990", "priceMax": "8000.00"}, **by_price) == [
        "knit-dress",
        "linen-dress",
    ]
    # in stock: on-hand in a sellable warehouse; the silk dress sits only in "Returns"
    assert await _slugs(client, filter={"inStockOnly": True}, **by_price) == [
        "oxford-shirt",
        "linen-dress",
    ]


async def test_pages_follow_each_other_without_gaps_or_repeats(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    await factories.warehouses()
    for n in range(7):  # equal prices: the id tiebreak keeps the order total
        await factories.product(
            f"Tee {n}", variants=[factories.variant(f"Tee {n}", "M", "white", "990.00")]
        )
    seen: list[str] = []
    after = None
    while True:
        body = await graphql(client, LIST, {"first": 3, "after": after, "sort": "PRICE_ASC"})
        page = body["data"]["products"]
        seen += [e["node"]["slug"] for e in page["edges"]]
        assert page["totalCount"] == 7
        assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [f"tee-{n}" for n in range(7)]
    assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]


async def test_page_edges(client: httpx.AsyncClient, clock: Clock) -> None:
    await _shop(clock)
    empty = (await graphql(client, LIST, {"first": 0}))["data"]["products"]
    assert empty["edges"] == [] and empty["pageInfo"]["hasNextPage"] is True
    exact = (await graphql(client, LIST, {"first": 4}))["data"]["products"]
    assert len(exact["edges"]) == 4 and exact["pageInfo"]["hasNextPage"] is False
    cases: list[tuple[dict[str, Any], str]] = [
        ({"first": 101}, "INVALID"),
        ({"first": -1}, "INVALID"),
        ({"after": "bm9wZQ=="}, "INVALID_CURSOR"),
        ({"after": "%%%"}, "INVALID_CURSOR"),
    ]
    for variables, code in cases:
        body = await graphql(client, LIST, variables)
        assert body["data"] is None
        assert body["errors"][0]["extensions"]["code"] == code
    # a cursor from one sort order is refused by another
    cursor = exact["edges"][0]["cursor"]
    body = await graphql(client, LIST, {"after": cursor, "sort": "PRICE_ASC"})
    assert body["errors"][0]["extensions"] == {"code": "INVALID_CURSOR", "field": ["after"]}


async def test_a_drop_appears_at_its_release_instant_without_a_restart(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    await factories.warehouses()
    drop = await factories.collection("December", clock.now.replace(microsecond=0) + _seconds(60))
    await factories.product("Velvet dress", collection_guid=drop)
    product = 'query { product(slug: "velvet-dress") { slug } collections { slug } }'
    upcoming = "query { collections(includeUpcoming: true) { slug isReleased } }"
    assert await _slugs(client) == []
    assert (await graphql(client, product))["data"] == {"product": None, "collections": []}
    assert (await graphql(client, upcoming))["data"]["collections"] == [
        {"slug": "december", "isReleased": False}
    ]
    clock.advance(seconds=59)
    assert await _slugs(client) == []
    clock.advance(seconds=1)
    assert await _slugs(client) == ["velvet-dress"]
    assert (await graphql(client, product))["data"] == {
        "product": {"slug": "velvet-dress"},
        "collections": [{"slug": "december"}],
    }


async def test_unpublished_products_and_products_without_variants_are_hidden(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    await factories.warehouses()
    await factories.product("Draft", published=False)
    await factories.product("Empty", variants=[])
    await factories.product("Shown")
    assert await _slugs(client) == ["shown"]


async def test_shops_and_categories(client: httpx.AsyncClient, clock: Clock) -> None:
    await _shop(clock)
    body = await graphql(
        client, "query { shops { id name kind address } categories { slug parent { slug } } }"
    )
    assert body["data"]["shops"] == [
        {"id": factories.SHOP_A, "name": "Shop A", "kind": "SHOP", "address": "Тверская, 1"},
        {"id": factories.SHOP_B, "name": "Shop B", "kind": "SHOP", "address": "Невский, 2"},
    ]
    assert {c["slug"]: (c["parent"] or {}).get("slug") for c in body["data"]["categories"]} == {
        "women": None,
        "dresses": "women",
        "shirts": "women",
    }


async def test_product_by_id_and_money_is_exact(client: httpx.AsyncClient, clock: Clock) -> None:
    await _shop(clock)
    query = """query P($id: ID) { product(id: $id) { slug priceFrom { amount }
        variants { price { amount currency } oldPrice { amount } } } }"""
    body = await graphql(client, query, {"id": factories.guid("product/Silk dress")})
    assert body["data"]["product"] == {
        "slug": "silk-dress",
        "priceFrom": {"amount": "15990.00"},
        "variants": [
            {"price": {"amount": "15990.00", "currency": "RUB"}, "oldPrice": {"amount": "19990.00"}}
        ],
    }
    both = await graphql(client, 'query { product(slug: "a", id: "b") { slug } }')
    assert both["errors"][0]["extensions"]["code"] == "INVALID"


def _seconds(n: int) -> timedelta:
    return timedelta(seconds=n)
