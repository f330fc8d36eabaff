"""1C intake through the real ASGI app: tokens and scopes, per-row errors, immediate effect."""

from __future__ import annotations

import httpx

from app.domain.access import Scope
from app.models.catalog import Product, Warehouse
from app.models.stock import StockLevel
from tests import factories
from tests.conftest import graphql

APPLY = """
mutation Apply($rows: [StockSnapshotInput!]!) {
  applyStockSnapshots(rows: $rows) { applied duplicates staleRows errors { code path message } }
}"""
WAREHOUSES = """
mutation W($w: [WarehouseInput!]!) {
  upsertWarehouses(warehouses: $w) { result { created updated } errors { code path message } }
}"""
CATALOG = """
mutation C($input: CatalogInput!) {
  upsertCatalog(input: $input) {
    categories { created updated } collections { created updated } products { created updated }
    errors { code path message }
  }
}"""
AVAILABLE = """
query P($slug: String!) {
  product(slug: $slug) { variants { available availability { warehouse { id } quantity } } }
}"""


def _row(
    variant: str, qty: int, minutes: int, warehouse: str = factories.ONLINE
) -> dict[str, object]:
    return {
        "variantGuid": variant,
        "warehouseGuid": warehouse,
        "quantity": qty,
        "asOf": factories.iso(factories.later(minutes)),
    }


async def test_stock_from_1c_is_seen_by_the_next_storefront_query(
    client: httpx.AsyncClient,
) -> None:
    await factories.warehouses()
    await factories.product("Dress", variants=[factories.variant("Dress", "M", "black")])
    token = await factories.token(Scope.STOCK_WRITE)
    v = factories.guid("variant/Dress/M/black")
    body = await graphql(
        client, APPLY, {"rows": [_row(v, 4, 1), _row(v, 2, 1, factories.SHOP_A)]}, token
    )
    assert body["data"]["applyStockSnapshots"] == {
        "applied": 2,
        "duplicates": 0,
        "staleRows": [],
        "errors": [],
    }
    shown = await graphql(client, AVAILABLE, {"slug": "dress"})
    variant = shown["data"]["product"]["variants"][0]
    assert variant["available"] == 6
    assert {a["warehouse"]["id"]: a["quantity"] for a in variant["availability"]} == {
        factories.ONLINE: 4,
        factories.SHOP_A: 2,
        factories.SHOP_B: 0,
    }


async def test_a_bad_row_is_reported_with_its_path_and_the_rest_applies(
    client: httpx.AsyncClient,
) -> None:
    await factories.warehouses()
    await factories.product("Dress", variants=[factories.variant("Dress", "M", "black")])
    token = await factories.token(Scope.STOCK_WRITE)
    v = factories.guid("variant/Dress/M/black")
    rows = [_row(v, 3, 1), _row(v, -2, 1, factories.SHOP_A), _row(v, 1, 0)]
    body = await graphql(client, APPLY, {"rows": rows}, token)
    assert body["data"]["applyStockSnapshots"] == {
        "applied": 1,
        "duplicates": 0,
        "staleRows": [2],
        "errors": [
            {
                "code": "NEGATIVE_QUANTITY",
                "path": ["rows", "1", "quantity"],
                "message": "quantity must be ≥ 0",
            }
        ],
    }


async def test_missing_wrong_and_underscoped_tokens_write_nothing(
    client: httpx.AsyncClient,
) -> None:
    await factories.warehouses()
    await factories.product("Dress", variants=[factories.variant("Dress", "M", "black")])
    catalog_only = await factories.token(Scope.CATALOG_WRITE)
    rows = {"rows": [_row(factories.guid("variant/Dress/M/black"), 5, 1)]}
    for token, code in [
        (None, "UNAUTHENTICATED"),
        ("vit_forged", "UNAUTHENTICATED"),
        ("garbage", "UNAUTHENTICATED"),
        (catalog_only, "FORBIDDEN"),
    ]:
        body = await graphql(client, APPLY, rows, token)
        assert body["data"] is None
        assert [e["extensions"]["code"] for e in body["errors"]] == [code]
    assert await StockLevel.all().count() == 0


async def test_a_revoked_token_is_refused(client: httpx.AsyncClient) -> None:
    from app.models.auth import IntegrationToken
    from app.services.tokens import revoke_token

    token = await factories.token(Scope.ADMIN)
    assert await revoke_token(token_id=(await IntegrationToken.get()).id)
    body = await graphql(client, WAREHOUSES, {"w": []}, token)
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_tokens_are_stored_hashed(db: str) -> None:
    from app.models.auth import IntegrationToken

    token = await factories.token(Scope.ADMIN)
    stored = await IntegrationToken.get()
    assert token not in (stored.token_hash, stored.name) and len(stored.token_hash) == 64


