"""Every string argument is checked before any resolver: too long, NUL, control characters and
lone surrogates are INVALID at their path, in the payload for mutations and as a GraphQL error
for queries, and nothing is written. Every test runs on SQLite and on PostgreSQL and asserts
the exact answer, so the two databases answer alike."""

from __future__ import annotations

import base64
import importlib
import json
from typing import Any

import httpx
import pytest
from graphql import GraphQLInputObjectType, GraphQLObjectType
from graphql import build_schema as parse_sdl
from tortoise.models import Model

from app.domain.access import Scope
from app.main import create_app
from app.models import MODEL_MODULES
from app.models.checkout import Cart
from app.models.customers import Address, Customer
from app.models.orders import Order
from app.models.stock import Reservation
from app.schema import contract_schema
from app.schema.validation import ITEMWISE, RULES, Stored
from app.settings import Settings
from tests import factories
from tests.conftest import Clock
from tests.schema.accounts.flows import flush_redis, sign_up

NUL_AT_4 = "a control character (U+0000) at position 4 is not allowed here"
PRODUCT = "query P($slug: String) { product(slug: $slug) { name } }"
PRODUCTS = """query L($after: String, $filter: ProductFilterInput) {
  products(after: $after, filter: $filter) { totalCount } }"""
ERRORS = "errors { code path message }"
CREATE = f"mutation {{ createCart {{ cart {{ token }} {ERRORS} }} }}"
CONTACT = f"""mutation C($cart: String!, $contact: ContactInput!) {{
  setCartContact(cartToken: $cart, contact: $contact) {{ cart {{ email }} {ERRORS} }} }}"""
DELIVERY = f"""mutation D($cart: String!, $delivery: DeliveryInput!) {{
  setCartDelivery(cartToken: $cart, delivery: $delivery) {{
    cart {{ delivery {{ address }} }} {ERRORS} }} }}"""
PLACE = f"""mutation O($cart: String!, $key: String!) {{
  placeOrder(cartToken: $cart, idempotencyKey: $key) {{ order {{ number }} {ERRORS} }} }}"""
ADD_ADDRESS = f"""mutation A($input: AddressInput!) {{
  addAddress(input: $input) {{ address {{ street comment }} {ERRORS} }} }}"""
MY_ORDER = "query M($number: String!) { me { email order(number: $number) { number } } }"
OUTBOX = "query E($after: String) { outboxEvents(after: $after) { nodes { id } } }"

# Mutations whose payload (another team's, new) has no `refused` yet: a refusal comes back as
# a top-level GraphQL error with the same code and field path instead.
WITHOUT_REFUSED_PAYLOAD = {"revoke_integration_token"}


