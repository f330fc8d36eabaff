"""The planned executor (app/schema/plans.py) answers every storefront query byte for byte as
graphql-core does, errors included, on the demo brand."""

from __future__ import annotations

import asyncio
import contextvars
import json
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace
from typing import Any

import httpx
import pytest
from graphql import OperationType

from app.devtools.demo_data import load_demo_data
from app.domain.access import Scope
from app.main import create_app
from app.schema import loaders, plans
from app.schema.catalog import types
from app.schema.documents import MANIFEST, load_documents
from app.settings import Settings
from tests import factories
from tests.conftest import Clock, QueryCounter

Unplanned = Callable[[], AbstractContextManager[None]]
# documents with a field that logs, spends or ticks (app/schema/effects.py): never planned
SIDE_EFFECTS = {"QueueStatus"}
IDS = {entry["name"]: key for key, entry in json.loads(MANIFEST.read_text()).items()}


@dataclass
class Shop:
    client: httpx.AsyncClient
    admin: str  # an integration token with every scope
    runs: list[str]  # "plan" for each operation the plan answered

    async def ask(self, name: str, variables: dict[str, Any], token: str | None = None) -> bytes:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        body = {"documentId": IDS[name], "variables": variables}
        response = await self.client.post("/graphql", json=body, headers=headers)
        return f"{response.status_code} ".encode() + response.content


