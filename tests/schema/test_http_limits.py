"""Hostile HTTP: bodies over their cap, bodies that are not one operation, a schema that must not
be spelled out to strangers, and documents that do not say which operation to run."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.domain.access import Scope
from app.main import VitrinaGraphQL, create_app
from app.models.checkout import Cart
from app.services.tokens import create_token
from app.settings import Settings
from bench.body_limits import send_body, uvicorn_server
from bench.intake import APPLY, batch, seed
from tests.conftest import Clock

KIB = 1024
WEBHOOK = "/integrations/payments/yookassa"
CART_FIELDS = "{ createCart { cart { token } errors { code } } }"
CREATE_CART = f"mutation {CART_FIELDS}"


class Body:
    """A request body sent in chunks, which remembers how much of it was taken."""

    def __init__(self, chunks: int, size: int = 64 * KIB) -> None:
        self.chunks, self.size, self.taken = chunks, size, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.chunks):
            self.taken += self.size
            yield b" " * self.size


@pytest.fixture
def graphql_runs(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every request the GraphQL view itself got to handle."""
    runs: list[object] = []
    original = VitrinaGraphQL.run

    async def run(self: VitrinaGraphQL, request: Any, *args: Any, **kwargs: Any) -> Any:
        runs.append(request)
        return await original(self, request, *args, **kwargs)

    monkeypatch.setattr(VitrinaGraphQL, "run", run)
    return runs


def too_large(limit: int) -> dict[str, Any]:
    message = f"the request body is larger than {limit} bytes"
    return {
        "errors": [
            {"message": message, "extensions": {"code": "REQUEST_TOO_LARGE", "limit": limit}}
        ]
    }


# --- 1. request size ---------------------------------------------------------------------------


async def test_a_declared_body_over_the_cap_is_refused_before_a_byte_is_read(
    client: httpx.AsyncClient, settings: Settings, graphql_runs: list[object]
) -> None:
    body = Body(chunks=800)  # 50 MB
    answer = await client.post(
        "/graphql",
        content=body,
        headers={"Content-Length": str(800 * 64 * KIB), "Content-Type": "application/json"},
    )
    assert (answer.status_code, answer.json()) == (413, too_large(settings.max_body_bytes))
    assert answer.headers["connection"] == "close"
    assert answer.headers["cache-control"] == "no-store"
    assert body.taken == 0
    assert graphql_runs == []


async def test_a_chunked_body_is_cut_off_as_soon_as_it_passes_the_cap(
    client: httpx.AsyncClient, settings: Settings, graphql_runs: list[object]
) -> None:
    body = Body(chunks=800)  # 50 MB, no Content-Length
    answer = await client.post(
        "/graphql", content=body, headers={"Content-Type": "application/json"}
    )
    assert (answer.status_code, answer.json()) == (413, too_large(settings.max_body_bytes))
    # 256 KiB: four chunks fill the cap, the fifth passes it and nothing more is taken
    assert body.taken == settings.max_body_bytes + 64 * KIB
    assert graphql_runs == []


async def test_a_body_within_the_cap_reaches_the_app_whole_however_it_is_sent(
    client: httpx.AsyncClient,
) -> None:
    document = json.dumps({"query": "{ shops { id } }"}).encode()

    async def in_pieces() -> AsyncIterator[bytes]:
        for start in range(0, len(document), 5):
            yield document[start : start + 5]

    answer = await client.post(
        "/graphql", content=in_pieces(), headers={"Content-Type": "application/json"}
    )
    assert (answer.status_code, answer.json()["data"]) == (200, {"shops": []})


