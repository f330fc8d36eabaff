"""What every simulator shares: a request log and failures switched on by the test."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass
class LoggedRequest:
    """One request as it arrived (before any failure was injected)."""

    seq: int
    method: str
    path: str
    event_id: str | None  # the X-Event-Id header
    received_at: float  # time.monotonic()
    body: bytes
    status: int | None = None  # the status answered
    replayed: bool = False  # answered from the dedup store, nothing applied


@dataclass
class Faults:
    is_down: bool = False
    delay: float = 0.0
    failures: int = 0
    rate_limited: int = 0
    retry_after: float = 1.0
    rejected_ids: set[str] = field(default_factory=set)


class Refusal(Exception):
    """Raised by a handler to answer with `response` (a validation or business failure)."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


class Simulator:
    """Request log and failure controls; subclasses say how their system answers each."""

    def __init__(self) -> None:
        self.faults = Faults()
        self.requests: list[LoggedRequest] = []

    # --- controls -------------------------------------------------------------------------

    def down(self) -> None:
        """Answer every request 503 until `up()` (stop the server for connection refused)."""
        self.faults.is_down = True

    def up(self) -> None:
        self.faults.is_down = False

    def slow(self, seconds: float) -> None:
        """Wait `seconds` before answering each request (0 to stop)."""
        self.faults.delay = seconds

    def fail_5xx(self, n: int = 1) -> None:
        """Answer the next `n` requests with 500."""
        self.faults.failures = n

    def rate_limit(self, n: int = 1, retry_after: float = 1.0) -> None:
        """Answer the next `n` requests as over the rate limit, with Retry-After."""
        self.faults.rate_limited = n
        self.faults.retry_after = retry_after

    def reject(self, entity_id: str) -> None:
        """Refuse every write about this entity as a business rejection."""
        self.faults.rejected_ids.add(entity_id)

    def reset_faults(self) -> None:
        self.faults = Faults()

    def is_rejected(self, entity_id: str) -> bool:
        return entity_id in self.faults.rejected_ids

    # --- how the system answers, per subclass ---------------------------------------------

    def unavailable(self) -> Response:
        return Response("Service Unavailable", 503, media_type="text/plain")

    def too_many_requests(self, retry_after: float) -> Response:
        raise NotImplementedError

    def server_error(self) -> Response:
        raise NotImplementedError

    async def admit(self, request: Request) -> Response | None:
        """A refusal before any endpoint runs (credentials, the system's own limits), or None."""
        return None

    # --- plumbing -------------------------------------------------------------------------

    def route(self, path: str, endpoint: Endpoint, methods: Sequence[str]) -> Route:
        async def guarded(request: Request) -> Response:
            entry = await self._log(request)
            response = await self._answer(request, endpoint)
            entry.status = response.status_code
            return response

        return Route(path, guarded, methods=list(methods))

    async def _log(self, request: Request) -> LoggedRequest:
        entry = LoggedRequest(
            seq=len(self.requests),
            method=request.method,
            path=request.url.path,
            event_id=request.headers.get("X-Event-Id"),
            received_at=time.monotonic(),
            body=await request.body(),
        )
        self.requests.append(entry)
        request.state.logged = entry  # handlers mark replays on it
        return entry

    async def _answer(self, request: Request, endpoint: Endpoint) -> Response:
        injected = await self._injected_failure()
        if injected is not None:
            return injected
        refused = await self.admit(request)
        if refused is not None:
            return refused
        try:
            return await endpoint(request)
        except Refusal as refusal:
            return refusal.response

    async def _injected_failure(self) -> Response | None:
        faults = self.faults
        if faults.delay:
            await asyncio.sleep(faults.delay)
        if faults.is_down:
            return self.unavailable()
        if faults.rate_limited:
            faults.rate_limited -= 1
            return self.too_many_requests(faults.retry_after)
        if faults.failures:
            faults.failures -= 1
            return self.server_error()
        return None
