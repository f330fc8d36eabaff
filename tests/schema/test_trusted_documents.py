"""Trusted documents and HTTP caching through the real app: documentIds by GET and POST, the
APQ hash, the three modes, 405 for mutations over GET, and who may be cached."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.domain.access import Scope
from app.main import create_app
from app.models.checkout import Cart
from app.schema.documents import MANIFEST, Mode
from app.settings import Settings
from tests import factories
from tests.conftest import Clock

IDS = {entry["name"]: key for key, entry in json.loads(MANIFEST.read_text()).items()}
PUBLIC = "public, max-age=5, stale-while-revalidate=30"
PRIVATE = "private, no-store"
CREATE_CART = "mutation { createCart { cart { token } } }"
Client = Callable[[Mode | None], AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def app_in(db: str, tmp_path: Path, database_url: str, redis_url: str) -> Client:
    """A client of the real app in a TRUSTED_DOCUMENTS mode, otherwise as prod runs it."""

    @asynccontextmanager
    async def client(mode: Mode | None) -> AsyncIterator[httpx.AsyncClient]:
        settings = Settings(
            environment="prod",
            data_dir=tmp_path,
            database_url=database_url,
            trusted_documents=mode,  # None: the prod default
        )
        app = create_app(settings, redis_url=redis_url, manage_db=False, clock=Clock())
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://vitrina.test") as c:
                yield c

    return client


@pytest.fixture
async def strict(app_in: Client) -> AsyncIterator[httpx.AsyncClient]:
    async with app_in(None) as client:
        yield client


def catalog_get(**params: Any) -> dict[str, str]:
    variables = json.dumps(params or {"first": 2})
    return {"documentId": IDS["CatalogProducts"], "variables": variables}


def code(answer: httpx.Response) -> str:
    [error] = answer.json()["errors"]
    return str(error["extensions"]["code"])


# --- documentIds ------------------------------------------------------------------------------


async def test_an_anonymous_catalog_get_by_document_id_is_public_with_a_strong_etag(
    strict: httpx.AsyncClient,
) -> None:
    answer = await strict.get("/graphql", params=catalog_get())
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"]["products"]["totalCount"] == 0
    # shared with every client: no one client's budget in it
    assert answer.json()["extensions"]["cost"] == {"requested": 82, "limit": 10000}
    assert answer.headers["cache-control"] == PUBLIC
    assert answer.headers["vary"] == "Authorization"
    etag = answer.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"') and not etag.startswith("W/")
    again = await strict.get("/graphql", params=catalog_get())
    assert again.headers["etag"] == etag  # the same answer, the same tag


async def test_if_none_match_with_the_etag_answers_304_without_a_body(
    strict: httpx.AsyncClient,
) -> None:
    etag = (await strict.get("/graphql", params=catalog_get())).headers["etag"]
    answer = await strict.get("/graphql", params=catalog_get(), headers={"If-None-Match": etag})
    assert answer.status_code == 304
    assert answer.content == b""
    assert answer.headers["etag"] == etag
    assert answer.headers["cache-control"] == PUBLIC
    other = await strict.get("/graphql", params=catalog_get(), headers={"If-None-Match": '"x"'})
    assert other.status_code == 200 and other.json()["data"]["products"]["totalCount"] == 0


async def test_a_document_id_in_a_post_body_runs_and_is_private(
    strict: httpx.AsyncClient,
) -> None:
    body = {"documentId": IDS["CatalogProducts"], "variables": {"first": 1}}
    answer = await strict.post("/graphql", json=body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"]["products"]["edges"] == []
    assert answer.headers["cache-control"] == PRIVATE
    assert "etag" not in answer.headers


async def test_an_apollo_apq_hash_is_looked_up_as_a_document_id(
    strict: httpx.AsyncClient,
) -> None:
    digest = IDS["Shops"].removeprefix("sha256:")
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    posted = await strict.post("/graphql", json={"extensions": extensions})
    assert posted.status_code == 200, posted.text
    assert posted.json()["data"] == {"shops": []}
    got = await strict.get("/graphql", params={"extensions": json.dumps(extensions)})
    assert got.status_code == 200 and got.json()["data"] == {"shops": []}
    assert got.headers["cache-control"] == PUBLIC


@pytest.mark.parametrize("unknown", ["sha256:" + "0" * 64, "CatalogProducts", ""])
async def test_an_unknown_document_id_is_persisted_query_not_found_and_not_stored(
    strict: httpx.AsyncClient, unknown: str
) -> None:
    for answer in [
        await strict.get("/graphql", params={"documentId": unknown}),
        await strict.post("/graphql", json={"documentId": unknown}),
    ]:
        assert answer.status_code == 400
        assert code(answer) == "PERSISTED_QUERY_NOT_FOUND"
        assert answer.headers["cache-control"] == "no-store"


async def test_a_document_id_that_is_not_a_string_is_a_bad_request(
    strict: httpx.AsyncClient,
) -> None:
    answer = await strict.post("/graphql", json={"documentId": 7})
    assert answer.status_code == 400
    assert code(answer) == "BAD_REQUEST"
    assert answer.headers["cache-control"] == "no-store"


# --- modes ------------------------------------------------------------------------------------


async def test_strict_refuses_a_free_form_document_from_an_anonymous_client(
    strict: httpx.AsyncClient,
) -> None:
    for answer in [
        await strict.post("/graphql", json={"query": CREATE_CART}),
        await strict.post("/graphql", json={"query": "{ shops { id } }"}),
        await strict.get("/graphql", params={"query": "{ shops { id } }"}),
    ]:
        assert answer.status_code == 400
        assert code(answer) == "PERSISTED_QUERY_REQUIRED"
        assert answer.headers["cache-control"] == "no-store"
    assert await Cart.all().count() == 0


async def test_strict_refuses_a_free_form_document_with_a_bearer_that_is_no_integration_token(
    strict: httpx.AsyncClient,
) -> None:
    headers = {"Authorization": "Bearer vca_not-an-integration-token"}
    answer = await strict.post("/graphql", json={"query": CREATE_CART}, headers=headers)
    assert answer.status_code == 400
    assert code(answer) == "PERSISTED_QUERY_REQUIRED"
    assert await Cart.all().count() == 0


async def test_strict_admits_any_document_with_an_integration_token(
    strict: httpx.AsyncClient,
) -> None:
    headers = {"Authorization": f"Bearer {await factories.token(Scope.CATALOG_WRITE)}"}
    answer = await strict.post("/graphql", json={"query": "{ shops { id } }"}, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"] == {"shops": []}
    assert answer.headers["cache-control"] == PRIVATE


async def test_permissive_admits_free_form_documents_and_document_ids(app_in: Client) -> None:
    async with app_in("permissive") as client:
        free = await client.post("/graphql", json={"query": CREATE_CART})
        assert free.status_code == 200, free.text
        assert free.json()["data"]["createCart"]["cart"]["token"]
        by_id = await client.get("/graphql", params=catalog_get())
        assert by_id.status_code == 200 and by_id.headers["cache-control"] == PUBLIC
    assert await Cart.all().count() == 1


async def test_the_default_outside_prod_is_permissive(client: httpx.AsyncClient) -> None:
    answer = await client.post("/graphql", json={"query": "{ shops { id } }"})
    assert answer.status_code == 200 and answer.json()["data"] == {"shops": []}


async def test_off_runs_free_form_documents_only(app_in: Client) -> None:
    async with app_in("off") as client:
        free = await client.post("/graphql", json={"query": "{ shops { id } }"})
        assert free.status_code == 200 and free.json()["data"] == {"shops": []}
        by_id = await client.get("/graphql", params=catalog_get())
        assert by_id.status_code == 400
        assert code(by_id) == "PERSISTED_QUERY_NOT_FOUND"


# --- GET is for queries -----------------------------------------------------------------------


async def test_a_mutation_over_get_is_405_and_writes_nothing(app_in: Client) -> None:
    async with app_in("permissive") as client:
        for answer in [
            await client.get("/graphql", params={"documentId": IDS["CreateCart"]}),
            await client.get("/graphql", params={"query": CREATE_CART}),
        ]:
            assert answer.status_code == 405
            assert answer.headers["allow"] == "POST"
            assert answer.headers["cache-control"] == "no-store"
            assert code(answer) == "METHOD_NOT_ALLOWED"
    assert await Cart.all().count() == 0


async def test_a_mutation_by_document_id_over_post_runs(strict: httpx.AsyncClient) -> None:
    answer = await strict.post("/graphql", json={"documentId": IDS["CreateCart"]})
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"]["createCart"]["cart"]["token"]
    assert answer.headers["cache-control"] == PRIVATE
    assert await Cart.all().count() == 1


# --- what is never shared ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["CartView", "OrderStatusPage"])
async def test_cart_and_order_queries_are_private_even_over_get(
    strict: httpx.AsyncClient, name: str
) -> None:
    params = {"documentId": IDS[name], "variables": json.dumps({"token": "nobody's"})}
    answer = await strict.get("/graphql", params=params)
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == PRIVATE
    assert "etag" not in answer.headers


async def test_a_catalog_get_with_authorization_is_private(strict: httpx.AsyncClient) -> None:
    headers = {"Authorization": "Bearer vca_someone"}
    answer = await strict.get("/graphql", params=catalog_get(), headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == PRIVATE
    assert "etag" not in answer.headers


async def test_a_catalog_answer_with_errors_is_not_stored(strict: httpx.AsyncClient) -> None:
    answer = await strict.get("/graphql", params=catalog_get(first=1000))
    assert answer.json()["errors"]
    assert answer.headers["cache-control"] == "no-store"
    assert "etag" not in answer.headers
