"""The hostile-input corpus: what an attacker sent a prod instance, and what it must answer.

Each case is one HTTP request. `expect_status` is the HTTP status; `expect_code` the error code
the answer carries (GraphQL `extensions.code`, a payload's `errors[].code`, or none for a bare
4xx); `expect_path` the field path where the case is about one. Unless `writes` says which
table may change, the case must leave every table as it was.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

Auth = Literal["anonymous", "integration"]

PRODUCT_TREE = """
  edges { node { id slug name description priceFrom { amount currency }
    category { slug parent { slug } } collection { slug name releaseAt }
    images { url alt } variants { id sku size colour price { amount currency } available
      availability { quantity warehouse { id name kind } } } } }
"""


@dataclass(frozen=True, kw_only=True)
class Case:
    name: str
    path: str = "/graphql"
    auth: Auth = "anonymous"
    json_body: Any = None  # sent as JSON
    raw_body: bytes | None = None  # sent as is, Content-Type application/json
    expect_status: int
    expect_code: str | None = None
    expect_path: list[str | int] | None = None
    writes: frozenset[str] = field(default_factory=frozenset)  # tables the case may change

    def content(self) -> bytes:
        if self.raw_body is not None:
            return self.raw_body
        return json.dumps(self.json_body).encode()


def _gql(query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"query": query, "variables": variables or {}}


def _deep(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


PRODUCT_BY_SLUG = "query P($slug: String!) { product(slug: $slug) { id name } }"
UPSERT_WAREHOUSES = """mutation W($w: [WarehouseInput!]!) {
  upsertWarehouses(warehouses: $w) { result { created updated } errors { code path message } }
}"""
UPSERT_CATALOG = """mutation C($input: CatalogInput!) {
  upsertCatalog(input: $input) {
    categories { created updated } products { created updated }
    errors { code path message }
  }
}"""
UPDATE_PRICES = """mutation U($prices: [PriceInput!]!) {
  updatePrices(prices: $prices) { updated errors { code path message } }
}"""
GUID = "6f1c0a52-3f7d-4e55-9a4e-6d1e3c1b2a10"
GOOD, BAD = "7a2d0b63-4e8e-4f66-8b5f-7e2f4d2c3b21", "8b3e1c74-5f9f-4a77-9c60-8f3a5e3d4c32"
CATEGORY = {"guid": GUID, "name": "Dresses"}


def _product(guid: str, name: str, image_url: str = "https://cdn.example.com/a.jpg") -> Any:
    variant = guid[:-2] + "ff"
    return {
        "guid": guid,
        "name": name,
        "categoryGuid": GUID,
        "variants": [
            {
                "guid": variant,
                "sku": f"SKU-{guid[:4]}",
                "price": "1990.00",
                "size": "S",
                "colour": "red",
            }
        ],
        "images": [{"url": image_url}],
    }


def _catalog(*products: Any) -> dict[str, Any]:
    return _gql(UPSERT_CATALOG, {"input": {"categories": [CATEGORY], "products": list(products)}})


CREATE_CART = "mutation { createCart { cart { token } errors { code path } } }"
NOTIFICATION = {
    "type": "notification",
    "event": "payment.succeeded",
    "object": {"id": ".", "status": "succeeded"},
}


CASES: list[Case] = [
    # 6. bodies that are not a GraphQL request object
    Case(name="body is null", raw_body=b"null", expect_status=400, expect_code="BAD_REQUEST"),
    Case(name="body is a number", raw_body=b"1", expect_status=400, expect_code="BAD_REQUEST"),
    Case(name="body is a string", raw_body=b'"x"', expect_status=400, expect_code="BAD_REQUEST"),
    Case(
        name="body is an array nested 1000 deep",
        raw_body=_deep(1000),
        expect_status=400,
        expect_code="BAD_REQUEST",
    ),
    Case(name="body is not JSON", raw_body=b"{", expect_status=400, expect_code="BAD_REQUEST"),
    # 1. sizes
    Case(
        name="a 1 MB GraphQL body",
        json_body={**_gql("{ collections { name } }"), "pad": "x" * 1_000_000},
        expect_status=413,
        expect_code="REQUEST_TOO_LARGE",
    ),
    Case(
        name="a 1 MB payment notification",
        path="/integrations/payments/yookassa",
        json_body={"type": "notification", "pad": "x" * 1_000_000},
        expect_status=413,
    ),
    # 2. cost
    Case(
        name="30 aliases of products(first: 100) with the whole tree",
        json_body=_gql(
            "{ "
            + " ".join(f"a{i}: products(first: 100) {{ {PRODUCT_TREE} }}" for i in range(30))
            + " }"
        ),
        expect_status=200,
        expect_code="QUERY_TOO_COSTLY",
    ),
    # 7. what prod must not say
    Case(
        name="several operations and no operationName",
        json_body=_gql("query A { collections { name } } query B { categories { name } }"),
        expect_status=200,
        expect_code="BAD_REQUEST",
    ),
    # 3. strings and numbers
    Case(
        name="a NUL byte in a slug",
        json_body=_gql(PRODUCT_BY_SLUG, {"slug": "dress\u0000"}),
        expect_status=200,
        expect_code="INVALID",
        expect_path=["slug"],
    ),
    Case(
        name="a 100 KB slug",
        json_body=_gql(PRODUCT_BY_SLUG, {"slug": "s" * 100_000}),
        expect_status=200,
        expect_code="INVALID",
        expect_path=["slug"],
    ),
    Case(
        name="a cursor that is nested garbage",
        json_body=_gql(
            "query L($after: String) { products(first: 2, after: $after) { totalCount } }",
            {"after": "W1tbW1tbW1tbW1tbW10="},
        ),
        expect_status=200,
        expect_code="INVALID_CURSOR",
        expect_path=["after"],
    ),
    # 4. and 12. what 1C sends
    Case(
        name="a warehouse name of 300 characters",
        auth="integration",
        json_body=_gql(
            UPSERT_WAREHOUSES,
            {"w": [{"guid": GUID, "name": "W" * 300, "kind": "ONLINE"}]},
        ),
        expect_status=200,
        expect_code="INVALID",
        expect_path=["warehouses", 0, "name"],
    ),
    Case(
        name="a price beyond 64 bits",
        auth="integration",
        json_body=_gql(UPDATE_PRICES, {"prices": [{"variantGuid": GUID, "price": "9" * 30}]}),
        expect_status=200,
        expect_code="INVALID_PRICE",
        expect_path=["prices", 0, "price"],
    ),
    Case(
        name="a product named with a NUL beside good items",
        auth="integration",
        json_body=_catalog(_product(GOOD, "Silk dress"), _product(BAD, "bad\u0000")),
        expect_status=200,
        expect_code="INVALID",
        expect_path=["products", 1, "name"],
        writes=frozenset({"category", "product", "variant", "product_image"}),
    ),
    Case(
        name="an image URL that is javascript:",
        auth="integration",
        json_body=_catalog(_product(BAD, "Dress", image_url="javascript:alert(1)")),
        expect_status=200,
        expect_code="INVALID",
        expect_path=["products", 0, "images", 0, "url"],
        writes=frozenset({"category"}),
    ),
    # 5. a notification whose object id would walk YooKassa's API
    Case(
        name="a payment notification for the object '.'",
        path="/integrations/payments/yookassa",
        json_body=NOTIFICATION,
        expect_status=400,
    ),
    Case(
        name="a payment notification for the object '..'",
        path="/integrations/payments/yookassa",
        json_body={**NOTIFICATION, "object": {"id": "..", "status": "succeeded"}},
        expect_status=400,
    ),
]