async def test_the_payment_webhook_refuses_a_body_over_its_cap_plainly(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    declared, chunked = Body(chunks=3200), Body(chunks=3200)  # 200 MB each
    length = {"Content-Length": str(3200 * 64 * KIB)}
    first = await client.post(WEBHOOK, content=declared, headers=length)
    second = await client.post(WEBHOOK, content=chunked)
    small = await client.post(WEBHOOK, json={"type": "notification"})
    limit = settings.max_webhook_body_bytes
    assert (first.status_code, first.headers["content-type"]) == (413, "text/plain; charset=utf-8")
    assert first.text == second.text == f"request body larger than {limit} bytes"
    assert (declared.taken, chunked.taken) == (0, limit + 64 * KIB)
    assert small.status_code == 503  # under the cap it reaches the endpoint (no YooKassa here)


async def test_a_20000_row_stock_call_with_an_integration_token_passes_and_only_with_one(
    client: httpx.AsyncClient, clock: Clock, settings: Settings
) -> None:
    variants, warehouses = await seed(5000)
    rows = batch(variants, warehouses, settings.max_intake_batch, clock.now)
    document = {"query": APPLY, "variables": {"rows": rows}}
    body = json.dumps(document).encode()
    token = await create_token(name="1c", scopes=[Scope.STOCK_WRITE])

    async def post(authorization: str | None) -> httpx.Response:
        headers = {"Content-Type": "application/json"}
        if authorization:
            headers["Authorization"] = authorization
        return await client.post("/graphql", content=body, headers=headers)

    anonymous, forged, customer = await asyncio.gather(
        post(None), post("Bearer vit_forged"), post("Bearer vca_customer")
    )
    integration = await post(f"Bearer {token}")
    assert settings.max_body_bytes < len(body) < settings.max_integration_body_bytes
    assert len(json.dumps(document, indent=4)) < settings.max_integration_body_bytes  # headroom
    assert [r.status_code for r in (anonymous, forged, customer)] == [413, 413, 413]
    assert anonymous.json() == forged.json() == too_large(settings.max_body_bytes)
    assert integration.status_code == 200, integration.text[:500]
    assert integration.json()["data"]["applyStockSnapshots"]["applied"] == 20000


async def test_a_200_mb_body_costs_a_real_uvicorn_server_neither_time_nor_memory(
    redis_url: str,
) -> None:
    with uvicorn_server(redis_url) as server:
        for path in ("/graphql", WEBHOOK):
            for chunked in (False, True):
                outcome = await asyncio.to_thread(
                    send_body, server, path, 200_000_000, chunked=chunked
                )
                assert outcome.status == 413, (path, chunked)
                assert outcome.seconds < 2, (path, chunked, outcome)
                assert outcome.peak_after_kib - outcome.rss_before_kib < 16 * KIB, outcome


# --- 6. bodies that are not one operation ------------------------------------------------------

NOT_ONE_OPERATION = {
    "null": b"null",
    "a number": b"1",
    "a string": b'"x"',
    "true": b"true",
    "an array nested 1000 deep": b"[" * 1000 + b"]" * 1000,
    "an array nested 100000 deep": b"[" * 100_000 + b"]" * 100_000,
    "variables nested 100000 deep": b'{"query": "{ shops { id } }", "variables": {"a": '
    + b"[" * 100_000
    + b"]" * 100_000
    + b"}}",
    "not JSON": b"{not json",
    "not UTF-8": b"\xff\xfe\xfd",
    "an array of numbers": b"[1, 2]",
    "a batch (batching is off)": json.dumps([{"query": CREATE_CART}] * 2).encode(),
    "a numeric operationName": json.dumps({"query": CREATE_CART, "operationName": 5}).encode(),
}


@pytest.mark.parametrize("body", NOT_ONE_OPERATION.values(), ids=NOT_ONE_OPERATION.keys())
async def test_a_body_that_is_not_one_operation_is_a_bad_request_and_runs_nothing(
    client: httpx.AsyncClient, body: bytes
) -> None:
    answer = await client.post(
        "/graphql", content=body, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 400, answer.text
    [error] = answer.json()["errors"]
    assert error["extensions"] == {"code": "BAD_REQUEST"}
    assert await Cart.all().count() == 0


# --- 7. what a stranger learns -----------------------------------------------------------------


@pytest.fixture
async def prod_client(
    db: str, tmp_path: Path, database_url: str, redis_url: str
) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        environment="prod",
        trusted_documents="permissive",  # free-form typos, as a developer would send them
        data_dir=tmp_path,
        database_url=database_url,
    )
    app = create_app(settings, redis_url=redis_url, manage_db=False, clock=Clock())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://vitrina.test") as c:
            yield c


TYPOS: dict[str, tuple[str, dict[str, Any]]] = {
    "a field": ("{ prodcts { totalCount } }", {}),
    "an argument": ("{ products(frist: 1) { totalCount } }", {}),
    "an enum value": ("{ products(sort: NEWST) { totalCount } }", {}),
    "an enum value in variables": (
        "query($s: ProductSort!) { products(sort: $s) { totalCount } }",
        {"s": "NEWST"},
    ),
    "an input field in variables": (
        "query($f: ProductFilterInput) { products(filter: $f) { totalCount } }",
        {"f": {"categry": "dresses"}},
    ),
    "a type": ("query($s: ProdctSort) { products(sort: $s) { totalCount } }", {}),
}


async def messages(client: httpx.AsyncClient, query: str, variables: dict[str, Any]) -> list[str]:
    answer = await client.post("/graphql", json={"query": query, "variables": variables})
    return [e["message"] for e in answer.json()["errors"]]


@pytest.mark.parametrize("typo", TYPOS.values(), ids=TYPOS.keys())
async def test_prod_says_what_is_wrong_but_never_suggests_a_name(
    client: httpx.AsyncClient, prod_client: httpx.AsyncClient, typo: tuple[str, dict[str, Any]]
) -> None:
    dev, prod = await messages(client, *typo), await messages(prod_client, *typo)
    hinted = [m for m in dev if " Did you mean '" in m or " Did you mean the enum value '" in m]
    assert hinted, dev  # dev (introspection on) names the schema...
    assert prod == [m.split(" Did you mean ")[0] for m in dev]  # ...prod says the rest
    assert not [m for m in prod if "Did you mean" in m]


async def test_several_operations_without_a_name_are_refused_and_none_of_them_runs(
    client: httpx.AsyncClient,
) -> None:
    two = f"mutation First {CART_FIELDS} mutation Second {CART_FIELDS}"
    unnamed = await client.post("/graphql", json={"query": two})
    assert (unnamed.status_code, unnamed.json()["data"]) == (200, None)
    assert unnamed.json()["errors"] == [
        {
            "message": "operationName is required: the document holds several operations",
            "extensions": {"code": "BAD_REQUEST"},
        }
    ]
    assert await Cart.all().count() == 0
    named = await client.post("/graphql", json={"query": two, "operationName": "Second"})
    assert named.json()["data"]["createCart"]["errors"] == []
    assert await Cart.all().count() == 1
