"""Every case of the hostile-input corpus through the real prod app, on both databases: the
status and code it must answer, nothing written, and at most one short log line about it."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs
from tortoise import connections

from app.domain.access import Scope
from tests import factories
from tests.conftest import TABLES
from tests.hostile.corpus import CASES, Case

MAX_LOGGED = 2_000  # characters about one refused request, whatever its size
OURS_NOT = {"app.http", "httpx"}  # the access line; the test client's own


async def _row_counts() -> dict[str, int]:
    conn = connections.get("default")
    counts = {}
    for table in TABLES:
        _, rows = await conn.execute_query(f"SELECT COUNT(*) AS n FROM {table}")
        counts[table] = int(rows[0]["n"])
    return counts


def _codes(answer: dict[str, Any]) -> list[tuple[str | None, list[Any] | None]]:
    """Every error code (and path) in a GraphQL answer: top-level errors and payload errors."""
    found = [
        ((e.get("extensions") or {}).get("code"), (e.get("extensions") or {}).get("field"))
        for e in answer.get("errors") or []
    ]
    for value in (answer.get("data") or {}).values():
        for error in (value or {}).get("errors") or [] if isinstance(value, dict) else []:
            found.append((error.get("code"), error.get("path")))
    return found


def _path(path: list[Any] | None) -> list[str] | None:
    return None if path is None else [str(p) for p in path]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_a_hostile_request_is_refused_cleanly(
    prod_client: httpx.AsyncClient, case: Case, caplog: pytest.LogCaptureFixture
) -> None:
    headers = {"Content-Type": "application/json"}
    if case.auth == "integration":
        token = await factories.token(Scope.CATALOG_WRITE, Scope.STOCK_WRITE)
        headers["Authorization"] = f"Bearer {token}"
    before = await _row_counts()
    caplog.set_level(logging.INFO)
    caplog.clear()
    with capture_logs() as events:
        response = await prod_client.post(case.path, content=case.content(), headers=headers)
    assert response.status_code == case.expect_status, response.text[:500]
    if case.expect_code is not None:
        codes = _codes(response.json())
        assert case.expect_code in [code for code, _ in codes], codes
        if case.expect_path is not None:
            assert (case.expect_code, _path(case.expect_path)) in [
                (code, _path(path)) for code, path in codes
            ], codes
    if "Did you mean" in response.text:
        pytest.fail("prod answered with a suggestion from the schema")
    after = await _row_counts()
    assert {t: n for t, n in after.items() if t not in case.writes} == {
        t: n for t, n in before.items() if t not in case.writes
    }
    told = [e for e in events if e.get("event") != "request"] + [
        r for r in caplog.records if r.levelno >= logging.INFO and r.name not in OURS_NOT
    ]
    assert len(told) <= 1, told
    assert len(repr(told)) < MAX_LOGGED
    assert not [r for r in caplog.records if r.exc_info], "a client error logged a stack"
