"""Serve any ASGI app with uvicorn on 127.0.0.1, as a task of the running event loop."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from types import TracebackType

import uvicorn
from starlette.types import ASGIApp

HOST = "127.0.0.1"
STARTUP_TIMEOUT = 5.0


class _EmbeddedServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # Ctrl+C belongs to the process running us (pytest), not to this server.
        yield


class LocalServer:
    """Run an app on a free loopback port; `stop()` then `start()` keeps the port.

    Between the two, connections to the port are refused: a system that is down.
    """

    def __init__(self, app: ASGIApp, port: int = 0, ws: str = "websockets-sansio") -> None:
        self._app = app
        self.port = port
        self._ws = ws
        self._server: _EmbeddedServer | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    async def start(self) -> None:
        """Listen and serve; return once the server accepts connections."""
        if self._task is not None:
            raise RuntimeError("the server is running already")
        sock = self._listening_socket()
        config = uvicorn.Config(
            self._app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            http="h11",
            # The sans-I/O implementation: uvicorn's older "websockets" one warns (deprecated
            # websockets.legacy), and the test suite turns warnings into errors.
            ws=self._ws,
            timeout_graceful_shutdown=1,
        )
        self._server = _EmbeddedServer(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        await self._wait_started(self._server, self._task)

    async def stop(self) -> None:
        """Close the port and finish the requests in flight."""
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        try:
            await self._task
        finally:
            self._server, self._task = None, None

    async def __aenter__(self) -> LocalServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def _listening_socket(self) -> socket.socket:
        # Bound here (not by uvicorn) so the port is known and nobody can take it meanwhile.
        # IPPROTO_TCP spelled out: asyncio sets TCP_NODELAY on accepted connections only for
        # sockets that say so, and without it every answer waits ~40 ms for a delayed ACK.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, self.port))
        except OSError:
            sock.close()
            raise
        self.port = int(sock.getsockname()[1])
        return sock

    @staticmethod
    async def _wait_started(server: uvicorn.Server, task: asyncio.Task[None]) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STARTUP_TIMEOUT
        while not server.started:
            if task.done():
                task.result()  # raises what stopped it
                raise RuntimeError("the server stopped while starting")
            if loop.time() > deadline:
                server.should_exit = True
                raise TimeoutError("the server did not start")
            await asyncio.sleep(0.005)
