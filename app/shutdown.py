"""Stop on SIGTERM as on Ctrl-C: how the long-running commands hear that they must stop.

systemd, docker and k8s stop a service with SIGTERM (and SIGKILL after their timeout); a
terminal sends SIGINT. Both set one event the command waits on, and the command then stops in
order: the API finishes the requests in flight, the workers give their jobs the grace, the
simulators and the embedded redis-server stop last, and the process exits 0.

uvicorn's own handlers are left out. After its shutdown uvicorn raises the signal it caught
once more, and a SIGTERM raised again meets the default action: the process dies on the spot,
before the workers, the simulators and redis-server after the API are stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Iterator, Sequence

import structlog
import uvicorn

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)

log = structlog.get_logger("app.shutdown")


@contextlib.contextmanager
def stop_requested() -> Iterator[asyncio.Event]:
    """An event set by SIGTERM or SIGINT while the block runs (the previous handlers after)."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def request(sig: signal.Signals) -> None:
        log.info("shutdown.requested", signal=sig.name)
        stop.set()

    previous = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, request, sig)
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            loop.remove_signal_handler(sig)
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)


def sigterm_is_ctrl_c() -> None:
    """Outside the event loop's handlers, SIGTERM raises KeyboardInterrupt as SIGINT does, so
    `finally` blocks (the embedded redis-server's stop) run instead of the process vanishing."""
    signal.signal(signal.SIGTERM, signal.default_int_handler)


class ApiServer(uvicorn.Server):
    """uvicorn that leaves the signals to `stop_requested` (see the module's docstring)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve_until(stop: asyncio.Event, server: uvicorn.Server) -> None:
    """Serve until `stop` is set, then let uvicorn finish the requests in flight."""

    async def exit_when_stopped() -> None:
        await stop.wait()
        server.should_exit = True

    watcher = asyncio.create_task(exit_when_stopped())
    try:
        await server.serve()
    finally:
        watcher.cancel()


async def wait_until(stop: asyncio.Event, tasks: Sequence[asyncio.Task[None]]) -> None:
    """Return when `stop` is set or a task ends; a task's error is raised here."""
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait([*tasks, stopping], return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    for task in tasks:
        if task.done() and not task.cancelled() and (error := task.exception()) is not None:
            raise error
