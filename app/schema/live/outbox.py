"""What a live connection sends: in order, newest figure per key while the peer is slow."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from starlette.types import Message, Send


class Outbox:
    """A connection's outgoing ASGI messages, sent in order by a task that lives only while
    something is being sent (an idle connection holds none); with uvicorn and
    `LeanWebSocketProtocol`, a frame the transport takes at once is written without one.

    While a send is in flight, queued messages are kept by key: a newer message with the key
    of one still queued replaces it in place (a slow peer gets the newest figure per variant,
    never a backlog). Messages posted with `key=None` are always kept (control messages).
    A failed send (the peer is gone) drops everything and calls `on_gone` once.
    """

    __slots__ = ("_gone", "_now", "_on_gone", "_queued", "_send", "_task")

    def __init__(self, send: Send, on_gone: Callable[[], None]) -> None:
        self._send = send
        # app/ws_protocol.py's server protocol sends a frame synchronously when it can
        self._now: Callable[[Message], bool] | None = getattr(
            getattr(send, "__self__", None), "send_now", None
        )
        self._on_gone = on_gone
        self._queued: dict[object, Message] | None = None  # None: nothing in flight
        self._task: asyncio.Task[None] | None = None
        self._gone = False

    def post(self, message: Message, key: object = None) -> None:
        if self._gone:
            return
        if self._queued is None:
            if self._now is not None and self._now(message):
                return
            self._queued = {}
            self._task = asyncio.get_running_loop().create_task(self._drain(message))
            return
        self._queued[object() if key is None else key] = message

    @property
    def idle(self) -> bool:
        return self._queued is None

    async def _drain(self, message: Message) -> None:
        try:
            while True:
                await self._send(message)
                queued = self._queued
                if not queued:
                    break
                message = queued.pop(next(iter(queued)))
        except Exception:  # the peer is gone (ClientDisconnected, OSError, closed state)
            self._gone = True
            self._on_gone()
        finally:
            self._queued = None
            self._task = None

    def close(self) -> None:
        """Drop what is queued and stop sending (the connection is over)."""
        self._gone = True
        task = self._task
        if task is not None and not task.done():
            task.cancel()
        self._queued = None


def text(body: str) -> dict[str, Any]:
    return {"type": "websocket.send", "text": body}
