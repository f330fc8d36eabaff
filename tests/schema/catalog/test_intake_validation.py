"""Hostile 1C input: each bad item is named by its code and path, leaves no trace, and the
good items of the same call land; SQLite and PostgreSQL answer alike (both run every test)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from tortoise.exceptions import IntegrityError

from app.domain.access import Scope
from app.models.catalog import Category, Product, ProductImage, Variant, Warehouse
from app.models.stock import StockLevel
from app.services.catalog import products as product_service
from tests import factories
from tests.schema.test_input_validation import graphql

ERRORS = "errors { code path message }"
CATALOG = f"""
mutation C($input: CatalogInput!) {{
  upsertCatalog(input: $input) {{
    categories {{ created updated }} collections {{ created updated }}
    products {{ created updated }} {ERRORS}
  }}
}}"""
WAREHOUSES = f"""
mutation W($w: [WarehouseInput!]!) {{
  upsertWarehouses(warehouses: $w) {{ result {{ created updated }} {ERRORS} }}
}}"""
PRICES = f"""
mutation P($prices: [PriceInput!]!) {{ updatePrices(prices: $prices) {{ updated {ERRORS} }} }}"""
APPLY = f"""
mutation A($rows: [StockSnapshotInput!]!) {{
  applyStockSnapshots(rows: $rows) {{ applied duplicates staleRows {ERRORS} }}
}}"""


def _product(name: str, **fields: Any) -> dict[str, Any]:
    return {
        "guid": factories.guid(f"p/{name}"),
        "name": name,
        "variants": [
            {
                "guid": factories.guid(f"v/{name}"),
                "sku": f"SKU-{len(name)}-{name[:8].encode().hex()}",
                "size": "M",
                "colour": "чёрный",
                "price": "4990.00",
            }
        ],
        **fields,
    }


def _warehouse(name: str, **fields: Any) -> dict[str, Any]:
    return {"guid": factories.guid(f"w/{name}"), "name": name, "kind": "SHOP", **fields}


async def _catalog(client: httpx.AsyncClient, data: dict[str, Any]) -> dict[str, Any]:
    token = await factories.token(Scope.CATALOG_WRITE)
    body = await graphql(client, CATALOG, {"input": data}, token)
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["upsertCatalog"]
    return payload


async def _products() -> list[str]:
    return [p.name for p in await Product.all().order_by("id")]


def _codes(payload: dict[str, Any]) -> list[tuple[str, list[str]]]:
    return [(e["code"], e["path"]) for e in payload["errors"]]


async def test_a_nul_in_one_product_name_rejects_that_product_only(
    client: httpx.AsyncClient,
) -> None:
    category = {"guid": factories.guid("c/dresses"), "name": "Платья"}
    good, bad = _product("Платье миди"), _product("bad\u0000")
    payload = await _catalog(client, {"categories": [category], "products": [good, bad]})
    assert payload == {
        "categories": {"created": 1, "updated": 0},
        "collections": {"created": 0, "updated": 0},
        "products": {"created": 1, "updated": 0},
        "errors": [
            {
                "code": "INVALID",
                "path": ["products", "1", "name"],
                "message": "a control character (U+0000) at position 3 is not allowed here",
            }
        ],
    }
    assert await _products() == ["Платье миди"]
    assert [c.name for c in await Category.all()] == ["Платья"]
    assert [v.guid for v in await Variant.all()] == [good["variants"][0]["guid"]]


async def test_each_bad_item_is_named_once_by_its_first_problem_in_the_order_sent(
    client: httpx.AsyncClient,
) -> None:
    twice_bad = _product("x\u0007")
    twice_bad["variants"][0]["sku"] = "S" * 65
    long_sku = _product("Long sku")
    long_sku["variants"][0]["sku"] = "S" * 65
    surrogate = _product("Surrogate", description="ok\ud800")
    data = {"products": [twice_bad, _product("Good"), long_sku, surrogate]}
    payload = await _catalog(client, data)
    assert payload["products"] == {"created": 1, "updated": 0}
    assert [(e["code"], e["path"], e["message"]) for e in payload["errors"]] == [
        (
            "INVALID",
            ["products", "0", "name"],
            "a control character (U+0007) at position 1 is not allowed here",
        ),
        ("INVALID", ["products", "2", "variants", "0", "sku"], "at most 64 characters"),
        (
            "INVALID",
            ["products", "3", "description"],
            "a surrogate (U+D800) at position 2 is not allowed here",
        ),
    ]
    assert await _products() == ["Good"]
    assert await Variant.all().count() == 1


async def test_a_warehouse_name_longer_than_its_column_is_refused_and_the_others_land(
    client: httpx.AsyncClient,
) -> None:
    token = await factories.token(Scope.CATALOG_WRITE)
    shops = [
        _warehouse("Тверская"),
        _warehouse("x" * 300),
        _warehouse("Невский", address="Невский пр., 2\r\nвход со двора\t(2 этаж)"),
        _warehouse("Slack", slackChannel="#shop\u0000"),
    ]
    body = await graphql(client, WAREHOUSES, {"w": shops}, token)
    assert body["data"]["upsertWarehouses"] == {
        "result": {"created": 2, "updated": 0},
        "errors": [
            {
                "code": "INVALID",
                "path": ["warehouses", "1", "name"],
                "message": "at most 200 characters",
            },
            {
                "code": "INVALID",
                "path": ["warehouses", "3", "slackChannel"],
                "message": "a control character (U+0000) at position 5 is not allowed here",
            },
        ],
    }
    stored = await Warehouse.all().order_by("id").values_list("name", "address")
    assert stored == [("Тверская", ""), ("Невский", "Невский пр., 2\r\nвход со двора\t(2 этаж)")]


async def test_image_urls_other_than_http_or_https_with_a_host_reject_their_product(
    client: httpx.AsyncClient,
) -> None:
    hostile = _product(
        "Hostile",
        images=[
            {"url": "https://cdn.example.ru/ok.jpg"},
            {"url": "javascript:alert(document.cookie)"},
        ],
    )
    relative = _product("Relative", images=[{"url": "/images/1.jpg"}])
    fine = _product("Fine", images=[{"url": "https://cdn.example.ru/fine.jpg", "alt": "спереди"}])
    payload = await _catalog(client, {"products": [hostile, relative, fine]})
    assert _codes(payload) == [
        ("INVALID", ["products", "0", "images", "1", "url"]),
        ("INVALID", ["products", "1", "images", "0", "url"]),
    ]
    assert payload["errors"][0]["message"] == "an image URL is http:// or https:// with a host"
    assert await _products() == ["Fine"]
    assert await ProductImage.all().values_list("url", "alt") == [
        ("https://cdn.example.ru/fine.jpg", "спереди")
    ]


async def test_prices_beyond_a_billion_roubles_are_invalid_prices_and_change_nothing(
    client: httpx.AsyncClient,
) -> None:
    dear = _product("Dear")
    dear["variants"][0]["price"] = "92233720368547758.08"  # 2**63 kopecks
    huge = _product("Huge")
    huge["variants"][0]["oldPrice"] = "9e999999"
    payload = await _catalog(client, {"products": [dear, huge, _product("Cheap")]})
    assert _codes(payload) == [
        ("INVALID_PRICE", ["products", "0", "variants", "0", "price"]),
        ("INVALID_PRICE", ["products", "1", "variants", "0", "oldPrice"]),
    ]
    assert payload["errors"][0]["message"] == "price must be at most 1000000000"

    cheap = _product("Cheap")["variants"][0]["guid"]
    token = await factories.token(Scope.CATALOG_WRITE)
    body = await graphql(
        client,
        PRICES,
        {
            "prices": [
                {"variantGuid": cheap, "price": "18446744073709551616"},
                {"variantGuid": cheap, "price": "5990.00", "oldPrice": "1" * 10_001},
                {"variantGuid": cheap + "\u0000", "price": "1.00"},
            ]
        },
        token,
    )
    assert [(e["code"], e["path"]) for e in body["data"]["updatePrices"]["errors"]] == [
        ("INVALID_PRICE", ["prices", "0", "price"]),
        ("INVALID", ["prices", "1", "oldPrice"]),
        ("INVALID", ["prices", "2", "variantGuid"]),
    ]
    assert body["data"]["updatePrices"]["updated"] == 0
    assert await Variant.all().values_list("price", "old_price") == [(499000, None)]
    assert [p.price_from for p in await Product.all()] == [499000]


async def test_stock_rows_with_hostile_strings_are_rejected_one_by_one(
    client: httpx.AsyncClient,
) -> None:
    await factories.warehouses()
    await factories.product("Dress", variants=[factories.variant("Dress", "M", "black")])
    variant = factories.guid("variant/Dress/M/black")
    as_of = factories.iso(factories.later(1))

    def row(variant_guid: str, moment: str = as_of, warehouse: str = factories.ONLINE) -> Any:
        return {
            "variantGuid": variant_guid,
            "warehouseGuid": warehouse,
            "quantity": 3,
            "asOf": moment,
        }

    rows = [
        row(variant + "\u0000"),
        row(variant),
        row(variant, moment="x" * 10_001, warehouse=factories.SHOP_A),
        row(variant, warehouse="\ud800"),
    ]
    token = await factories.token(Scope.STOCK_WRITE)
    body = await graphql(client, APPLY, {"rows": rows}, token)
    payload = body["data"]["applyStockSnapshots"]
    assert (payload["applied"], payload["duplicates"], payload["staleRows"]) == (1, 0, [])
    assert [(e["code"], e["path"]) for e in payload["errors"]] == [
        ("INVALID", ["rows", "0", "variantGuid"]),
        ("INVALID", ["rows", "2", "asOf"]),
        ("INVALID", ["rows", "3", "warehouseGuid"]),
    ]
    assert [level.on_hand for level in await StockLevel.all()] == [3]


async def test_a_call_without_a_token_is_refused_before_its_input_is_judged(
    client: httpx.AsyncClient,
) -> None:
    body = await graphql(client, CATALOG, {"input": {"products": [_product("bad\u0000")]}})
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]
    assert await Product.all().count() == 0


async def test_a_database_refusal_inside_one_product_leaves_none_of_it(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The images are the last thing written: by then the product and its variants are in.
    real = product_service._replace_images

    async def refuse_one(product_id: int, images: list[product_service.ImageData]) -> None:
        if any("clash" in i.url for i in images):
            raise IntegrityError("duplicate key value violates unique constraint")
        await real(product_id, images)

    monkeypatch.setattr(product_service, "_replace_images", refuse_one)
    clash = _product("Clash", images=[{"url": "https://cdn.example.ru/clash.jpg"}])
    fine = _product("Fine", images=[{"url": "https://cdn.example.ru/fine.jpg"}])
    payload = await _catalog(client, {"products": [clash, fine]})
    assert payload["products"] == {"created": 1, "updated": 0}
    assert payload["errors"] == [
        {
            "code": "INVALID",
            "path": ["products", "0"],
            "message": "conflicts with existing data (a unique GUID, SKU or slug)",
        }
    ]
    assert await _products() == ["Fine"]
    assert [v.guid for v in await Variant.all()] == [fine["variants"][0]["guid"]]
    assert [i.url for i in await ProductImage.all()] == ["https://cdn.example.ru/fine.jpg"]


async def test_long_cyrillic_names_make_slugs_that_fit_their_columns(
    client: httpx.AsyncClient,
) -> None:
    # Transliteration makes "щ" four letters: a 200-letter name used to need an 800-letter slug.
    category = {"guid": factories.guid("c/long"), "name": "щ" * 200}
    twin = {"guid": factories.guid("c/twin"), "name": "щ" * 199 + "ь"}  # the same slug, taken
    product = _product("щ" * 300)
    payload = await _catalog(client, {"categories": [category, twin], "products": [product]})
    assert payload["errors"] == []
    slugs = [c.slug for c in await Category.all().order_by("id")]
    assert [len(s) for s in slugs] == [190, 199]
    assert slugs[1] == f"{slugs[0]}-{twin['guid'][:8]}"
    assert len((await Product.get()).slug) == 190


async def test_descriptions_keep_their_line_breaks_and_tabs(client: httpx.AsyncClient) -> None:
    text = "Состав:\r\n\tшерсть 100%\nУход: ручная стирка"
    collection = {
        "guid": factories.guid("col/winter"),
        "name": "Зима",
        "releaseAt": "2026-12-01T10:00:00+03:00",
        "description": text,
    }
    payload = await _catalog(
        client, {"collections": [collection], "products": [_product("Wool", description=text)]}
    )
    assert payload["errors"] == []
    assert (await Product.get()).description == text


async def test_ints_at_the_edges_of_graphql_int_are_stored_alike(
    client: httpx.AsyncClient,
) -> None:
    token = await factories.token(Scope.CATALOG_WRITE)
    body = await graphql(client, WAREHOUSES, {"w": [_warehouse("Edge", priority=2**31 - 1)]}, token)
    assert body["data"]["upsertWarehouses"]["errors"] == []
    category = {"guid": factories.guid("c/edge"), "name": "Edge", "position": -(2**31)}
    assert (await _catalog(client, {"categories": [category]}))["errors"] == []
    assert [w.priority for w in await Warehouse.all()] == [2**31 - 1]
    assert [c.position for c in await Category.all()] == [-(2**31)]

    beyond = await graphql(client, WAREHOUSES, {"w": [_warehouse("Over", priority=2**31)]}, token)
    assert beyond["data"] is None
    assert "Int cannot represent non 32-bit signed integer" in beyond["errors"][0]["message"]
    assert await Warehouse.all().count() == 1
