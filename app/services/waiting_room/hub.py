"""A process's live waiters: one loop per drop drives every `queueStatus` subscription of it.

Each round (every QUEUE_TICK_SECONDS, sooner when the stock stream moves one of the drop's
variants) the loop tries the drop's admission tick (the same lock as polls: one tick per drop
across every process), then reads where all its subscribers stand in one redis step and
pushes what changed. No subscriber reads the database or redis on its own; the tick reads
the drop's free units from the stream (stock.py). A sell-out is noticed by the first round
after the last unit went (≤ one tick) and pushed in that round.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import weakref
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.domain.waiting_room import Ticket
from app.services.stock_stream import StockFeed, VariantStock
from app.services.waiting_room import store
from app.services.waiting_room.config import RoomConfig
from app.services.waiting_room.room import WaiterView, closed_view, tick, waiter_view
from app.services.waiting_room.standings import standings
from app.services.waiting_room.stock import DropFigures, DropShapes, TickSources

log = structlog.get_logger(__name__)
CHUNK = 1000  # tickets per redis step: a long script would hold redis up for everyone


class WaiterWatch(AsyncIterator[WaiterView]):
    """One subscriber: the newest view not sent yet (a slow reader skips, never queues)."""

    __slots__ = ("_closed", "_sent", "_unsent", "_unwatch", "_waiter", "ticket", "token")

    def __init__(self, ticket: Ticket, token: str, unwatch: Callable[[WaiterWatch], None]):
        self.ticket, self.token = ticket, token
        self._unwatch: Callable[[WaiterWatch], None] | None = unwatch
        self._sent: WaiterView | None = None
        self._unsent: WaiterView | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False

    def offer(self, view: WaiterView) -> None:
        """Queue `view` unless it is what the subscriber was told last."""
        if view == (self._unsent or self._sent):
            return
        self._unsent = view
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def __anext__(self) -> WaiterView:
        while self._unsent is None:
            if self._closed:
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        view, self._unsent = self._unsent, None
        self._sent = view
        return view

    async def aclose(self) -> None:
        """Stop watching (idempotent); a reader waiting ends."""
        self._closed = True
        self._unsent = None
        self._wake()
        if self._unwatch is not None:
            unwatch, self._unwatch = self._unwatch, None
            unwatch(self)


@dataclass(eq=False)
class _Drop:
    collection_id: int
    watchers: dict[WaiterWatch, None] = field(default_factory=dict)  # an ordered set
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    variants: frozenset[int] = frozenset()
    task: asyncio.Task[None] | None = None


class QueueHub:
    """One per process (per redis client): the drops watched and what their ticks read."""

    def __init__(self, redis: Redis, config: RoomConfig, feed: StockFeed | None) -> None:
        self._redis, self._config, self._feed = redis, config, feed
        self.sources = TickSources(DropShapes(), DropFigures(feed, lag=config.stream_lag))
        self._drops: dict[int, _Drop] = {}
        self.rounds = 0  # rounds run (tests, the bench)
        if feed is not None:
            feed.on_change(self._stock_changed)

    def now(self) -> datetime:
        return self._feed.now() if self._feed is not None else datetime.now(UTC)

    @property
    def watcher_count(self) -> int:
        return sum(len(d.watchers) for d in self._drops.values())

    def watch(self, ticket: Ticket, token: str) -> WaiterWatch:
        """Pushes of this ticket's standing as its drop's rounds find it changed."""
        drop = self._drops.get(ticket.collection_id)
        if drop is None:
            drop = self._drops[ticket.collection_id] = _Drop(ticket.collection_id)
        watcher = WaiterWatch(ticket, token, lambda w: self._unwatch(drop, w))
        drop.watchers[watcher] = None
        drop.wake.set()  # a newcomer hears from the next round at once
        if drop.task is None or drop.task.done():
            drop.task = asyncio.create_task(self._run(drop), name=f"queue-{drop.collection_id}")
        return watcher

    def _unwatch(self, drop: _Drop, watcher: WaiterWatch) -> None:
        drop.watchers.pop(watcher, None)
        if not drop.watchers:
            drop.wake.set()  # the loop sees nobody is left and ends

    def _stock_changed(self, figure: VariantStock) -> None:
        for drop in self._drops.values():
            if figure.variant_id in drop.variants:
                drop.wake.set()

    async def _run(self, drop: _Drop) -> None:
        interval = self._config.tick.total_seconds()
        while drop.watchers:
            drop.wake.clear()
            try:
                await self.round(drop.collection_id)
            except RedisError as error:
                log.warning("queue.unavailable", collection=drop.collection_id, error=repr(error))
                for watcher in list(drop.watchers):
                    watcher.offer(closed_view(self._config.tick, watcher.token))
            except Exception:  # the database: the next round tries again
                log.exception("queue.round_failed", collection=drop.collection_id)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval):
                    await drop.wake.wait()
            if drop.watchers:
                await asyncio.sleep(min(interval, 0.05))  # a burst of changes: one round
        if self._drops.get(drop.collection_id) is drop:
            del self._drops[drop.collection_id]

    async def round(self, collection_id: int) -> None:
        """Tick the drop if due, then tell each of its subscribers where they stand."""
        drop = self._drops.get(collection_id)
        if drop is None or not drop.watchers:
            return
        self.rounds += 1
        now, fence = self.now(), secrets.token_hex(8)
        watchers = list(drop.watchers)
        should_tick, found = await self._standings(collection_id, watchers, now, fence)
        if should_tick:
            await tick(
                redis=self._redis,
                config=self._config,
                collection_id=collection_id,
                fence=fence,
                now=now,
                sources=self.sources,
            )
            _, found = await self._standings(collection_id, watchers, now, "")
        shape = await self.sources.shapes.get(collection_id)
        drop.variants = frozenset(shape.variant_ids) if shape else frozenset()
        for watcher, standing in zip(watchers, found, strict=True):
            watcher.offer(waiter_view(standing, watcher.ticket, watcher.token, self._config, now))

    async def _standings(
        self, collection_id: int, watchers: list[WaiterWatch], now: datetime, fence: str
    ) -> tuple[bool, list[store.Standing]]:
        keys, should_tick = store.Keys(collection_id), False
        found: list[store.Standing] = []
        tick_ms = max(1, int(self._config.tick.total_seconds() * 1000))
        for start in range(0, len(watchers), CHUNK):
            tickets = [(w.ticket.number, w.ticket.epoch) for w in watchers[start : start + CHUNK]]
            won, part = await standings(
                self._redis,
                keys,
                tickets=tickets,
                now_ms=int(now.timestamp() * 1000),
                tick_ms=tick_ms,
                fence=fence if start == 0 else "",
            )
            should_tick, found = should_tick or won, found + part
        return should_tick, found


_HUBS: weakref.WeakKeyDictionary[Redis, QueueHub] = weakref.WeakKeyDictionary()


def hub_for(redis: Redis, config: RoomConfig, feed: StockFeed | None) -> QueueHub:
    """The process's hub for this redis client (made on first use)."""
    hub = _HUBS.get(redis)
    if hub is None:
        hub = _HUBS[redis] = QueueHub(redis, config, feed)
    return hub
