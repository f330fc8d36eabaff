"""Logs an attacker cannot flood: a client's mistake is one short line without a stack, with the
request id; a bug is one ERROR line with its stack, bounded however long its message."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, MutableMapping
from typing import Any

import httpx
import pytest
import structlog
from structlog.testing import capture_logs

from app.domain.access import Scope
from app.logging import MAX_TRACEBACK_CHARS, clip_values
from app.services.tokens import create_token

MB = 1_000_000
SLUG_QUERY = "query($slug: String) { product(slug: $slug) { name } }"


class Logs:
    """What the app logs through structlog, with the request id bound by the middleware."""

    def __init__(self, captured: list[MutableMapping[str, Any]]) -> None:
        self.captured = captured

    @property
    def lines(self) -> list[MutableMapping[str, Any]]:
        """The lines a production console shows (INFO and above)."""
        return [e for e in self.captured if e["log_level"] != "debug"]


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[Logs]:
    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as captured:
        yield Logs(captured)
    # nothing goes around structlog: strawberry's own error log (a stack per error) stays silent
    assert [r.getMessage()[:200] for r in caplog.records if r.levelno >= logging.WARNING] == []


def size(line: MutableMapping[str, Any]) -> int:
    return len(json.dumps(line, default=str))


async def post(
    client: httpx.AsyncClient, body: dict[str, Any], token: str | None = None
) -> httpx.Response:
    headers = {"X-Request-ID": "attack-1"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return await client.post("/graphql", json=body, headers=headers)


async def test_a_document_that_does_not_validate_is_one_info_line_without_a_stack(
    client: httpx.AsyncClient, logs: Logs
) -> None:
    answer = await post(client, {"query": "{ prodcts { totalCount } }"})
    assert answer.status_code == 200
    assert logs.lines == [
        {
            "event": "graphql.refused",
            "log_level": "info",
            "code": None,
            "message": "Cannot query field 'prodcts' on type 'Query'. Did you mean "
            "'products' or 'product'?",
            "request_id": "attack-1",
        }
    ]


async def test_a_typed_refusal_in_a_query_is_one_info_line_with_its_code(
    client: httpx.AsyncClient, logs: Logs
) -> None:
    answer = await post(client, {"query": '{ products(after: "x") { totalCount } }'})
    assert answer.json()["errors"][0]["extensions"]["code"] == "INVALID_CURSOR"
    assert [(e["event"], e["log_level"], e["code"]) for e in logs.lines] == [
        ("graphql.refused", "info", "INVALID_CURSOR")
    ]
    assert "exc_info" not in logs.lines[0]


async def test_a_megabyte_slug_without_a_token_is_one_short_line(
    client: httpx.AsyncClient, logs: Logs
) -> None:
    answer = await post(client, {"query": SLUG_QUERY, "variables": {"slug": "x" * MB}})
    assert answer.status_code == 413
    assert [(e["event"], e["log_level"], e["status"]) for e in logs.lines] == [
        ("request", "info", 413)
    ]
    assert size(logs.lines[0]) < 1000


async def test_a_megabyte_slug_from_an_integration_is_one_short_line(
    client: httpx.AsyncClient, logs: Logs
) -> None:
    token = await create_token(name="1c", scopes=[Scope.CATALOG_WRITE])
    answer = await post(client, {"query": SLUG_QUERY, "variables": {"slug": "x" * MB}}, token)
    assert answer.status_code == 200 and answer.json()["errors"]
    assert [(e["event"], e["log_level"]) for e in logs.lines] == [("graphql.refused", "info")]
    assert "exc_info" not in logs.lines[0]
    assert size(logs.lines[0]) < 1000


@pytest.mark.parametrize("body", [b"null", b"[" * 100_000 + b"]" * 100_000, b"\xff"])
async def test_a_malformed_body_is_one_info_line(
    client: httpx.AsyncClient, logs: Logs, body: bytes
) -> None:
    answer = await client.post(
        "/graphql", content=body, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 400
    assert [(e["event"], e["log_level"], e["status"]) for e in logs.lines] == [
        ("request", "info", 400)
    ]


async def test_a_bug_is_one_error_line_with_its_stack_and_a_bounded_size(
    client: httpx.AsyncClient, logs: Logs, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.services.catalog import queries as catalog_queries

    async def crash() -> None:
        raise RuntimeError("connection lost while reading " + "x" * MB)

    monkeypatch.setattr(catalog_queries, "list_categories", crash)
    await post(client, {"query": "{ categories { slug } }"})
    [line] = logs.lines
    assert (line["event"], line["log_level"], line["path"]) == (
        "graphql.failed",
        "error",
        ["categories"],
    )
    assert line["request_id"] == "attack-1"
    assert len(line["message"]) < 300
    assert isinstance(line["exc_info"], RuntimeError)
    # as the configured chain renders it (app/logging.py): the stack, not the megabyte
    rendered = clip_values(None, "error", structlog.processors.format_exc_info(None, "error", line))
    assert "Traceback (most recent call last)" in rendered["exception"]
    assert "in crash" in rendered["exception"]
    assert "RuntimeError: connection lost while reading xxx" in rendered["exception"]
    assert len(rendered["exception"]) < MAX_TRACEBACK_CHARS
