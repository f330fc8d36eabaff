"""The per-process consumer of the stock-change stream."""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.services.stock_stream.catch_up import CatchUp, VersionReader, database_versions, unvouched
from app.services.stock_stream.figures import FigureRead, VariantStock
from app.services.stock_stream.publisher import FigureReader, database_figures, utc_now
from app.settings import Settings

log = structlog.get_logger("stock_stream")

_BATCH = 500  # entries per read
RETRY_SECONDS = (0.1, 0.25, 0.5, 1.0, 2.0)  # while redis does not answer

# One atomic step: how many entries the stream ever had, its newest id, and (unless syncing)
# what it holds after `last`, so a gap (entries trimmed before this feed read them, a deleted
# or flushed stream) cannot go unseen.
_READ_AFTER = """
if redis.call('EXISTS', KEYS[1]) == 0 then return {0, 0, '0-0', {}} end
local info = redis.call('XINFO', 'STREAM', KEYS[1])
local added, newest = 0, '0-0'
for i = 1, #info, 2 do
  if info[i] == 'entries-added' then added = info[i + 1] end
  if info[i] == 'last-generated-id' then newest = info[i + 1] end
end
if ARGV[3] == 'sync' then return {1, added, newest, {}} end
return {1, added, newest, redis.call('XRANGE', KEYS[1], '(' .. ARGV[1], '+', 'COUNT', ARGV[2])}
"""


class _Gap(Exception):
    """The stream lost entries this feed had not read (trimmed, deleted, flushed)."""


class FigureWatch(AsyncIterator[VariantStock]):
    """One `watch`: the newest unsent figure per variant (bounded by its variants, so a slow
    reader never builds a backlog). Registered from creation until `aclose`. One per idle
    subscribed socket: slots, and a future only while the reader waits (an Event holds a
    deque for its life)."""

    __slots__ = ("_closed", "_sent", "_unsent", "_unwatch", "_waiter", "variant_ids")

    def __init__(self, variant_ids: frozenset[int], unwatch: Callable[[FigureWatch], None]):
        self.variant_ids = variant_ids
        self._unwatch: Callable[[FigureWatch], None] | None = unwatch
        self._unsent: dict[int, VariantStock] = {}
        self._sent: dict[int, VariantStock] = {}
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def offer(self, figure: VariantStock) -> None:
        """Queue a figure unless one at least as new was queued or sent for its variant."""
        variant_id = figure.variant_id
        for known in (self._sent.get(variant_id), self._unsent.get(variant_id)):
            if known is not None and (figure.version < known.version or figure == known):
                return
        self._unsent[variant_id] = figure
        self._wake()

    def end(self) -> None:
        """Let the reader finish (the feed closed)."""
        self._closed = True
        self._wake()

    async def __anext__(self) -> VariantStock:
        while not self._unsent:
            if self._closed:
                await self.aclose()
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        variant_id = next(iter(self._unsent))
        figure = self._unsent.pop(variant_id)
        self._sent[variant_id] = figure
        return figure

    async def aclose(self) -> None:
        """Stop watching (idempotent)."""
        self._closed = True
        self._unsent.clear()
        if self._unwatch is not None:
            unwatch, self._unwatch = self._unwatch, None
            unwatch(self)


