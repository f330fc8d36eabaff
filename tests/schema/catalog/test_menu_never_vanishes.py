"""The menu never vanishes: while 1C re-sends the whole catalog through the real
`upsertCatalog` (every category, then products 50 a call), shoppers' concurrent `categories`,
`products` and product-page queries never see a missing category, an empty list or a product
without its variants, images or price. With the response cache on and off."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.domain.access import Scope
from app.main import create_app
from app.schema.documents import MANIFEST
from app.settings import Settings
from tests import factories
from tests.conftest import Clock

IDS = {entry["name"]: key for key, entry in json.loads(MANIFEST.read_text()).items()}
UPSERT = """
mutation C($input: CatalogInput!) {
  upsertCatalog(input: $input) { errors { code path message } }
}"""
ROOTS, CHILDREN, PRODUCTS, PER_CALL = 2, 4, 100, 50


def _categories() -> list[dict[str, Any]]:
    roots = [{"guid": factories.guid(f"menu/{r}"), "name": f"Root {r}"} for r in range(ROOTS)]
    children = [
        {"guid": factories.guid(f"menu/{r}/{c}"), "name": f"Child {r}.{c}", "parentGuid": p["guid"]}
        for r, p in enumerate(roots)
        for c in range(CHILDREN)
    ]
    return roots + children


def _product(n: int, round_: int) -> dict[str, Any]:
    category = factories.guid(f"menu/{n % ROOTS}/{n % CHILDREN}")
    return {
        "guid": factories.guid(f"menu-product/{n}"),
        "name": f"Product {n}",
        "description": f"round {round_}",
        "categoryGuid": category,
        "variants": [
            {
                "guid": factories.guid(f"menu-variant/{n}/{size}"),
                "sku": f"MENU-{n}-{size}",
                "size": size,
                "colour": "black",
                "price": f"{1000 + round_}.00",
            }
            for size in ("S", "M")
        ],
        "images": [{"url": f"https://cdn.example/{n}/{i}.jpg", "alt": "a"} for i in range(2)],
    }


async def _send_catalog(client: httpx.AsyncClient, token: str, round_: int) -> None:
    """The whole catalog as 1C sends it: the categories, then products 50 a call."""
    headers = {"Authorization": f"Bearer {token}"}
    for start in range(0, PRODUCTS, PER_CALL):
        products = [_product(n, round_) for n in range(start, start + PER_CALL)]
        categories = _categories() if start == 0 else []
        variables = {"input": {"categories": categories, "products": products}}
        answer = await client.post(
            "/graphql", json={"query": UPSERT, "variables": variables}, headers=headers
        )
        assert answer.json()["data"]["upsertCatalog"]["errors"] == [], answer.text


async def _get(client: httpx.AsyncClient, name: str, **variables: Any) -> dict[str, Any]:
    params = {"documentId": IDS[name], "variables": json.dumps(variables)}
    answer = await client.get("/graphql", params=params)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


def _whole(product: dict[str, Any]) -> None:
    assert product["name"].startswith("Product "), product
    assert product["priceFrom"] is not None, product
    assert len(product["variants"]) == 2, product
    assert len(product["images"]) == 2, product


async def _shop_while(client: httpx.AsyncClient, writing: asyncio.Task[None]) -> int:
    """What shoppers see until the writer is done; the number of answers checked."""
    expected = {c["name"] for c in _categories()}
    checked = 0
    while not writing.done() or checked == 0:
        menu = await _get(client, "Categories")
        assert {c["name"] for c in menu["categories"]} == expected
        page = (await _get(client, "CatalogProducts", first=24))["products"]
        assert page["totalCount"] == PRODUCTS and len(page["edges"]) == 24
        for edge in page["edges"]:
            _whole(edge["node"])
        child = {"category": "child-1-3"}
        filtered = (await _get(client, "CatalogProducts", first=24, filter=child))["products"]
        assert filtered["edges"], "a category's list went empty"
        product = await _get(client, "ProductPage", slug=f"product-{checked % PRODUCTS}")
        _whole(product["product"])
        checked += 4
    return checked


@pytest.fixture(params=["cache-on", "cache-off"])
async def shopper(
    request: pytest.FixtureRequest,
    db: str,
    tmp_path: Path,
    database_url: str,
    redis_url: str,
    clock: Clock,
) -> AsyncIterator[httpx.AsyncClient]:
    from redis.asyncio import Redis

    from app.services.response_cache.tags import PREFIX

    redis = Redis.from_url(redis_url)
    stale = [k async for k in redis.scan_iter(match=PREFIX + "*")]
    if stale:
        await redis.delete(*stale)
    await redis.aclose()
    settings = Settings(
        environment="test",
        data_dir=tmp_path,
        database_url=database_url,
        response_cache=request.param == "cache-on",
    )
    app = create_app(settings, redis_url=redis_url, manage_db=False, clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://vitrina.test") as c:
            yield c


async def test_the_menu_and_the_products_stay_whole_while_1c_resends_everything(
    shopper: httpx.AsyncClient,
) -> None:
    await factories.warehouses()
    token = await factories.token(Scope.CATALOG_WRITE)
    await _send_catalog(shopper, token, round_=1)
    writing = asyncio.create_task(_send_catalog(shopper, token, round_=2))
    readers = [asyncio.create_task(_shop_while(shopper, writing)) for _ in range(3)]
    checked = await asyncio.gather(*readers)
    await writing
    assert min(checked) >= 4
    final = await _get(shopper, "ProductPage", slug="product-7")
    assert final["product"]["description"] == "round 2"
    assert final["product"]["variants"][0]["price"]["amount"] == "1002.00"
