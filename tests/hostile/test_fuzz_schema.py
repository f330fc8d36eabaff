"""A bounded run of a third-party fuzzer: schemathesis generates documents from our SDL (every
query and mutation, arguments of every shape it can think of) and the prod app never answers
with a server error or an unexpected (masked) error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.core.result import Err, Ok

SDL = Path(__file__).parents[2] / "frontend-contract" / "schema.graphql"
SCHEMA = schemathesis.graphql.from_path(str(SDL))


def _loaded(result: Ok[Any] | Err[Any]) -> Any:
    if isinstance(result, Err):
        raise result.err()
    return result.ok()


OPERATIONS = [_loaded(result) for result in SCHEMA.get_all_operations()]
DOCUMENTS = st.one_of([operation.as_strategy() for operation in OPERATIONS])
MASKED = "Unexpected error."


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