class StockFeed:
    """One per process: reads the stock-change stream and keeps the newest figure per variant.

    Figures are ordered by `version`, never by arrival. While `healthy` is False (redis does
    not answer, or the stream lost entries this feed had not read, until it re-synced)
    `latest` answers None for every variant, so callers read live and never show an old
    figure; `generation` counts those losses. Watched variants are re-read from the
    database (one query for all watchers) while the feed is down or a figure expired.
    """

    def __init__(
        self,
        redis: Redis,
        settings: Settings,
        *,
        read: FigureReader = database_figures,
        clock: Callable[[], datetime] = utc_now,
        versions: VersionReader = database_versions,
    ) -> None:
        self._redis = redis
        self._key = settings.stock_stream_key
        self._block_ms = settings.stock_stream_block_ms
        self._refresh = settings.stock_feed_refresh_ms / 1000
        self._catch_up_every = settings.stock_feed_catch_up_ms / 1000
        self.catch_up = CatchUp(self, versions)  # a publish lost after its commit
        self._tracked: set[int] = set()  # variants to vouch for that have no figure yet
        self._read = read
        self._clock = clock
        self._script = redis.register_script(_READ_AFTER)
        self._figures: dict[int, VariantStock] = {}
        self._callbacks: list[Callable[[VariantStock], None]] = []
        self._watchers: dict[int, set[FigureWatch]] = defaultdict(set)
        self._watch_count = 0
        self._refresh_all = False  # a reset: re-read every watched variant once
        self._healthy = False
        self._generation = 0
        self._last_id = "0-0"
        self._expected: int | None = None  # entries-added the stream should show; None: re-sync
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False
        self.entries_read = 0

    async def start(self) -> None:
        """Begin consuming (background tasks); returns at once."""
        self._tasks = [
            asyncio.create_task(self._consume(), name="stock-feed"),
            asyncio.create_task(self._refresh_watched(), name="stock-feed-refresh"),
        ]
        if self._catch_up_every > 0:
            run = self.catch_up.run(self._catch_up_every)
            self._tasks.append(asyncio.create_task(run, name="stock-feed-catch-up"))

    async def close(self) -> None:
        """Stop consuming and end every `watch` iterator."""
        self._closed = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        for watchers in list(self._watchers.values()):
            for watcher in watchers:
                watcher.end()
        self._become_unhealthy()

    @property
    def healthy(self) -> bool:
        """True while the feed holds every change published since it (re)synced."""
        return self._healthy

    @property
    def generation(self) -> int:
        """Bumped each time the feed becomes unhealthy: drop whatever you derived from it."""
        return self._generation

    def now(self) -> datetime:
        """The process's clock (the app's, so tests can move it)."""
        return self._clock()

    async def read_live(self, variant_ids: Sequence[int], now: datetime) -> FigureRead:
        """Read figures from the database (one query), as the publisher does."""
        return await self._read(variant_ids, now)

    @property
    def watcher_count(self) -> int:
        """Live `watch` iterators (each subscription holds one)."""
        return self._watch_count

    def latest(self, variant_id: int, now: datetime) -> VariantStock | None:
        """The newest figure for a variant, or None when unknown (read it live).

        Unknown: the feed is not healthy, nothing was published for the variant since the
        feed synced, or a cart hold the figure counted has expired by `now`.
        """
        if not self._healthy:
            return None
        figure = self._figures.get(variant_id)
        if figure is None or not figure.is_valid_at(now):
            return None
        return figure

    def track(self, variant_ids: Iterable[int]) -> None:
        """Vouch for these variants from now on: the catch-up reads those the feed holds no
        figure of, so a later lost publish of theirs is noticed (an overlaid entry shows them)."""
        self._tracked.update(variant_ids)

    def held_versions(self) -> dict[int, int]:
        """The version of every figure held (the catch-up compares them with the database)."""
        return {v: f.version for v, f in self._figures.items()}

    def take_unvouched(self, now: datetime) -> set[int]:
        """Tracked or watched variants with no figure held (tracking is taken: asked once),
        and held figures a counted hold's expiry made unknown (an order adopting its cart's
        holds moves no stock row: nothing else would publish them again)."""
        tracked, self._tracked = self._tracked, set()
        return unvouched(tracked, self._watchers, self._figures, now)

    def adopt(self, read: FigureRead) -> int:
        """Apply figures read live while healthy (as good as published ones; older ones are
        ignored as ever); returns how many were read."""
        if not self._healthy:
            return 0
        for figure in read.figures.values():
            self._apply(figure)
        return len(read.figures)

    def on_change(self, callback: Callable[[VariantStock], None]) -> Callable[[], None]:
        """Call `callback` (synchronously: keep it cheap, it must not raise) with every newer
        figure as it arrives; returns the function that unsubscribes."""
        self._callbacks.append(callback)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._callbacks.remove(callback)

        return unsubscribe

    def watch(self, variant_ids: frozenset[int]) -> FigureWatch:
        """Newer figures of these variants as they arrive (live reads while the feed is down).

        Watching starts at once (before the first `anext`), so a caller may read the current
        figures after this call and `offer` them without missing a change. Bounded: a slow
        reader gets the newest figure per variant. Ends when the feed closes; call `aclose`
        (in a `finally`) when done: that removes the watcher.
        """
        watcher = FigureWatch(variant_ids, self._unwatch)
        self._watch_count += 1
        for variant_id in variant_ids:
            self._watchers[variant_id].add(watcher)
        if self._closed:
            watcher.end()
        return watcher

    def _unwatch(self, watcher: FigureWatch) -> None:
        self._watch_count -= 1  # once per watcher: FigureWatch.aclose calls it once
        for variant_id in watcher.variant_ids:
            watchers = self._watchers.get(variant_id)
            if watchers is not None:
                watchers.discard(watcher)
                if not watchers:
                    del self._watchers[variant_id]

    # -- consuming -------------------------------------------------------------------------

    async def _consume(self) -> None:
        failures = 0
        while True:
            try:
                await self._read_available()
                failures = 0
                await self._wait_for_entries()
            except _Gap:
                log.warning("stock_feed.gap", last_id=self._last_id)
                self._become_unhealthy()
            except (RedisError, OSError, TimeoutError) as error:
                if self._healthy or failures == 0:
                    log.warning("stock_feed.redis_down", error=repr(error))
                self._become_unhealthy()
                await asyncio.sleep(RETRY_SECONDS[min(failures, len(RETRY_SECONDS) - 1)])
                failures += 1

    async def _read_available(self) -> None:
        """Apply every entry after the last one read; healthy once caught up.

        A (re)sync starts at the stream's end: figures published before it are not replayed
        (they may predate a restore or a flush), so until a variant changes again it is
        unknown and read live.
        """
        if self._expected is None:
            exists, added, newest, _ = await self._script(keys=[self._key], args=["0-0", 0, "sync"])
            self._last_id, self._expected = _text(newest), int(added)
        while True:
            exists, added, _, entries = await self._script(
                keys=[self._key], args=[self._last_id, _BATCH, "read"]
            )
            if not exists and self._expected > 0:
                raise _Gap  # deleted or flushed
            self._check_count(int(added), len(entries))
            for _, fields in entries:  # raw from the script: [id, [b"f", payload]]
                if fields[0] == b"reset":
                    self._reset()
                else:
                    self._apply(VariantStock.decode(fields[1]))
            if entries:
                self._last_id = _text(entries[-1][0])
                self.entries_read += len(entries)
            if len(entries) < _BATCH:
                self._healthy = True
                return

    def _check_count(self, added: int, read: int) -> None:
        assert self._expected is not None
        expected = self._expected + read
        caught_up = read < _BATCH
        if added < expected or (caught_up and added != expected):
            raise _Gap
        self._expected = expected

    async def _wait_for_entries(self) -> None:
        """Block until the stream has an entry after the last one read (or a timeout)."""
        async with asyncio.timeout(self._block_ms / 1000 + 2.0):  # redis silent: unhealthy
            await self._redis.xread({self._key: self._last_id}, count=1, block=self._block_ms)

    def _become_unhealthy(self) -> None:
        if self._healthy or self._expected is not None:
            self._generation += 1
        self._healthy = False
        self._expected = None
        self._figures.clear()
        self._refresh_all = True  # watchers may have missed figures: read them once resynced

    def _reset(self) -> None:
        """Every figure may be wrong (a warehouse's sellable flag changed): forget them all,
        tell consumers (`generation`), re-read the watched ones."""
        self._figures.clear()
        self._generation += 1
        self._refresh_all = True

    def _apply(self, figure: VariantStock) -> None:
        current = self._figures.get(figure.variant_id)
        if current is not None and (figure.version < current.version or figure == current):
            return  # an older figure arriving late, or the same one again
        self._figures[figure.variant_id] = figure
        for callback in list(self._callbacks):
            try:
                callback(figure)
            except Exception as error:  # one consumer's bug must not stop the feed
                log.error("stock_feed.callback_failed", error=repr(error))
        for watcher in self._watchers.get(figure.variant_id, ()):
            watcher.offer(figure)

    # -- watched variants without a usable figure --------------------------------------------

    async def _refresh_watched(self) -> None:
        while True:
            await asyncio.sleep(self._refresh)
            try:
                await self.refresh_watched()
            except Exception as error:  # the database: try again next round
                log.warning("stock_feed.refresh_failed", error=repr(error))

    async def refresh_watched(self) -> int:
        """Re-read watched variants the stream cannot vouch for, in one query: every one while
        the feed is unhealthy, else those whose figure's holds expired. Returns variants read."""
        now = self._clock()
        if self._healthy and self._refresh_all:
            self._refresh_all = False
            due = list(self._watchers)
        elif self._healthy:
            due = [
                v
                for v in self._watchers
                if (f := self._figures.get(v)) is not None and not f.is_valid_at(now)
            ]
        else:
            due = list(self._watchers)
        if not due:
            return 0
        found = await self._read(due, now)
        for figure in found.figures.values():
            if self._healthy:
                self._apply(figure)  # a live read is as good as a published figure
            else:
                for watcher in list(self._watchers.get(figure.variant_id, ())):
                    watcher.offer(figure)
        return len(due)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
