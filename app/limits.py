"""ASGI middleware: a size cap on every request body, enforced before the body is read.

A declared Content-Length over the cap is refused with 413 at once, without reading a byte; a
chunked or under-declared body is read only up to the cap and refused the moment it passes it.
Nothing over the cap is ever held in memory, and the app only sees bodies within their cap
(it is handed the body in one piece once the whole of it has arrived).

Each path has its own cap. /graphql allows more to callers with a valid integration token (1C
sends stock in batches of 20,000 rows); the token is checked only when a body needs more than
the anonymous cap, so a forged `vit_…` token cannot buy a larger body.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.services.tokens import TOKEN_PREFIX

TokenCheck = Callable[[str], Awaitable[bool]]
"""Is this raw bearer token a working integration token?"""


# The rest of a refused body is not read: the connection must not be reused for another request.
_REFUSED = {"Connection": "close", "Cache-Control": "no-store"}  # and errors are never cached


def graphql_too_large(limit: int) -> Response:
    """The 413 a GraphQL client gets: the usual errors envelope, with the cap."""
    error = {
        "message": f"the request body is larger than {limit} bytes",
        "extensions": {"code": "REQUEST_TOO_LARGE", "limit": limit},
    }
    return JSONResponse({"errors": [error]}, status_code=413, headers=_REFUSED)


def plain_too_large(limit: int) -> Response:
    return PlainTextResponse(
        f"request body larger than {limit} bytes", status_code=413, headers=_REFUSED
    )


@dataclass(frozen=True)
class BodyCap:
    """How many body bytes a path accepts, and how it says no."""

    limit: int
    integration_limit: int | None = None  # for callers with a valid integration token
    refuse: Callable[[int], Response] = plain_too_large


class BodyLimitMiddleware:
    """Refuse request bodies over their path's cap with 413, reading at most the cap."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        caps: Mapping[str, BodyCap],
        default: BodyCap,
        is_integration: TokenCheck,
    ) -> None:
        self.app = app
        self.caps = caps
        self.default = default
        self.is_integration = is_integration

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cap = self.caps.get(scope["path"], self.default)
        allowance = _Allowance(cap, _bearer(scope), self.is_integration)
        declared = _content_length(scope)
        if declared is None:
            await PlainTextResponse("invalid Content-Length", status_code=400)(scope, receive, send)
            return
        body = None
        if not declared or await allowance.admits(declared):
            body = await _read_body(receive, allowance)
        if body is None:  # the request line logged by RequestIdMiddleware says 413
            await allowance.cap.refuse(allowance.limit)(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)


class _Allowance:
    """The cap of one request: the anonymous one, raised once if the caller's token is good."""

    def __init__(self, cap: BodyCap, token: str | None, is_integration: TokenCheck) -> None:
        self.cap = cap
        self.limit = cap.limit
        self._token = token
        self._is_integration = is_integration

    async def admits(self, size: int) -> bool:
        if size > self.limit and self._token is not None:
            token, self._token = self._token, None  # ask at most once per request
            wider = self.cap.integration_limit
            if wider is not None and wider > self.limit and await self._is_integration(token):
                self.limit = wider
        return size <= self.limit


async def _read_body(receive: Receive, allowance: _Allowance) -> list[Message] | None:
    """The request's body messages, or None as soon as the body passes the cap (the chunk
    that passed it is dropped and nothing more is read)."""
    messages: list[Message] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away: let the app see it
            messages.append(message)
            return messages
        size += len(message.get("body", b""))
        if not await allowance.admits(size):
            return None
        messages.append(message)
        if not message.get("more_body", False):
            return messages


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A `receive` that hands the app the body read so far, in one message, then goes on."""
    if len(messages) > 1 and messages[-1]["type"] == "http.request":
        body = b"".join(m.get("body", b"") for m in messages)
        messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def replayed() -> Message:
        if messages:
            return messages.pop(0)
        return await receive()

    return replayed


def _content_length(scope: Scope) -> int | None:
    """The declared length, 0 when none is declared, None when it is not a number."""
    text = (_header(scope, b"content-length") or "0").strip()
    return int(text) if text.isdigit() and len(text) < 20 else None


def _bearer(scope: Scope) -> str | None:
    """The bearer token if it looks like an integration token (`vit_…`), else None."""
    scheme, _, token = (_header(scope, b"authorization") or "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token.startswith(TOKEN_PREFIX) else None


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None
