"""Does `requestPasswordReset` take as long for an address without an account as with one?

Migrates a throwaway database (a SQLite file, or PostgreSQL with --postgres), creates one
account, then calls `request_password_reset` through the service, with the app's real arq queue
and redis, alternating an address that has an account and one that has none, and prints the
median, 10th and 90th percentile of each (after a warm-up). Message throttles are lifted so
every call does the whole work; `--floor 0` measures the work without the answer floor. Usage:

    uv run python bench/reset_timing.py [--calls 200] [--floor 0]
        [--postgres postgres://postgres@127.0.0.1:5432] [--redis redis://127.0.0.1:6379/9]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
from redis.asyncio import Redis

from app.db import close_db, init_db, run_migrations
from app.models.customers import Customer
from app.services.accounts import recovery
from app.services.accounts.caller import AccountCall, Device
from app.services.accounts.recovery import request_password_reset
from app.settings import Settings
from app.workers.queue import ArqQueue

ACCOUNT, NOBODY = "anna@example.com", "nobody@example.com"
WARM_UP = 20


async def measure(calls: int, database_url: str, redis_url: str) -> dict[str, list[float]]:
    await run_migrations(database_url)
    await init_db(database_url)
    await Customer.create(guid=str(uuid.uuid4()), email=ACCOUNT, password_hash="argon2id$…")
    settings = Settings(environment="test", messages_per_address=10**9, messages_per_ip=10**9)
    redis, jobs = Redis.from_url(redis_url), ArqQueue(redis_url)
    call = AccountCall(
        redis=redis, jobs=jobs, settings=settings, device=Device(ip="192.0.2.1"), now=_now()
    )
    timings: dict[str, list[float]] = {ACCOUNT: [], NOBODY: []}
    try:
        for n in range(WARM_UP + calls):
            for email in (ACCOUNT, NOBODY) if n % 2 else (NOBODY, ACCOUNT):
                started = time.perf_counter()
                await request_password_reset(call=call, email=email)
                if n >= WARM_UP:
                    timings[email].append((time.perf_counter() - started) * 1000)
    finally:
        await _forget(redis)
        await redis.aclose()
        await jobs.aclose()
        await close_db()
    return timings


def _now() -> datetime:
    return datetime.now(UTC)


async def _forget(redis: Redis) -> None:
    """Leave the redis database as found: reset keys, message counters, the queued wake-ups."""
    for pattern in ("vitrina:account:reset:*", "vitrina:messages:*", "arq:*", "vitrina:deliver:*"):
        keys = [key async for key in redis.scan_iter(match=pattern, count=1000)]
        if keys:
            await redis.delete(*keys)


def report(timings: dict[str, list[float]]) -> None:
    for email, label in ((ACCOUNT, "with an account"), (NOBODY, "without")):
        values = sorted(timings[email])
        deciles = statistics.quantiles(values, n=10)
        print(
            f"{label:16} n={len(values)} median={statistics.median(values):.2f} ms "
            f"p10={deciles[0]:.2f} p90={deciles[-1]:.2f}"
        )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--postgres", default=None)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/9")
    parser.add_argument("--floor", type=float, default=None, help="seconds; 0 shows the work alone")
    args = parser.parse_args()
    if args.floor is not None:
        recovery.ANSWER_FLOOR = args.floor
    if args.postgres is None:
        with tempfile.TemporaryDirectory() as directory:
            url = f"sqlite://{Path(directory) / 'reset.sqlite3'}"
            report(await measure(args.calls, url, args.redis))
        return
    name = f"vitrina_bench_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(f"{args.postgres}/postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        report(await measure(args.calls, f"{args.postgres}/{name}", args.redis))
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
