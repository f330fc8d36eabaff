"""One loopback server per test module; each test puts a fresh simulator behind it."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send


@dataclass
class Front:
    """An ASGI app that forwards to whichever simulator the current test installed."""

    app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.app is not None, "no simulator installed"
        await self.app(scope, receive, send)
