"""Query cost: what a document costs before it runs, the maximum per request (larger with an
integration token) and the budget per second of an anonymous client address."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    GraphQLSchema,
    OperationDefinitionNode,
    Undefined,
    get_nullable_type,
    is_list_type,
    parse,
    type_from_ast,
)
from redis.asyncio import Redis
from starlette.applications import Starlette

from app.domain.access import Scope
from app.main import create_app
from app.schema import contract_schema
from app.schema.cost import (
    LIST_ESTIMATES,
    MUTATION_FIELD_COST,
    query_cost,
)
from app.settings import Settings
from tests import factories
from tests.conftest import Clock, QueryCounter, graphql_whole
from tests.contract.documents import OPERATIONS, document
from tests.schema.accounts.flows import flush_redis

SCHEMA: GraphQLSchema = contract_schema()._schema
BUDGET = 20000  # the default outside tests
LIMIT: int = Settings.model_fields["max_query_cost"].default
INTEGRATION_LIMIT: int = Settings.model_fields["max_query_cost_integration"].default
HEADROOM = 4  # every contract operation costs at most a quarter of its limit


def cost(text: str, variables: dict[str, Any] | None = None, name: str | None = None) -> int:
    return query_cost(SCHEMA, parse(text), variables, name)


# The whole product tree (what the attacker of issue 16 asked for, 30 times over).
PRODUCT_TREE = """id slug name description priceFrom { amount currency } available
  category { id slug name parent { id slug name } }
  collection { id slug name releaseAt isReleased }
  images { url alt }
  variants { id sku size colour price { amount currency } oldPrice { amount currency } available
             availability { warehouse { id name kind address } quantity } }"""
ONE_FULL_PAGE = (
    "products(first: 100) { totalCount pageInfo { hasNextPage endCursor } "
    f"edges {{ cursor node {{ {PRODUCT_TREE} }} }} }}"
)
ATTACK = "query Attack { " + " ".join(f"a{n}: {ONE_FULL_PAGE}" for n in range(30)) + " }"
FULL_PAGE = f"query FullPage {{ {ONE_FULL_PAGE} }}"
# Costly by the estimates but next to free on an empty catalog: for the budget.
COSTLY = (
    "query Costly { products(first: 40) { edges { node { "
    "variants { availability { warehouse { id } } } } } } }"
)


# --- the cost model, on the real schema ------------------------------------------------------


def test_scalars_cost_nothing_and_each_object_one() -> None:
    assert cost('{ product(slug: "a") { name available } }') == 1
    assert cost('{ product(slug: "a") { name category { name parent { name } } } }') == 3


def test_a_connection_multiplies_its_items_by_first() -> None:
    query = "{ products(first: 5) { totalCount pageInfo { hasNextPage } edges { node { name } } } }"
    # the connection, its pageInfo, and 5 × (edge + node)
    assert cost(query) == 1 + 1 + 5 * 2


def test_a_connection_without_first_is_priced_at_its_default_page() -> None:
    assert cost("{ products { edges { cursor } } }") == 1 + 24
    assert cost("{ me { orders { nodes { id } } } }") == 1 + 1 + 20
    assert cost("{ outboxEvents { nodes { id } } }") == 1 + 50


def test_a_list_without_paging_is_priced_at_its_estimate() -> None:
    variants = LIST_ESTIMATES["Product.variants"]
    availability = LIST_ESTIMATES["Variant.availability"]
    assert cost('{ product(slug: "a") { variants { sku } } }') == 1 + variants
    query = '{ product(slug: "a") { variants { availability { warehouse { id } } } } }'
    assert cost(query) == 1 + variants * (1 + availability * 2)


def test_every_estimate_names_a_list_field_of_the_schema() -> None:
    for coordinate in LIST_ESTIMATES:
        type_name, field_name = coordinate.split(".")
        field = SCHEMA.get_type(type_name).fields[field_name]  # type: ignore[union-attr]
        assert is_list_type(get_nullable_type(field.type)), coordinate


def test_variables_are_read_and_their_defaults_apply() -> None:
    query = "query P($n: Int!) { products(first: $n) { edges { cursor } } }"
    assert cost(query, {"n": 7}) == 1 + 7
    assert cost(query, {"n": 100}) == 1 + 100
    with_default = "query P($n: Int = 3) { products(first: $n) { edges { cursor } } }"
    assert cost(with_default) == 1 + 3
    assert cost(with_default, {"n": 9}) == 1 + 9


def test_every_alias_is_counted() -> None:
    one = cost('{ product(slug: "a") { name category { name } } }')
    aliased = '{ a: product(slug: "a") { name category { name } } b: product(slug: "b") { name category { name } } }'  # noqa: E501
    assert cost(aliased) == 2 * one


def test_named_and_inline_fragments_are_counted_where_spread() -> None:
    query = """
    { a: product(slug: "a") { ...Parts } b: product(slug: "b") { ...Parts } }
    fragment Parts on Product { category { name } ... on Product { collection { name } } }
    """
    assert cost(query) == 2 * (1 + 1 + 1)


def test_a_mutation_field_costs_ten() -> None:
    assert cost("mutation { createCart { cart { token } errors { code } } }") == (
        MUTATION_FIELD_COST + 1 + 1
    )


def test_introspection_costs_nothing() -> None:
    assert cost("{ __typename __schema { types { name fields { name } } } }") == 0


def test_the_named_operation_is_the_one_priced() -> None:
    text = "query Small { shops { id } } query Big { products(first: 100) { edges { cursor } } }"
    assert cost(text, name="Small") == LIST_ESTIMATES["Query.shops"]
    assert cost(text, name="Big") == 1 + 100


def test_the_attack_costs_far_more_than_the_largest_storefront_page() -> None:
    largest_catalog_page = cost(document("CatalogProducts"), {"first": 100})
    assert largest_catalog_page * 2 < LIMIT < cost(FULL_PAGE) < INTEGRATION_LIMIT
    assert cost(ATTACK) == 30 * cost(FULL_PAGE) > 10 * INTEGRATION_LIMIT


def test_the_budget_is_on_by_default_and_off_in_tests(tmp_path: Path) -> None:
    assert Settings(data_dir=tmp_path, environment="prod").resolved_query_budget_per_second == (
        BUDGET
    )
    assert Settings(data_dir=tmp_path, environment="test").resolved_query_budget_per_second == 0
    assert BUDGET >= LIMIT  # a request within the maximum always fits an empty bucket


# --- through the app -------------------------------------------------------------------------


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """The conftest settings with the budget on, as outside tests."""
    return Settings(
        environment="test",
        data_dir=tmp_path,
        database_url=database_url,
        password_time_cost=1,
        password_memory_kib=64,
        query_budget_per_second=BUDGET,
    )


@pytest.fixture(autouse=True)
async def _empty_buckets(redis_url: str) -> None:
    """Budgets spent by an earlier test (same address, another instant) must not leak."""
    await flush_redis(redis_url)
    redis = Redis.from_url(redis_url)
    keys = [key async for key in redis.scan_iter(match="vitrina:query-cost:*", count=1000)]
    if keys:
        await redis.delete(*keys)
    await redis.aclose()


def error_codes(body: dict[str, Any]) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in body.get("errors", [])]


async def test_the_attack_is_refused_with_its_cost_and_nothing_runs(
    client: httpx.AsyncClient, sql_counter: QueryCounter
) -> None:
    body = await graphql_whole(client, ATTACK)
    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"] == {"code": "QUERY_TOO_COSTLY", "cost": cost(ATTACK), "limit": LIMIT}
    assert body["extensions"]["cost"] == {"requested": cost(ATTACK), "limit": LIMIT}
    assert sql_counter.statements == []


def fake_value(type_: GraphQLInputType) -> Any:
    """A value of the right shape, so the operation runs (and its resolver refuses it)."""
    if isinstance(type_, GraphQLNonNull):
        return fake_value(type_.of_type)
    if isinstance(type_, GraphQLList):
        return []
    if isinstance(type_, GraphQLEnumType):
        return next(iter(type_.values))
    if isinstance(type_, GraphQLInputObjectType):
        return {
            name: fake_value(field.type)
            for name, field in type_.fields.items()
            if isinstance(field.type, GraphQLNonNull) and field.default_value is Undefined
        }
    assert isinstance(type_, GraphQLScalarType)
    return {"Int": 1, "Boolean": False, "DateTime": "2026-01-01T00:00:00+00:00"}.get(
        type_.name, "x"
    )


def fake_variables(text: str) -> dict[str, Any]:
    [operation] = [d for d in parse(text).definitions if isinstance(d, OperationDefinitionNode)]
    variables = {}
    for definition in operation.variable_definitions or ():
        type_ = type_from_ast(SCHEMA, definition.type)
        if isinstance(type_, GraphQLNonNull) and definition.default_value is None:
            variables[definition.variable.name.value] = fake_value(type_)
    return variables


def for_integrations(name: str) -> bool:
    return name.startswith(("Admin", "OneC"))


@pytest.mark.parametrize("name", sorted(p.stem for p in OPERATIONS.glob("*.graphql")))
async def test_every_contract_operation_runs_and_reports_its_cost(
    client: httpx.AsyncClient, name: str
) -> None:
    text = document(name)
    token = await factories.token(Scope.ADMIN) if for_integrations(name) else None
    body = await graphql_whole(client, text, fake_variables(text), token)
    # it ran: any error is a resolver's (it has a path), none is the cost limiter's
    assert all("path" in e for e in body.get("errors", [])), body
    requested = cost(text)
    if token:
        expected = {"requested": requested, "limit": INTEGRATION_LIMIT}
    else:
        expected = {"requested": requested, "limit": LIMIT, "remaining": BUDGET - requested}
    assert body["extensions"]["cost"] == expected
    assert requested * HEADROOM <= expected["limit"]


def from_address(app: Starlette, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://vitrina.test")


@pytest.fixture
async def app(
    db: str, settings: Settings, redis_url: str, clock: Clock
) -> AsyncIterator[Starlette]:
    app = create_app(settings, redis_url=redis_url, manage_db=False, clock=clock)
    async with app.router.lifespan_context(app):
        yield app


async def test_a_client_over_its_budget_waits_for_the_refill(
    app: Starlette, clock: Clock, sql_counter: QueryCounter
) -> None:
    price = cost(COSTLY)
    admitted = BUDGET // price
    assert admitted >= 2
    async with from_address(app, "203.0.113.7") as shopper, from_address(app, "10.1.1.1") as other:
        for n in range(1, admitted + 1):
            body = await graphql_whole(shopper, COSTLY)
            assert "errors" not in body, body
            assert body["extensions"]["cost"]["remaining"] == BUDGET - n * price
        left = BUDGET - admitted * price

        sql_counter.statements.clear()
        refused = await graphql_whole(shopper, COSTLY)
        wait = math.ceil((price - left) / BUDGET)
        assert refused["data"] is None
        assert [e["extensions"] for e in refused["errors"]] == [
            {"code": "RATE_LIMITED", "retryAfter": wait}
        ]
        assert refused["extensions"]["cost"] == {
            "requested": price,
            "limit": LIMIT,
            "remaining": left,
        }
        assert sql_counter.statements == []

        # another address has its own budget
        assert "errors" not in await graphql_whole(other, COSTLY)

        clock.advance(seconds=wait)
        again = await graphql_whole(shopper, COSTLY)
        assert "errors" not in again, again
        assert again["extensions"]["cost"]["remaining"] == BUDGET - price


async def test_an_integration_token_gets_the_larger_maximum_and_no_budget(
    client: httpx.AsyncClient,
) -> None:
    token = await factories.token(Scope.CATALOG_WRITE)
    page = cost(FULL_PAGE)

    anonymous = await graphql_whole(client, FULL_PAGE)
    assert error_codes(anonymous) == ["QUERY_TOO_COSTLY"]
    assert anonymous["extensions"]["cost"] == {"requested": page, "limit": LIMIT}

    for _ in range(BUDGET // page + 2):  # more than an anonymous budget holds, at one instant
        body = await graphql_whole(client, FULL_PAGE, token=token)
        assert "errors" not in body, body
        assert body["extensions"]["cost"] == {"requested": page, "limit": INTEGRATION_LIMIT}

    attack = await graphql_whole(client, ATTACK, token=token)
    assert attack["errors"][0]["extensions"] == {
        "code": "QUERY_TOO_COSTLY",
        "cost": cost(ATTACK),
        "limit": INTEGRATION_LIMIT,
    }


async def test_an_unknown_token_is_priced_as_anonymous(client: httpx.AsyncClient) -> None:
    body = await graphql_whole(client, FULL_PAGE, token="vit_not-a-token")
    assert error_codes(body) == ["QUERY_TOO_COSTLY"]
    assert body["extensions"]["cost"] == {"requested": cost(FULL_PAGE), "limit": LIMIT}
