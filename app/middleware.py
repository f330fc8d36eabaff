"""ASGI middleware: a request id on every request, bound into every log line it causes."""

from __future__ import annotations

import logging
import re
import time
import uuid

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.logging import clip

log = structlog.get_logger("app.http")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware:
    """Take X-Request-ID from the caller when it is sane, else make one; echo it back."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _SAFE_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                log.log(
                    _level(status),
                    "request",
                    method=scope["method"],
                    path=clip(scope["path"], 200),  # the caller chose it
                    status=status,
                    ms=round((time.perf_counter() - started) * 1000, 1),
                )


def _level(status: int) -> int:
    """A quiet console: answered requests at DEBUG, refused ones at INFO, failures at ERROR
    (LOG_LEVEL=DEBUG shows every request)."""
    if status < 400:
        return logging.DEBUG
    return logging.INFO if status < 500 else logging.ERROR
