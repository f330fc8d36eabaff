"""No N+1: a catalog page costs the same number of SQL statements whatever its size."""

from __future__ import annotations

import httpx

from tests import factories as f
from tests.conftest import Clock, QueryCounter, graphql

PAGE = """
query Page($first: Int!) {
  products(first: $first) {
    edges { node {
      slug name priceFrom { amount } available
      category { slug parent { slug } } collection { slug releaseAt }
      images { url }
      variants { sku size colour price { amount } oldPrice { amount } available
                 availability { warehouse { id name kind } quantity } }
    } }
    pageInfo { hasNextPage endCursor }
  }
}"""


async def _catalog(products: int) -> None:
    await f.warehouses()
    parent = await f.category("Women")
    cat = await f.category("Dresses", parent=parent)
    col = await f.collection("Autumn", f.T0)
    for n in range(products):
        name = f"Dress {n}"
        sizes = ["S", "M", "L"]
        await f.product(
            name,
            category_guid=cat,
            collection_guid=col,
            variants=[f.variant(name, s, "black") for s in sizes],
        )
        for s in sizes:
            await f.stock(f.guid(f"variant/{name}/{s}/black"), f.SHOP_A, n % 3)


async def _statements(client: httpx.AsyncClient, counter: QueryCounter, first: int) -> int:
    counter.statements.clear()
    body = await graphql(client, PAGE, {"first": first})
    assert "errors" not in body, body
    assert len(body["data"]["products"]["edges"]) == first
    return len(counter.statements)


async def test_a_24_product_page_costs_as_many_queries_as_a_2_product_page(
    client: httpx.AsyncClient, clock: Clock, sql_counter: QueryCounter
) -> None:
    await _catalog(26)
    small = await _statements(client, sql_counter, 2)
    full = await _statements(client, sql_counter, 24)
    assert full == small
    # products, variants, warehouses, stock levels, expired holds, images, collections,
    # categories (×2 levels)
    assert full <= 9, sql_counter.statements
