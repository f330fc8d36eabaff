"""A feed's catch-up: figures a lost publish left old are found in the database and read live.

A publish can be lost after its commit: the writing process dies before its XADD, or cannot
reach redis for longer than its notes live, while every feed stays healthy. The stream then
never carries the change and a feed would keep the older figure until the variant changes
again. So each feed, every `stock_feed_catch_up_ms`, compares the version of every figure it
holds with the committed one (`read_behind`: one statement, sending the held versions and
returning only the variants the database is ahead of; no holds read). A figure
still behind a version the database showed one round earlier (a publish takes milliseconds,
so it is not merely in flight) is read live and applied, as is every variant a consumer asked
to be vouched for that the feed holds no figure of (`track`: an overlaid entry, a watcher),
so that a later lost change to it is noticed too, and every held figure a counted hold's expiry
made unknown. A lost publish then shows within two rounds.

`stock_level.version` counts per row, not across rows, so a single "everything after version
N" watermark cannot be asked of it; comparing the held figures' versions needs no migration.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import structlog

from app.db import connection
from app.services.stock_stream.figures import FigureRead, VariantStock, read_behind

log = structlog.get_logger("stock_stream")

VersionReader = Callable[[Mapping[int, int]], Awaitable[dict[int, int]]]


async def database_versions(held: Mapping[int, int]) -> dict[int, int]:
    """The held variants the database is ahead of, with its committed versions (on the
    default connection, outside any transaction)."""
    return await read_behind(connection(), held)


class CaughtFeed(Protocol):
    """What the catch-up needs of a feed."""

    @property
    def healthy(self) -> bool: ...
    def now(self) -> datetime: ...
    def held_versions(self) -> dict[int, int]: ...
    def take_unvouched(self, now: datetime) -> set[int]: ...
    def adopt(self, read: FigureRead) -> int: ...
    async def read_live(self, variant_ids: Sequence[int], now: datetime) -> FigureRead: ...


@dataclass
class CatchUpCounts:
    rounds: int = 0
    checked: int = 0  # figure versions compared
    recovered: int = 0  # figures a lost publish had left old, read live
    seeded: int = 0  # read live: the feed held no figure of them, or one a hold expiry ended


@dataclass
class CatchUp:
    """One per feed: `round()` is one comparison (the feed calls it on its own schedule)."""

    feed: CaughtFeed
    versions: VersionReader = database_versions
    counts: CatchUpCounts = field(default_factory=CatchUpCounts)
    _behind: dict[int, int] = field(default_factory=dict)  # variant -> version seen ahead

    async def round(self) -> int:
        """Compare, then read live what a lost publish left old or the feed does not hold;
        returns the variants read live."""
        if not self.feed.healthy:
            self._behind.clear()  # the feed re-syncs and forgets its figures itself
            return 0
        held = self.feed.held_versions()
        unheld = self.feed.take_unvouched(self.feed.now())
        ahead = await self.versions(held) if held else {}
        self.counts.rounds += 1
        self.counts.checked += len(held)
        overdue = _overdue(self._behind, held)
        self._behind = {v: n for v, n in ahead.items() if v in held and n > held[v]}
        due = sorted(set(overdue) | unheld)
        if not due:
            return 0
        found = await self.feed.read_live(due, self.feed.now())
        self.feed.adopt(found)
        self.counts.recovered += len(overdue)
        self.counts.seeded += len(unheld)
        if overdue:
            log.warning("stock_feed.lost_publish_recovered", variants=overdue[:20])
        return len(due)

    async def run(self, interval: float) -> None:
        """Rounds forever, `interval` seconds apart (a database error: next round)."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.round()
            except Exception as error:  # the database: try again next round
                log.warning("stock_feed.catch_up_failed", error=repr(error))


def _overdue(behind: dict[int, int], held: dict[int, int]) -> list[int]:
    """Variants whose figure is still older than the version the last round saw committed."""
    return sorted(v for v, seen in behind.items() if v in held and held[v] < seen)


def unvouched(
    tracked: Iterable[int], watched: Iterable[int], held: Mapping[int, VariantStock], now: datetime
) -> set[int]:
    """Variants a consumer relies on that the feed holds no figure of, and held figures that
    stopped holding at `now` (a hold they counted expired)."""
    expired = {v for v, f in held.items() if f.valid_until is not None and f.valid_until <= now}
    return ((set(tracked) | set(watched)) - held.keys()) | expired
