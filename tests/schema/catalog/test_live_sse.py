"""GraphQL over SSE (distinct connections mode) for the same subscription: through the ASGI
app (streams that end) and against a real uvicorn server (live streams)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.cli import LEAN_WS
from app.devtools.simulators.server import LocalServer
from app.main import create_app
from app.models.catalog import Variant
from app.models.stock import written_versions
from app.schema.documents import build_manifest, manifest_json
from app.schema.live.server import LiveServer
from app.services.stock_stream import StockFeed
from app.settings import Settings
from tests import factories
from tests.conftest import Clock
from tests.schema.catalog import test_availability_subscription as subscriptions
from tests.schema.catalog.test_availability_subscription import (
    DRESS,
    DRESS_L,
    DRESS_M,
    SUBSCRIPTION,
    _eventually,
    _given_dress,
)

live_settings = subscriptions.live_settings  # the fixture, shared

STREAM = {"accept": "text/event-stream"}
Event = tuple[str, Any]


def _events(body: str) -> list[Event]:
    """`event:` / `data:` blocks of a finished stream, data parsed (None when empty)."""
    found: list[Event] = []
    for block in body.split("\n\n"):
        lines = [line for line in block.splitlines() if not line.startswith(":")]
        fields = dict(line.split(":", 1) for line in lines)
        fields = {k: v.strip() for k, v in fields.items()}
        if "event" in fields:
            found.append((fields["event"], json.loads(fields["data"]) if fields["data"] else None))
    return found


async def _app_client(settings: Settings, redis_url: str, clock: Clock) -> AsyncIterator[Any]:
    app = create_app(settings, redis_url=redis_url, manage_db=False, clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client, app


@pytest.fixture
async def asgi(
    db: str, live_settings: Settings, redis_url: str, clock: Clock
) -> AsyncIterator[Any]:
    async for pair in _app_client(live_settings, redis_url, clock):
        yield pair


async def test_a_query_over_sse_is_one_next_event_then_complete(asgi: Any) -> None:
    client, _ = asgi
    response = await client.post("/graphql", json={"query": "{ __typename }"}, headers=STREAM)

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.headers["cache-control"] == "no-store"
    [(kind, payload), complete] = _events(response.text)
    assert (kind, payload["data"], complete) == (
        "next",
        {"__typename": "Query"},
        ("complete", None),
    )


async def test_an_unknown_product_is_a_next_event_with_the_typed_error(
    asgi: Any, clock: Clock
) -> None:
    client, app = asgi
    await factories.warehouses()
    variables = json.dumps({"id": factories.guid("product/nothing")})
    response = await client.get(
        "/graphql", params={"query": SUBSCRIPTION, "variables": variables}, headers=STREAM
    )

    [(kind, payload), done] = _events(response.text)
    assert (kind, done) == ("next", ("complete", None))
    assert payload["errors"][0]["extensions"]["code"] == "UNKNOWN_PRODUCT"
    live: LiveServer = app.state.live
    assert (live.hub.live, live.hub.channels, live.sse_streams) == (0, 0, {})


@pytest.fixture
async def strict_asgi(
    db: str, live_settings: Settings, redis_url: str, clock: Clock, tmp_path: Path
) -> AsyncIterator[Any]:
    manifest = tmp_path / "persisted-documents.json"
    manifest.write_text(manifest_json(build_manifest()))
    strict = live_settings.model_copy(
        update={"trusted_documents": "strict", "persisted_documents_file": manifest}
    )
    async for pair in _app_client(strict, redis_url, clock):
        yield pair


async def test_strict_mode_refuses_free_form_text_and_mutations_over_get(strict_asgi: Any) -> None:
    client, _ = strict_asgi
    free_form = await client.post("/graphql", json={"query": SUBSCRIPTION}, headers=STREAM)
    registered = next(k for k, v in build_manifest().items() if v["text"].startswith("mutation"))
    mutation = await client.get("/graphql", params={"documentId": registered}, headers=STREAM)
    unknown = await client.get("/graphql", params={"documentId": "sha256:00"}, headers=STREAM)

    [(kind, payload), complete] = _events(free_form.text)
    assert (free_form.status_code, kind, complete) == (200, "next", ("complete", None))
    assert payload["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_REQUIRED"
    assert (mutation.status_code, mutation.headers["allow"]) == (405, "POST")
    assert mutation.headers["cache-control"] == "no-store"
    assert _events(unknown.text)[0][1]["errors"][0]["extensions"]["code"] == (
        "PERSISTED_QUERY_NOT_FOUND"
    )


# -- against uvicorn: live streams ---------------------------------------------------------------


@pytest.fixture
async def served(
    db: str, live_settings: Settings, redis_url: str, clock: Clock
) -> AsyncIterator[Any]:
    written_versions.forget_all()
    settings = live_settings.model_copy(update={"max_sse_streams_per_client": 2})
    app = create_app(settings, redis_url=redis_url, manage_db=False, clock=clock)
    async with app.router.lifespan_context(app), LocalServer(app, ws=LEAN_WS) as server:
        feed: StockFeed = app.state.stock_feed
        async with asyncio.timeout(5):
            while not feed.healthy:
                await asyncio.sleep(0.01)
        async with httpx.AsyncClient(base_url=server.url, timeout=5) as client:
            yield client, app


class Stream:
    """An open SSE response, read event by event (keep-alive comments counted)."""

    def __init__(self, response: httpx.Response) -> None:
        self.response, self.comments = response, 0
        self._lines = response.aiter_lines()

    async def event(self, seconds: float = 5.0) -> Event:
        kind, data = "", ""
        async with asyncio.timeout(seconds):
            async for line in self._lines:
                if line.startswith(":"):
                    self.comments += 1
                elif line.startswith("event: "):
                    kind = line.removeprefix("event: ")
                elif line.startswith("data:"):
                    data = line.removeprefix("data:").strip()
                elif line == "" and kind:
                    return kind, json.loads(data) if data else None
        raise AssertionError("the stream ended")

    async def figures(self, count: int) -> dict[str, int]:
        got = {}
        for _ in range(count):
            kind, payload = await self.event()
            assert kind == "next", payload
            data = payload["data"]["productAvailability"]
            got[data["variantId"]] = data["available"]
        return got


def _subscribe(client: httpx.AsyncClient) -> Any:
    body = {"query": SUBSCRIPTION, "variables": {"id": DRESS}}
    return client.stream("POST", "/graphql", json=body, headers=STREAM)


async def test_a_live_stream_gets_the_figures_then_each_change_and_cleans_up(
    served: Any, clock: Clock
) -> None:
    client, app = served
    live: LiveServer = app.state.live
    await _given_dress(clock)
    async with _subscribe(client) as response:
        stream = Stream(response)
        first = await stream.figures(2)
        await factories.stock(DRESS_M, factories.ONLINE, 1, as_of=factories.later(5))
        changed = await stream.figures(1)
        counted = (live.hub.live, live.hub.channels, dict(live.sse_streams))

    assert (response.status_code, first, changed) == (200, {DRESS_M: 4, DRESS_L: 0}, {DRESS_M: 2})
    assert counted == (1, 1, {"127.0.0.1": 1})
    await _eventually(lambda: (live.hub.live, live.hub.channels, live.sse_streams) == (0, 0, {}))
    await _eventually(lambda: app.state.stock_feed.watcher_count == 0)


async def test_keep_alive_comments_flow_while_nothing_changes(served: Any, clock: Clock) -> None:
    client, app = served
    await _given_dress(clock)
    pk = (await Variant.get(guid=DRESS_M)).id
    feed: StockFeed = app.state.stock_feed
    await _eventually(lambda: (f := feed.latest(pk, clock())) is not None and f.available == 4)
    async with _subscribe(client) as response:
        stream = Stream(response)
        await stream.figures(2)
        with pytest.raises(TimeoutError):  # no event: only comments
            await stream.event(seconds=0.7)

    assert stream.comments >= 2


async def test_streams_per_client_address_are_capped_and_share_the_upstream(
    served: Any, clock: Clock
) -> None:
    client, app = served
    live: LiveServer = app.state.live
    await _given_dress(clock)
    async with _subscribe(client) as one, _subscribe(client) as two:
        await Stream(one).figures(2)
        await Stream(two).figures(2)
        body = {"query": SUBSCRIPTION, "variables": {"id": DRESS}}
        third = await client.post("/graphql", json=body, headers=STREAM)
        shared = (live.hub.live, live.hub.channels)

    assert (third.status_code, third.headers["cache-control"]) == (429, "no-store")
    assert third.json()["errors"][0]["extensions"]["code"] == "TOO_MANY_ATTEMPTS"
    assert shared == (2, 1)
    await _eventually(lambda: live.sse_streams == {})


async def test_a_client_that_also_accepts_json_gets_the_usual_json_answer(asgi: Any) -> None:
    client, _ = asgi
    accept = {"accept": "application/graphql-response+json, application/json, text/event-stream"}
    response = await client.post("/graphql", json={"query": "{ __typename }"}, headers=accept)

    assert response.headers["content-type"].startswith("application/")
    assert response.json()["data"] == {"__typename": "Query"}
