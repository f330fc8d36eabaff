"""What the stock feed's catch-up costs (issue 10: a publish lost after its commit), at idle and
while stock writes flow (prints figures; not a timed test).

Seeds P products of V variants (stock in the online warehouse) in a throwaway PostgreSQL
database and a SQLite file, starts a StockFeed and a StockPublisher in this process on a stream
of its own, tracks every variant (as overlaid catalog entries do), then:

1. idle: R catch-up rounds back to back: wall and CPU milliseconds per round (one statement
   comparing every held figure's version with the database's);
2. load: W writer tasks apply 1C figures (one row each, a new quantity) for S seconds, once with
   the catch-up off and once at its default schedule (400 ms): writes/s both ways, the rounds'
   time under load, and how many figures rounds read live (0 expected: nothing was lost);
3. a lost publish: one figure committed with its note dropped; time until the feed shows it.

Usage:

    uv run python bench/stock_catch_up.py [--products 54] [--variants 4] [--seconds 8]
        [--writers 4] [--postgres postgres://postgres@127.0.0.1:5432]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import asyncpg
from redis.asyncio import Redis
from tortoise.backends.base.executor import EXECUTOR_CACHE

from app.db import close_db, init_db
from app.logging import configure_logging
from app.models.stock import written_versions
from app.services.inventory.stock_snapshots import RawStockSnapshot, apply_stock_snapshots
from app.services.stock_stream import StockFeed, StockPublisher
from app.settings import Settings
from bench.stock_stream import ONLINE, seed

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/7")


def _ms(values: list[float]) -> str:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"mean {statistics.fmean(values) * 1000:.2f} ms, p99 {p99 * 1000:.2f} ms"


async def _timed(action: Callable[[], Awaitable[object]]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    await action()
    return time.perf_counter() - wall, time.process_time() - cpu


async def _idle(feed: StockFeed, rounds: int) -> None:
    walls, cpus = [], []
    for _ in range(rounds):
        wall, cpu = await _timed(feed.catch_up.round)
        walls.append(wall)
        cpus.append(cpu)
    held = len(feed.held_versions())
    print(f"  idle, {held} figures held: wall {_ms(walls)}; CPU {_ms(cpus)}")


class Writers:
    def __init__(self, variants: list[str], count: int) -> None:
        self.variants, self.count, self.done = variants, count, 0
        self._as_of = datetime.now(UTC) - timedelta(minutes=30)  # 1C's clock, never ahead

    async def _one(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self._as_of += timedelta(milliseconds=1)  # each figure newer than the last
            row = RawStockSnapshot(
                random.choice(self.variants), ONLINE, random.randint(0, 50), self._as_of.isoformat()
            )
            report = await apply_stock_snapshots(rows=[row], max_rows=1)
            self.done += report.applied

    async def run(self, seconds: float) -> float:
        stop = asyncio.Event()
        self.done = 0
        tasks = [asyncio.create_task(self._one(stop)) for _ in range(self.count)]
        await asyncio.sleep(seconds)
        stop.set()
        await asyncio.gather(*tasks)
        return self.done / seconds


async def _under_load(feed: StockFeed, writers: Writers, seconds: float) -> None:
    """Alternate phases with the catch-up off and on (the machine's noise shows in both)."""
    counts = feed.catch_up.counts
    recovered, rounds = counts.recovered, counts.rounds
    walls: list[float] = []
    rates: dict[str, list[float]] = {"off": [], "on": []}

    async def rounds_every(interval: float, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await asyncio.sleep(interval)
            wall, _ = await _timed(feed.catch_up.round)
            walls.append(wall)

    for phase in ("off", "on", "off", "on"):
        stop = asyncio.Event()
        task = asyncio.create_task(rounds_every(0.4, stop)) if phase == "on" else None
        rates[phase].append(await writers.run(seconds / 2))
        stop.set()
        if task is not None:
            await task
    print(
        f"  load, {writers.count} writers: writes/s with the catch-up off "
        f"{' / '.join(f'{r:.0f}' for r in rates['off'])}, every 400 ms "
        f"{' / '.join(f'{r:.0f}' for r in rates['on'])}; {counts.rounds - rounds} rounds under "
        f"load, {_ms(walls)}; read live by mistake: {counts.recovered - recovered}"
    )


async def _lost(feed: StockFeed, variant: str, pk: int) -> None:
    listeners = list(written_versions.listeners)
    written_versions.listeners.clear()
    as_of = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    report = await apply_stock_snapshots(
        rows=[RawStockSnapshot(variant, ONLINE, 77, as_of)], max_rows=1
    )
    assert report.applied == 1, report
    written_versions.forget_all()
    written_versions.listeners[:] = listeners
    started = time.perf_counter()
    while (figure := feed.latest(pk, datetime.now(UTC))) is None or figure.available != 77:
        await asyncio.sleep(0.005)
    print(
        f"  a lost publish shown by the feed after {(time.perf_counter() - started) * 1000:.0f} ms"
    )


async def bench(dsn: str, label: str, args: argparse.Namespace) -> None:
    catalog = await seed(dsn, args.products, args.variants)
    await init_db(dsn)
    redis = Redis.from_url(REDIS_URL)
    key = f"bench:catch-up:{uuid.uuid4().hex}"
    settings = Settings(environment="test", stock_stream_key=key, stock_feed_catch_up_ms=0)
    scheduled = settings.model_copy(update={"stock_feed_catch_up_ms": 400})
    feed, publisher = StockFeed(redis, settings), StockPublisher(redis, settings)
    watcher = StockFeed(redis, scheduled)  # the lost-publish timing, on its own schedule
    try:
        await feed.start()
        await publisher.start()
        while not feed.healthy:
            await asyncio.sleep(0.01)
        feed.track(catalog.pk.values())
        wall, _ = await _timed(feed.catch_up.round)
        print(
            f"{label}: {len(catalog.pk)} variants; "
            f"first round (reads every one) {wall * 1000:.1f} ms"
        )
        await _idle(feed, args.rounds)
        await _under_load(feed, Writers(list(catalog.pk), args.writers), args.seconds)
        await watcher.start()  # started last: its rounds would count in the CPU above
        watcher.track(catalog.pk.values())
        await asyncio.sleep(1.0)  # it synced and seeded every variant
        variant = next(iter(catalog.pk))
        await _lost(watcher, variant, catalog.pk[variant])
    finally:
        await publisher.close()
        await feed.close()
        await watcher.close()
        await redis.delete(key)
        await redis.aclose()
        await close_db()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--products", type=int, default=54)
    parser.add_argument("--variants", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--skip-sqlite", action="store_true")
    args = parser.parse_args()
    configure_logging(level="WARNING")
    if not args.skip_sqlite:
        with tempfile.TemporaryDirectory() as directory:
            await bench(f"sqlite://{directory}/bench.sqlite3", "SQLite", args)
    EXECUTOR_CACHE.clear()  # tortoise caches SQL per connection name: a new dialect needs it clean
    name = f"vitrina_bench_catch_up_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(f"{args.postgres}/postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        await bench(f"{args.postgres}/{name}", "PostgreSQL", args)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
