"""Health endpoints, request ids and the GraphQL guard rails."""

from __future__ import annotations

import httpx
import pytest

from app.main import create_app
from app.redis_setup import free_port
from app.settings import Settings
from tests.conftest import graphql


async def test_live_and_ready(client: httpx.AsyncClient) -> None:
    live = await client.get("/health/live")
    ready = await client.get("/health/ready")
    assert (live.status_code, live.json()) == (200, {"status": "ok"})
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}


async def test_ready_says_which_dependency_is_down(db: str, settings: Settings) -> None:
    app = create_app(settings, redis_url=f"redis://127.0.0.1:{free_port()}/0", manage_db=False)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as client:
            ready = await client.get("/health/ready")
    assert ready.status_code == 503
    assert ready.json()["checks"] == {"database": "ok", "redis": "unavailable"}


async def test_a_request_id_is_echoed_or_made(client: httpx.AsyncClient) -> None:
    given = await client.get("/health/live", headers={"X-Request-ID": "abc-123"})
    made = await client.get("/health/live", headers={"X-Request-ID": "bad id\n"})
    assert given.headers["x-request-id"] == "abc-123"
    assert len(made.headers["x-request-id"]) == 32


async def test_deep_queries_are_refused(client: httpx.AsyncClient) -> None:
    deep = "query { categories { parent " + "{ parent " * 10 + "{ slug }" + " }" * 10 + " } }"
    body = await graphql(client, deep)
    assert "exceeds maximum operation depth" in body["errors"][0]["message"]


async def test_too_many_aliases_are_refused(client: httpx.AsyncClient) -> None:
    aliases = " ".join(f"a{i}: shops {{ id }}" for i in range(40))
    body = await graphql(client, "query { " + aliases + " }")
    assert "aliases" in body["errors"][0]["message"]


async def test_introspection_and_graphiql_are_off_in_prod(
    db: str, redis_url: str, settings: Settings
) -> None:
    prod = settings.model_copy(update={"environment": "prod", "trusted_documents": "permissive"})
    app = create_app(prod, redis_url=redis_url, manage_db=False)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as client:
            body = await graphql(client, "query { __schema { types { name } } }")
            ide = await client.get("/graphql", headers={"Accept": "text/html"})
    assert "introspection" in body["errors"][0]["message"].lower()
    assert (ide.status_code, ide.text) == (404, "Not Found")


async def test_too_many_tokens_are_refused(client: httpx.AsyncClient) -> None:
    fields = " ".join("id" for _ in range(6000))
    body = await graphql(client, "query { shops { " + fields + " } }")
    assert "token" in body["errors"][0]["message"].lower()


async def test_unexpected_errors_are_masked_in_prod_but_typed_ones_are_not(
    db: str, redis_url: str, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.services.catalog import queries as catalog_queries

    async def crash() -> None:
        raise RuntimeError("secret connection string")

    monkeypatch.setattr(catalog_queries, "list_categories", crash)
    prod = settings.model_copy(update={"environment": "prod", "trusted_documents": "permissive"})
    app = create_app(prod, redis_url=redis_url, manage_db=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            crashed = await graphql(client, "query { categories { slug } }")
            typed = await graphql(client, 'query { products(after: "x") { totalCount } }')
    assert crashed["errors"][0]["message"] == "Unexpected error."
    assert typed["errors"][0]["extensions"]["code"] == "INVALID_CURSOR"
