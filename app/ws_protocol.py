"""uvicorn's websocket protocol, lean for thousands of idle subscription sockets."""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.exceptions import InvalidState
from websockets.protocol import Protocol


class _Inbox:
    """What uvicorn's protocol asks of its `asyncio.Queue` (`put_nowait`, `get`, `empty`) for
    its one reader, the ASGI app: a list and a future while the app waits, instead of the
    queue's three deques and Event kept for the socket's life (about 3 KiB)."""

    __slots__ = ("_items", "_waiter")

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._waiter: asyncio.Future[None] | None = None

    def put_nowait(self, item: Any) -> None:
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def empty(self) -> bool:
        return not self._items

    async def get(self) -> Any:
        while not self._items:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._items.pop(0)


class _Writable:
    """What uvicorn asks of its `writable` asyncio.Event (`set`, `clear`, `wait`): a flag and
    a future only while a send waits for the peer to drain (an Event keeps a deque)."""

    __slots__ = ("_set", "_waiter")

    def __init__(self) -> None:
        self._set = True
        self._waiter: asyncio.Future[None] | None = None

    def set(self) -> None:
        self._set = True
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def clear(self) -> None:
        self._set = False

    def is_set(self) -> bool:
        return self._set

    async def wait(self) -> bool:
        while not self._set:
            if self._waiter is None:
                self._waiter = asyncio.get_running_loop().create_future()
            await asyncio.shield(self._waiter)
        return True


class LeanWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's websockets (sans-I/O) protocol for many idle sockets: a lighter inbox and
    writable flag, and the parsed handshake request and its 101 response forgotten once the
    upgrade is answered (uvicorn and websockets' parser keep both, with their headers, for
    the socket's life; the ASGI scope has its own copy of the request headers)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = _Inbox()  # type: ignore[assignment]
        self.writable = _Writable()  # type: ignore[assignment]

    async def send(self, message: Any) -> None:
        upgrading = not self.handshake_complete
        await super().send(message)
        if upgrading and self.handshake_complete:
            self.__dict__.pop("request", None)
            self.__dict__.pop("response", None)
            self._restart_parser()

    def send_now(self, message: Any) -> bool:
        """Send a text frame synchronously if `send` would not wait (the transport takes
        it): the live fan-out then needs no task per delivery. False: use `send`."""
        if message.get("type") != "websocket.send" or not isinstance(message.get("text"), str):
            return False
        ready = self.writable.is_set() and self.handshake_complete and not self.disconnected
        if not ready or self.close_sent or self.initial_response is not None:
            return False
        try:
            self.conn.send_text(message["text"].encode())
        except InvalidState:
            return False
        self.transport.write(b"".join(self.conn.data_to_send()))
        return True

    def _restart_parser(self) -> None:
        """websockets' server parser is a generator whose frame keeps the parsed handshake
        request (its headers) while it parses frames for the socket's life: swap it for the
        frame parser it delegates to, in the same state (nothing of a frame read yet: the
        client has not seen the 101). Skipped if bytes are buffered (a client that did not
        wait)."""
        conn = self.conn
        if conn.reader.buffer or conn.parser_exc is not None or conn.events:
            return
        conn.parser = Protocol.parse(conn)
        next(conn.parser)
