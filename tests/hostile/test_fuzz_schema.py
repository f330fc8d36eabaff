"""A bounded run of a third-party fuzzer: schemathesis generates documents from our SDL (every
query and mutation, arguments of every shape it can think of) and the prod app never answers
with a server error or an unexpected (masked) error."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.core.result import Err, Ok

from app.main import create_app
from app.settings import Settings
from tests.conftest import Clock

SDL = Path(__file__).parents[2] / "frontend-contract" / "schema.graphql"
SCHEMA = schemathesis.graphql.from_path(str(SDL))


def _loaded(result: Ok[Any] | Err[Any]) -> Any:
    if isinstance(result, Err):
        raise result.err()
    return result.ok()


OPERATIONS = [_loaded(result) for result in SCHEMA.get_all_operations()]
DOCUMENTS = st.one_of([operation.as_strategy() for operation in OPERATIONS])
MASKED = "Unexpected error."


@pytest.fixture
async def prod_client(
    db: str, tmp_path: Path, database_url: str, redis_url: str
) -> AsyncIterator[httpx.AsyncClient]:
    """The app as production runs it: errors masked, introspection off."""
    settings = Settings(
        environment="prod",
        # every layer under test, not only the trusted-documents gate in front of them
        trusted_documents="permissive",
        data_dir=tmp_path,
        database_url=database_url,
        password_time_cost=1,
        password_memory_kib=64,
    )
    app = create_app(settings, redis_url=redis_url, manage_db=False, clock=Clock())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://vitrina.test") as c:
            yield c


def test_the_fuzzer_covers_every_operation() -> None:
    names = {operation.label for operation in OPERATIONS}
    assert len(names) == len(OPERATIONS) >= 40
    assert {"Query.products", "Mutation.placeOrder", "Mutation.upsertCatalog"} <= names


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=DOCUMENTS)
async def test_generated_documents_never_crash_the_server(
    prod_client: httpx.AsyncClient, case: Any
) -> None:
    body = case.body if isinstance(case.body, dict) else {"query": case.body}
    response = await prod_client.post("/graphql", json=body)
    assert response.status_code < 500, (body, response.text)
    errors = response.json().get("errors") or []
    assert not [e for e in errors if e.get("message") == MASKED], (body, errors)
