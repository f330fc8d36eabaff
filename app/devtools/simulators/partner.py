"""A partner's webhook receiver: real HTTP on 127.0.0.1, as a partner developer would write one.

It checks every request the way docs/partners.md tells partners to: a JSON body, the
`Vitrina-Timestamp` within five minutes, one `Vitrina-Signature` that matches under the
subscription's secret (a wrong one is answered 401 and counted); it keeps each event once by
its id (a repeat is answered 200 and marked). For tests and the bench it can be slow, fail
with 5xx, ask to slow down (429 with Retry-After), be down (503; stop its server for refused
connections), refuse events about one thing (422: a dead letter) or answer 410 Gone to
unsubscribe.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from app.devtools.simulators.base import Simulator
from app.domain.webhooks import signature_is_valid


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ReceivedEvent:
    """An event as the receiver took it (its first delivery; repeats are counted apart)."""

    id: str
    type: str
    created_at: datetime
    api_version: str
    data: Any
    path: str
    received_at: float  # time.time(), to compare with created_at
    headers: dict[str, str]

    @property
    def latency(self) -> float:
        """Seconds from the event's creation to its arrival here."""
        return self.received_at - self.created_at.timestamp()


class PartnerReceiver(Simulator):
    """Receive signed events; `secret` is the subscription's (set it once it is created)."""

    def __init__(self, secret: str = "", clock: Callable[[], datetime] = utc_now) -> None:
        super().__init__()
        self.secret = secret
        self.clock = clock
        self.events: list[ReceivedEvent] = []
        self.repeats: list[str] = []  # ids of events delivered again (answered 200)
        self.bad_signatures = 0
        self.is_gone = False
        self._seen: set[str] = set()
        self.in_flight = 0
        self.max_in_flight = 0  # the most requests it was answering at once
        routes = Starlette(routes=[self.route("/{path:path}", self._receive, ["POST"])])
        self.app = _Counting(routes, self)

    def gone(self) -> None:
        """Answer 410 Gone from now on: the partner unsubscribes."""
        self.is_gone = True

    def ids(self, kind: str | None = None) -> list[str]:
        return [e.id for e in self.events if kind is None or e.type == kind]

    def too_many_requests(self, retry_after: float) -> Response:
        return Response("slow down", 429, headers={"Retry-After": f"{retry_after:g}"})

    def server_error(self) -> Response:
        return Response("internal error", 500, media_type="text/plain")

    async def admit(self, request: Request) -> Response | None:
        if self.is_gone:
            return Response("this endpoint is gone", 410, media_type="text/plain")
        return None

    async def _receive(self, request: Request) -> Response:
        body = await request.body()
        headers = {k.lower(): v for k, v in request.headers.items()}
        valid = signature_is_valid(
            self.secret,
            headers.get("vitrina-timestamp", ""),
            headers.get("vitrina-signature", ""),
            body,
            self.clock(),
        )
        if not valid:
            self.bad_signatures += 1
            return JSONResponse({"error": "bad signature"}, 401)
        if headers.get("content-type", "").split(";")[0] != "application/json":
            return JSONResponse({"error": "not JSON"}, 415)
        event = json.loads(body)
        if event["id"] != headers.get("vitrina-event-id"):
            return JSONResponse({"error": "the id header and the body differ"}, 400)
        about = event["data"].get("id") if isinstance(event["data"], dict) else None
        if about is not None and self.is_rejected(str(about)):
            return JSONResponse({"error": f"we cannot take {about}"}, 422)
        if event["id"] in self._seen:
            self.repeats.append(event["id"])
            return JSONResponse({"ok": True, "repeat": True})
        self._seen.add(event["id"])
        self.events.append(_received(event, request.url.path, headers))
        return JSONResponse({"ok": True})


class _Counting:
    """The ASGI app, counting the requests the receiver is answering at once."""

    def __init__(self, app: ASGIApp, receiver: PartnerReceiver) -> None:
        self._app = app
        self._receiver = receiver

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        receiver = self._receiver
        receiver.in_flight += 1
        receiver.max_in_flight = max(receiver.max_in_flight, receiver.in_flight)
        try:
            await self._app(scope, receive, send)
        finally:
            receiver.in_flight -= 1


def _received(event: dict[str, Any], path: str, headers: dict[str, str]) -> ReceivedEvent:
    return ReceivedEvent(
        id=event["id"],
        type=event["type"],
        created_at=datetime.fromisoformat(event["createdAt"]),
        api_version=event["apiVersion"],
        data=event["data"],
        path=path,
        received_at=time.time(),
        headers=headers,
    )
