"""One timer per process for every live connection: the connection-init deadline and the
keep-alive round, instead of a sleeping task per connection."""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Timed(Protocol):
    def keep_alive(self) -> None:
        """Send a keep-alive (a `ping`, an SSE comment); must not raise."""

    def init_timed_out(self) -> None:
        """The connection did not init in time; must not raise."""


class LiveClock:
    """Deadlines for connections awaiting init and a keep-alive round every `ping_seconds`.

    Connections awaiting init are kept in arrival order; with one timeout per clock that is
    deadline order, so each tick looks only at the oldest. One `call_later` handle is armed
    for the next thing due, and none while no connection is registered.
    """

    def __init__(self, init_seconds: float, ping_seconds: float) -> None:
        self.init_seconds = init_seconds
        self.ping_seconds = ping_seconds
        self._waiting: dict[Timed, float] = {}  # connection -> init deadline (monotonic)
        self._alive: dict[Timed, None] = {}  # insertion-ordered set
        self._next_ping: float | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._due: float | None = None

    @property
    def connections(self) -> int:
        """Connections kept alive (acknowledged websockets, open SSE streams)."""
        return len(self._alive)

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def await_init(self, connection: Timed) -> None:
        self._waiting[connection] = time.monotonic() + self.init_seconds
        self._arm()

    def initialised(self, connection: Timed) -> None:
        self._waiting.pop(connection, None)

    def keep(self, connection: Timed) -> None:
        self._alive[connection] = None
        if self._next_ping is None:
            self._next_ping = time.monotonic() + self.ping_seconds
        self._arm()

    def forget(self, connection: Timed) -> None:
        self._waiting.pop(connection, None)
        self._alive.pop(connection, None)
        if not self._alive:
            self._next_ping = None
        if not self._alive and not self._waiting and self._handle is not None:
            self._handle.cancel()
            self._handle, self._due = None, None

    def _arm(self) -> None:
        due = [d for d in (self._next_ping, next(iter(self._waiting.values()), None)) if d]
        if not due:
            return
        at = min(due)
        if self._handle is not None and self._due is not None and self._due <= at:
            return
        if self._handle is not None:
            self._handle.cancel()
        loop = asyncio.get_running_loop()
        self._due = at
        self._handle = loop.call_later(max(0.0, at - time.monotonic()), self._tick)

    def _tick(self) -> None:
        self._handle, self._due = None, None
        now = time.monotonic()
        while self._waiting:
            connection, deadline = next(iter(self._waiting.items()))
            if deadline > now:
                break
            del self._waiting[connection]
            connection.init_timed_out()
        if self._next_ping is not None and self._next_ping <= now:
            self._next_ping = now + self.ping_seconds
            for connection in list(self._alive):
                connection.keep_alive()
        if not self._alive:
            self._next_ping = None
        self._arm()