async def test_warehouses_are_upserted_by_guid(client: httpx.AsyncClient) -> None:
    token = await factories.token(Scope.CATALOG_WRITE)
    w = {"guid": factories.SHOP_A, "name": "Shop", "kind": "SHOP", "address": "Тверская, 1"}
    first = await graphql(client, WAREHOUSES, {"w": [w]}, token)
    again = await graphql(
        client, WAREHOUSES, {"w": [{**w, "name": "Shop on Tverskaya"}, {**w, "guid": "bad"}]}, token
    )
    assert first["data"]["upsertWarehouses"]["result"] == {"created": 1, "updated": 0}
    assert again["data"]["upsertWarehouses"] == {
        "result": {"created": 0, "updated": 1},
        "errors": [
            {
                "code": "INVALID_GUID",
                "path": ["warehouses", "1", "guid"],
                "message": "not a 1C GUID: 'bad'",
            }
        ],
    }
    assert [w.name for w in await Warehouse.all()] == ["Shop on Tverskaya"]


async def test_slack_settings_1c_leaves_out_stay_and_an_explicit_null_clears_them(
    client: httpx.AsyncClient,
) -> None:
    token = await factories.token(Scope.CATALOG_WRITE)
    w = {"guid": factories.SHOP_A, "name": "Shop", "kind": "SHOP"}
    slack = {"slackChannel": "#shop-a", "slackOnDuty": "<!subteam^S0OPS>"}
    await graphql(client, WAREHOUSES, {"w": [{**w, **slack}]}, token)

    renamed = await graphql(client, WAREHOUSES, {"w": [{**w, "name": "Shop A"}]}, token)

    assert renamed["data"]["upsertWarehouses"] == {
        "result": {"created": 0, "updated": 1},
        "errors": [],
    }
    shop = await Warehouse.get(guid=factories.SHOP_A)
    assert (shop.name, shop.slack_channel, shop.slack_on_duty) == (
        "Shop A",
        "#shop-a",
        "<!subteam^S0OPS>",
    )
    await graphql(client, WAREHOUSES, {"w": [{**w, "slackOnDuty": None}]}, token)
    shop = await Warehouse.get(guid=factories.SHOP_A)
    assert (shop.slack_channel, shop.slack_on_duty) == ("#shop-a", None)
    await graphql(client, WAREHOUSES, {"w": [{**w, "slackChannel": None}]}, token)
    assert (await Warehouse.get(guid=factories.SHOP_A)).slack_channel is None


async def test_a_new_warehouse_without_slack_settings_has_none(client: httpx.AsyncClient) -> None:
    token = await factories.token(Scope.CATALOG_WRITE)
    w = {"guid": factories.SHOP_B, "name": "Shop B", "kind": "SHOP"}

    body = await graphql(client, WAREHOUSES, {"w": [w]}, token)

    assert body["data"]["upsertWarehouses"]["result"] == {"created": 1, "updated": 0}
    shop = await Warehouse.get(guid=factories.SHOP_B)
    assert (shop.slack_channel, shop.slack_on_duty) == (None, None)


async def test_catalog_upsert_applies_valid_products_and_names_bad_ones(
    client: httpx.AsyncClient,
) -> None:
    token = await factories.token(Scope.CATALOG_WRITE)
    good = {
        "guid": factories.guid("p/good"),
        "name": "Платье миди",
        "variants": [
            {
                "guid": factories.guid("v/good"),
                "sku": "G-1",
                "size": "M",
                "colour": "чёрный",
                "price": "4990.00",
                "oldPrice": "6990.00",
            }
        ],
    }
    bad_price = {
        "guid": factories.guid("p/bad"),
        "name": "Bad",
        "variants": [
            {
                "guid": factories.guid("v/bad"),
                "sku": "B-1",
                "size": "M",
                "colour": "x",
                "price": "49.999",
            }
        ],
    }
    bad_ref = {
        "guid": factories.guid("p/ref"),
        "name": "Ref",
        "collectionGuid": factories.guid("nope"),
        "variants": [],
    }
    body = await graphql(
        client, CATALOG, {"input": {"products": [good, bad_price, bad_ref]}}, token
    )
    payload = body["data"]["upsertCatalog"]
    assert payload["products"] == {"created": 1, "updated": 0}
    assert [(e["code"], e["path"]) for e in payload["errors"]] == [
        ("INVALID_PRICE", ["products", "1", "variants", "0", "price"]),
        ("UNKNOWN_COLLECTION", ["products", "2", "collectionGuid"]),
    ]
    assert [p.slug for p in await Product.all()] == ["plate-midi"]


async def test_ten_thousand_rows_are_accepted_in_one_call(client: httpx.AsyncClient) -> None:
    from app.models.catalog import Variant

    await factories.warehouses()
    await factories.product("Base", variants=[])
    product_id = (await Product.get()).id
    variants = [
        Variant(
            guid=factories.guid(f"bulk/{i}"),
            product_id=product_id,
            sku=f"B{i}",
            size="M",
            colour="c",
            price=100,
        )
        for i in range(2500)
    ]
    await Variant.bulk_create(variants, batch_size=500)  # set-up only; intake is under test
    rows = [
        _row(v.guid, i % 7, 1, w)
        for i, v in enumerate(variants)
        for w in (factories.ONLINE, factories.SHOP_A, factories.SHOP_B, factories.CLOSED)
    ]
    token = await factories.token(Scope.STOCK_WRITE)
    body = await graphql(client, APPLY, {"rows": rows}, token)
    assert len(rows) == 10_000
    assert body["data"]["applyStockSnapshots"]["applied"] == 10_000
    assert await StockLevel.all().count() == 10_000