async def graphql(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    token: str | None = None,
) -> dict[str, Any]:
    """POST one operation as ASCII JSON, so that a lone surrogate travels as any client may
    send it ("\\ud800"); return the decoded body."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    body = json.dumps({"query": query, "variables": variables or {}})
    response = await client.post("/graphql", content=body, headers=headers)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def _refusal(body: dict[str, Any]) -> tuple[str, list[str], list[str], str]:
    """A query refusal: (code, response path, field path in the arguments, message)."""
    [error] = body["errors"]
    extensions = error["extensions"]
    return extensions["code"], error["path"], extensions["field"], error["message"]


@pytest.mark.parametrize(
    ("slug", "message"),
    [
        ("dres\u0000", NUL_AT_4),
        ("dres\ud800", "a surrogate (U+D800) at position 4 is not allowed here"),
        ("dres\u009b", "a control character (U+009B) at position 4 is not allowed here"),
        ("d" * 10_001, "at most 10000 characters"),
    ],
)
async def test_a_bad_product_slug_is_invalid_at_its_field(
    client: httpx.AsyncClient, slug: str, message: str
) -> None:
    await factories.product("Dress")
    body = await graphql(client, PRODUCT, {"slug": slug})
    assert body["data"] == {"product": None}
    assert _refusal(body) == ("INVALID", ["product"], ["slug"], message)
    found = await graphql(client, PRODUCT, {"slug": "dress"})
    assert (found["data"], "errors" in found) == ({"product": {"name": "Dress"}}, False)


async def test_query_refusals_are_typed_not_masked_in_prod(
    db: str, redis_url: str, settings: Settings
) -> None:
    prod = settings.model_copy(update={"environment": "prod", "trusted_documents": "permissive"})
    app = create_app(prod, redis_url=redis_url, manage_db=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            body = await graphql(client, PRODUCT, {"slug": "dres\u0000"})
    assert _refusal(body) == ("INVALID", ["product"], ["slug"], NUL_AT_4)


async def test_strings_inside_input_lists_are_named_with_their_index(
    client: httpx.AsyncClient,
) -> None:
    body = await graphql(client, PRODUCTS, {"filter": {"sizes": ["M", "L\u0000"]}})
    assert body["data"] is None
    code, path, field, _ = _refusal(body)
    assert (code, path, field) == ("INVALID", ["products"], ["filter", "sizes", "1"])


def _cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    "cursor",
    [
        _cursor("[" * 140),  # nested garbage: deep, never closed
        _cursor("[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]"),
        _cursor('{"products": [1, 2]}'),
        _cursor('["products", 1e999, 1]'),
        _cursor('["products", 18446744073709551616, 1]'),
        _cursor('["products", true, false]'),
        "not base64 at all!",
        "A" * 201,
    ],
)
async def test_garbage_cursors_are_invalid_cursors(client: httpx.AsyncClient, cursor: str) -> None:
    body = await graphql(client, PRODUCTS, {"after": cursor})
    code, path, field, _ = _refusal(body)
    assert (code, path, field) == ("INVALID_CURSOR", ["products"], ["after"])


async def test_a_cursor_holding_a_nul_is_refused_as_text_before_it_is_decoded(
    client: httpx.AsyncClient,
) -> None:
    token = await factories.token(Scope.ADMIN)
    body = await graphql(client, OUTBOX, {"after": "abcd\u0000"}, token)
    assert _refusal(body) == ("INVALID", ["outboxEvents"], ["after"], NUL_AT_4)


async def _cart(client: httpx.AsyncClient) -> str:
    body = await graphql(client, CREATE)
    token: str = body["data"]["createCart"]["cart"]["token"]
    return token


async def test_a_nul_in_a_cart_contact_name_is_refused_in_the_payload_and_changes_nothing(
    client: httpx.AsyncClient,
) -> None:
    cart = await _cart(client)
    contact = {"email": "anna@example.com", "firstName": "Anna\u0000", "lastName": "К" * 101}
    body = await graphql(client, CONTACT, {"cart": cart, "contact": contact})
    assert body["data"] == {
        "setCartContact": {
            "cart": None,
            "errors": [
                {"code": "INVALID", "path": ["contact", "firstName"], "message": NUL_AT_4},
                {
                    "code": "INVALID",
                    "path": ["contact", "lastName"],
                    "message": "at most 100 characters",
                },
            ],
        }
    }
    stored = await Cart.get(token=cart)
    assert (stored.email, stored.first_name, stored.last_name) == (None, "", "")


async def test_a_delivery_address_may_span_lines_but_holds_no_nul(
    client: httpx.AsyncClient,
) -> None:
    cart = await _cart(client)
    address = "Москва, Тверская, 7\r\nподъезд 2,\tкод 123"
    courier = {"method": "COURIER", "address": address}
    body = await graphql(client, DELIVERY, {"cart": cart, "delivery": courier})
    assert body["data"]["setCartDelivery"] == {
        "cart": {"delivery": {"address": address}},
        "errors": [],
    }
    for bad, message in [
        ("Москва\u0000", "a control character (U+0000) at position 6 is not allowed here"),
        ("д" * 501, "at most 500 characters"),
    ]:
        body = await graphql(
            client, DELIVERY, {"cart": cart, "delivery": {"method": "COURIER", "address": bad}}
        )
        assert body["data"]["setCartDelivery"] == {
            "cart": None,
            "errors": [{"code": "INVALID", "path": ["delivery", "address"], "message": message}],
        }
    assert (await Cart.get(token=cart)).delivery_address == address


async def test_a_nul_in_a_saved_address_is_refused_and_nothing_is_saved(
    client: httpx.AsyncClient, redis_url: str
) -> None:
    await flush_redis(redis_url)
    token = (await sign_up(client, "anna@example.com"))["accessToken"]
    address = {"city": "Москва", "street": "Твер\u0000ская, 7", "comment": "звонить\nзаранее"}
    body = await graphql(client, ADD_ADDRESS, {"input": address}, token)
    assert body["data"]["addAddress"] == {
        "address": None,
        "errors": [{"code": "INVALID", "path": ["input", "street"], "message": NUL_AT_4}],
    }
    assert await Address.all().count() == 0
    good = await graphql(
        client, ADD_ADDRESS, {"input": {**address, "street": "Тверская, 7"}}, token
    )
    assert good["data"]["addAddress"]["address"] == {
        "street": "Тверская, 7",
        "comment": "звонить\nзаранее",
    }
    # A field deeper than the top level answers like a query: a GraphQL error at its path.
    nested = await graphql(client, MY_ORDER, {"number": "0001\u0000"}, token)
    assert nested["data"] == {"me": {"email": "anna@example.com", "order": None}}
    assert _refusal(nested) == ("INVALID", ["me", "order"], ["number"], NUL_AT_4)


async def test_a_sign_up_with_an_overlong_name_creates_no_customer(
    client: httpx.AsyncClient, redis_url: str
) -> None:
    await flush_redis(redis_url)
    register = f"mutation R($input: RegisterInput!) {{ register(input: $input) {{ ok {ERRORS} }} }}"
    data = {
        "email": "anna@example.com",
        "password": "correct horse battery",
        "firstName": "А" * 101,
    }
    body = await graphql(client, register, {"input": data})
    assert body["data"]["register"] == {
        "ok": False,
        "errors": [
            {"code": "INVALID", "path": ["input", "firstName"], "message": "at most 100 characters"}
        ],
    }
    assert await Customer.all().count() == 0


async def test_an_idempotency_key_with_a_nul_places_no_order(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    await factories.warehouses()
    await factories.product("Dress")
    variant = factories.guid("variant/Dress/M/black")
    await factories.stock(variant, factories.ONLINE, 5)
    cart = await factories.cart_with([(variant, 1)], now=clock.now)
    body = await graphql(client, PLACE, {"cart": cart, "key": "key-\u0000-0001"})
    assert body["data"]["placeOrder"] == {
        "order": None,
        "errors": [{"code": "INVALID", "path": ["idempotencyKey"], "message": NUL_AT_4}],
    }
    assert await Order.all().count() == 0
    assert await Reservation.all().count() == 0


def test_every_mutation_with_arguments_refuses_in_its_payload_or_per_item() -> None:
    mutation = contract_schema().get_type_by_name("Mutation")
    assert mutation is not None
    missing = set()
    for field in mutation.fields:  # type: ignore[union-attr]
        itemwise = all(field.metadata.get(k) == v for k, v in ITEMWISE.items())
        if field.arguments and not itemwise and not hasattr(field.type, "refused"):
            missing.add(field.python_name)
    assert missing <= WITHOUT_REFUSED_PAYLOAD


def test_each_rule_names_a_real_input_and_a_stored_one_matches_its_column() -> None:
    schema = parse_sdl(contract_schema().as_str())
    models = [
        member
        for module in map(importlib.import_module, MODEL_MODULES)
        for member in vars(module).values()
        if isinstance(member, type) and issubclass(member, Model) and member is not Model
    ]
    columns = {
        f"{model._meta.db_table}.{name}": getattr(f, "max_length", None)
        for model in models
        for name, f in model._meta.fields_map.items()
    }
    for coordinate, rule in RULES.items():
        type_name, _, rest = coordinate.partition(".")
        field_name, _, argument = rest.rstrip(":)").partition("(")
        kind = schema.get_type(type_name)
        assert isinstance(kind, GraphQLObjectType | GraphQLInputObjectType), coordinate
        field = kind.fields[field_name]
        assert not argument or argument in field.args, coordinate
        if isinstance(rule, Stored):
            assert columns[rule.column] == rule.max_length, coordinate