@pytest.fixture
async def shop(
    db: str, settings: Settings, redis_url: str, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Shop]:
    assert await load_demo_data(now=clock.now)
    runs: list[str] = []
    run = plans.PlannedExecutor._run

    async def counted(self: plans.PlannedExecutor, plan: plans.Plan, serially: bool | None) -> Any:
        runs.append("plan")
        return await run(self, plan, serially)

    monkeypatch.setattr(plans.PlannedExecutor, "_run", counted)
    settings = settings.model_copy(update={"response_cache": False})
    app = create_app(settings, redis_url=redis_url, manage_db=False, clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://vitrina.test") as c:
            yield Shop(c, await factories.token(*Scope), runs)


@contextmanager
def _unplanned(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with monkeypatch.context() as patch:
        patch.setattr(plans.PlannedExecutor, "_plan", lambda self: None)
        yield


@pytest.fixture
def unplanned(monkeypatch: pytest.MonkeyPatch) -> Unplanned:
    """A context in which graphql-core runs every document (the plan is never made)."""
    return lambda: _unplanned(monkeypatch)


async def both(
    shop: Shop,
    unplanned: Unplanned,
    name: str,
    variables: dict[str, Any],
    token: str | None = None,
) -> bytes:
    """The answer with the plan, after checking it is graphql-core's to the byte."""
    with unplanned():
        expected = await shop.ask(name, variables, token)
    before = len(shop.runs)
    planned = await shop.ask(name, variables, token)
    assert planned == expected, name
    ran = 0 if name in SIDE_EFFECTS else 1
    assert len(shop.runs) == before + ran, f"{name}: {len(shop.runs) - before} plan runs"
    return planned


def data(answer: bytes) -> Any:
    return json.loads(answer.split(b" ", 1)[1])


async def test_every_storefront_query_answers_as_graphql_core_does(
    shop: Shop, unplanned: Unplanned, clock: Clock
) -> None:
    # given the demo brand, a first catalog page and a cart
    page = data(await both(shop, unplanned, "CatalogProducts", {}))["data"]["products"]
    assert len(page["edges"]) == 24 and page["pageInfo"]["hasNextPage"]
    first = page["edges"][0]["node"]
    cart = await factories.cart_with([(first["variants"][0]["id"], 1)], now=clock.now)
    # when every query of the manifest is asked with and without the plan
    cases: list[tuple[str, dict[str, Any]]] = [
        ("CatalogProducts", {"after": page["pageInfo"]["endCursor"]}),
        ("CatalogProducts", {"first": 5, "sort": "PRICE_ASC"}),
        ("CatalogProducts", {"filter": {"inStockOnly": True, "sizes": ["M"]}, "first": 100}),
        ("ProductPage", {"slug": first["slug"]}),
        ("ProductPage", {"slug": page["edges"][-1]["node"]["slug"]}),
        ("ProductPage", {"slug": "no-such-product"}),
        ("Categories", {}),
        ("Collections", {}),
        ("Collections", {"includeUpcoming": True}),
        ("Shops", {}),
        ("Looks", {}),
        ("Look", {"id": "no-such-look"}),
        ("CartView", {"token": cart}),
        ("OrderStatusPage", {"token": "no-such-order"}),
        ("Me", {}),
        ("MyOrders", {}),
        ("MyOrder", {"number": "1"}),
        ("MyPurchases", {}),
        ("MyConsents", {}),
        ("QueueStatus", {"token": "no-such-place"}),
    ]
    for name, variables in cases:
        await both(shop, unplanned, name, variables)
    admin = [
        ("AdminOutboxCounts", {}),
        ("AdminOutboxEvents", {}),
        ("AdminIntegrationTokens", {}),
        ("AdminShopRequests", {}),
        ("AdminShopConfirmationStats", {"since": factories.iso(clock.now)}),
        ("AdminOrderPayments", {"number": "1"}),
        ("AdminWaitingRoom", {"collectionId": "no-such-collection"}),
    ]
    for name, variables in admin:
        await both(shop, unplanned, name, variables, shop.admin)
    # then (checked in `both`) every answer is the same, and each came from a plan unless it
    # has side effects
    queries = {d.name for d in load_documents(MANIFEST).values() if d.kind is OperationType.QUERY}
    assert {name for name, _ in cases + admin} == queries


async def test_a_refusal_in_a_resolver_is_graphql_core_s_error(
    shop: Shop, unplanned: Unplanned
) -> None:
    # when a page larger than allowed is asked for
    answer = await both(shop, unplanned, "CatalogProducts", {"first": 101})
    # then graphql-core's typed error is the answer (the plan gave up, nothing else was shown)
    body = data(answer)
    assert body["data"] is None
    assert body["errors"][0]["extensions"] == {"code": "INVALID", "field": ["first"]}


async def test_a_null_in_a_non_null_field_propagates_as_in_graphql_core(
    shop: Shop, unplanned: Unplanned, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given variants whose SKU comes out null (a non-null field)
    made = types.Variant.of

    def without_sku(row: Any) -> types.Variant:
        return replace(made(row), sku=None)  # type: ignore[arg-type]

    monkeypatch.setattr(types.Variant, "of", without_sku)
    # when the catalog is asked for
    body = data(await both(shop, unplanned, "CatalogProducts", {"first": 2}))
    # then the error and the nulls are graphql-core's
    assert body["data"] is None
    assert body["errors"][0]["message"] == "Cannot return null for non-nullable field Variant.sku."


async def test_a_resolver_that_fails_gives_graphql_core_s_partial_answer(
    shop: Shop, unplanned: Unplanned, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given categories whose parents cannot be read
    async def broken(ids: list[int]) -> list[None]:
        raise RuntimeError("categories are unreadable")

    monkeypatch.setattr(loaders, "_categories", broken)
    # when the menu is asked for
    body = data(await both(shop, unplanned, "Categories", {}))
    # then graphql-core's answer (checked in `both`, its order of errors included): an error
    # and a null at each subcategory's parent, every category shown
    categories = body["data"]["categories"]
    errors = body["errors"]
    assert {e["message"] for e in errors} == {"categories are unreadable"}
    assert {tuple(e["path"][::2]) for e in errors} == {("categories", "parent")}
    assert all(categories[e["path"][1]]["parent"] is None for e in errors)
    assert 0 < len(errors) < len(categories)


async def test_a_planned_page_costs_the_queries_graphql_core_s_costs(
    shop: Shop, unplanned: Unplanned, sql_counter: QueryCounter
) -> None:
    async def statements() -> list[str]:
        sql_counter.statements.clear()
        body = data(await shop.ask("CatalogProducts", {"first": 24}))
        assert len(body["data"]["products"]["edges"]) == 24
        # the ORM's own (the stock stream's raw reads of the setup's writes may land here too)
        return [s for s in sql_counter.statements if s.startswith('SELECT "')]

    # when a 24-product page runs under graphql-core and then from its plan
    with unplanned():
        expected = await statements()
    planned = await statements()
    # then the DataLoaders batched each relation across the page just as well
    assert len(planned) == len(expected)
    # products, count, variants, images, collections, warehouses, stock levels, expired holds
    assert len(planned) <= 8, planned
    assert shop.runs == ["plan"]


async def test_a_resolver_that_waits_is_driven_to_its_end_in_its_own_context() -> None:
    # given a resolver that sets a context variable and waits for a loader's future
    seen: contextvars.ContextVar[str] = contextvars.ContextVar("seen", default="outside")
    loop = asyncio.get_running_loop()
    figure: asyncio.Future[int] = loop.create_future()

    async def resolver() -> tuple[int, str]:
        seen.set("inside")
        value = await figure
        return value, seen.get()

    coroutine = resolver()
    context = contextvars.copy_context()
    waited = plans._waited(coroutine, context.run(coroutine.send, None))
    # when the future gets its value
    task = asyncio.ensure_future(plans._go_on(coroutine, waited, context))
    loop.call_soon(figure.set_result, 7)
    # then the resolver ends with it, its context change kept to itself
    assert await task == (7, "inside")
    assert seen.get() == "outside"


async def test_a_cancelled_request_cancels_the_resolvers_it_waits_for() -> None:
    # given a resolver waiting for a loader's future, driven by the plan
    loop = asyncio.get_running_loop()
    figure: asyncio.Future[int] = loop.create_future()
    cleaned: list[str] = []

    async def resolver() -> int:
        try:
            return await figure
        finally:
            cleaned.append("finally")

    coroutine = resolver()
    context = contextvars.copy_context()
    waited = plans._waited(coroutine, context.run(coroutine.send, None))
    task = asyncio.ensure_future(plans._go_on(coroutine, waited, context))
    await asyncio.sleep(0)
    # when the request's task is cancelled
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # then the resolver saw it and cleaned up, as under its own task
    assert cleaned == ["finally"]
    assert figure.cancelled()
