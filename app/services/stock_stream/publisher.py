"""Publish the stock figures this process moved, once their transactions committed."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.db import connection
from app.models.stock import Position, WrittenVersions, written_versions
from app.services.stock_stream.figures import FigureRead, VariantStock, read_figures
from app.settings import Settings

log = structlog.get_logger("stock_stream")

FigureReader = Callable[[Sequence[int], datetime], Awaitable[FigureRead]]
SLOW_AFTER = 1.0  # seconds: a writer's transaction still open this long is polled less often
SLOW_POLL = 0.25
REDIS_RETRY = 0.5


async def database_figures(variant_ids: Sequence[int], now: datetime) -> FigureRead:
    """The figures as committed now, on the default connection (outside any transaction)."""
    return await read_figures(connection(), variant_ids, now=now)


def utc_now() -> datetime:
    return datetime.now(UTC)


class StockPublisher:
    """One per process that writes stock (API, workers): XADDs each noted variant's figure.

    A writer's note carries the version its UPDATE returned; a read that shows the row at that
    version or later proves the transaction committed, so the figure read is published. A
    note still unconfirmed after `notes.ttl` seconds (a rollback) is published as read and
    dropped: a figure is always the committed state, so an extra one is harmless.
    """

    def __init__(
        self,
        redis: Redis,
        settings: Settings,
        *,
        notes: WrittenVersions = written_versions,
        read: FigureReader = database_figures,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._redis = redis
        self._key = settings.stock_stream_key
        self._max_len = settings.stock_stream_max_len
        self._coalesce = settings.stock_stream_coalesce_ms / 1000
        self._notes = notes
        self._read = read
        self._clock = clock
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.published = 0  # figures XADDed (tests, the bench)

    async def start(self) -> None:
        """Listen for notes and publish in the background."""
        self._notes.listeners.append(self._wake.set)
        self._wake.set()  # notes written before start (a worker's first job) go out too
        self._task = asyncio.create_task(self._run(), name="stock-publisher")

    async def close(self) -> None:
        """Publish what is pending (best effort), then stop."""
        with contextlib.suppress(ValueError):
            self._notes.listeners.remove(self._wake.set)
        if self._notes.listeners:
            self._notes.listeners[0]()  # another publisher of this process takes over
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        try:
            await self.publish_pending()
        except Exception as error:  # shutting down: what is left expires with its notes
            log.warning("stock_stream.final_publish_failed", error=repr(error))

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await asyncio.sleep(self._coalesce)  # gather the writes of the next few ms
            try:
                await self.publish_pending()
            except (RedisError, OSError) as error:  # notes stay: published once redis is back
                log.warning("stock_stream.publish_failed", error=repr(error))
                await asyncio.sleep(REDIS_RETRY)
            except Exception as error:  # the database: same, retried
                log.warning("stock_stream.read_failed", error=repr(error))
                await asyncio.sleep(REDIS_RETRY)
            pending = self._notes.pending()
            if pending:  # a writer's transaction is still open: look again shortly
                oldest = min(noted_at for _, noted_at in pending.values())
                if self._notes.age(oldest) > SLOW_AFTER:
                    await asyncio.sleep(SLOW_POLL)
                self._wake.set()

    async def publish_pending(self) -> int:
        """Read the noted variants in one query and publish those whose writes committed."""
        if self._notes.take_reset():
            try:
                await self._redis.xadd(
                    self._key, {"reset": b"1"}, maxlen=self._max_len, approximate=True
                )
            except BaseException:
                self._notes.note_reset()  # next pass
                raise
        pending = self._notes.pending()
        if not pending:
            return 0
        found = await self._read(sorted({v for v, _ in pending}), self._clock())
        done: dict[Position, int] = {}  # position -> the newest version this read covers
        for position, (version, noted_at) in pending.items():
            seen = found.row_versions.get(position, version)  # no row: the variant is gone
            if seen >= version or self._notes.is_stale(noted_at):
                done[position] = max(seen, version)  # later writes already read count too
        figures = [found.figures[v] for v in sorted({v for v, _ in done}) if v in found.figures]
        await self._xadd(figures)
        self._notes.settle(done)
        return len(figures)

    async def _xadd(self, figures: list[VariantStock]) -> None:
        if not figures:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for figure in figures:
                pipe.xadd(self._key, {"f": figure.encode()}, maxlen=self._max_len, approximate=True)
            await pipe.execute()
        self.published += len(figures)
