"""Admission in one redis step: the script answers as the domain's budget does, and ticks of
two processes at once never admit more shoppers than there are units, on a real redis."""

from __future__ import annotations

import asyncio
import random
import sys
from datetime import UTC, datetime

from redis.asyncio import Redis

from app.domain.waiting_room import PassUse, admission_count, unserved_passes
from app.services.waiting_room.admission import (
    admit_within_budget,
    mark_held,
    mark_used,
    touch_pass,
)
from app.services.waiting_room.store import Keys
from tests.services.waiting_room.admitting_process import FREE_KEY, GO_KEY, READY_KEY, STOP_KEY

KEYS = Keys(1)
NOW_MS = 1_800_000_000_000


def _instant(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


async def _given_queue(redis: Redis, *, waiting: int, first: int = 1) -> None:
    await redis.hset(KEYS.meta, mapping={"epoch": "e", "drawn": 1, "admitted": 0})  # type: ignore[misc]
    if waiting:
        await redis.zadd(KEYS.line, {str(n): n for n in range(first, first + waiting)})
        await redis.hset(KEYS.status, mapping={str(n): "w" for n in range(first, first + waiting)})  # type: ignore[misc]


async def _admit(redis: Redis, *, free: int, visible: int, per_tick: int = 50) -> int:
    done = await admit_within_budget(
        redis,
        KEYS,
        fence="",
        now_ms=NOW_MS,
        expiry_ms=NOW_MS + 600_000,
        per_tick=per_tick,
        free_units=free,
        sold_out=False,
        release_ms=0,
        visible_before_ms=visible,
    )
    return done.admitted


async def test_the_script_admits_as_many_as_the_domains_budget_says(redis: Redis) -> None:
    rng = random.Random(11)
    for _ in range(40):
        await redis.flushdb()
        # given: live passes, some of whose holders hold units (seen by the figures or not,
        # the hold live or run out), passes used lately, a line, and the free units
        await _given_queue(redis, waiting=rng.randint(0, 30), first=1000)
        visible = NOW_MS - rng.randint(0, 3000)
        uses: list[PassUse] = []
        for n in range(rng.randint(0, 12)):
            await redis.zadd(KEYS.passes, {str(n): NOW_MS + 60_000})
            await redis.hset(KEYS.status, str(n), "a")  # type: ignore[misc]
            if rng.random() < 0.6:
                at, until = NOW_MS - rng.randint(0, 6000), NOW_MS + rng.randint(-5000, 5000)
                await redis.hset(KEYS.served, str(n), f"{at}:{until}")  # type: ignore[misc]
                uses.append(PassUse(held_at=_instant(at), held_until=_instant(until)))
            else:
                uses.append(PassUse())
        spent = [NOW_MS - rng.randint(0, 6000) for _ in range(rng.randint(0, 5))]
        for n, at in enumerate(spent, start=500):
            await redis.zadd(KEYS.spent, {str(n): at})
        free, per_tick = rng.randint(0, 20), rng.randint(1, 10)
        waiting = int(await redis.zcard(KEYS.line))

        admitted = await _admit(redis, free=free, visible=visible, per_tick=per_tick)

        unserved = unserved_passes(
            uses,
            spent_unseen=sum(1 for at in spent if at > visible),
            now=_instant(NOW_MS),
            visible_before=_instant(visible),
        )
        assert admitted == admission_count(free, unserved, waiting=waiting, per_tick=per_tick)


async def test_a_hold_or_an_order_after_the_figures_were_read_still_takes_room(
    redis: Redis,
) -> None:
    await _given_queue(redis, waiting=5, first=10)
    assert await _admit(redis, free=2, visible=NOW_MS) == 2  # tickets 10 and 11
    await mark_held(redis, KEYS, ticket=10, epoch="e", until_ms=None)
    await mark_used(redis, KEYS, ticket=11, epoch="e")
    seconds, _ = await redis.time()
    before_marks = int(seconds) * 1000 - 5_000

    # figures read before the marks: both units may still look free, both passes take them
    assert await _admit(redis, free=2, visible=before_marks) == 0
    # figures read after the marks (both units gone): nothing is free, nothing more admitted
    assert await _admit(redis, free=0, visible=before_marks + 60_000) == 0
    # one unit came back: the held pass is served, the used one is gone: one more admitted
    assert await _admit(redis, free=1, visible=before_marks + 60_000) == 1
    assert await redis.hget(KEYS.status, "11") == b"u"  # type: ignore[misc]


async def test_a_pass_in_use_extends_up_to_its_cap_and_a_used_one_does_not(redis: Redis) -> None:
    await _given_queue(redis, waiting=2, first=1)
    await _admit(redis, free=2, visible=NOW_MS)  # admitted at NOW_MS, 10 minutes
    minute = 60_000

    extended = await touch_pass(
        redis,
        KEYS,
        ticket=1,
        epoch="e",
        now_ms=NOW_MS + 8 * minute,
        extend_ms=5 * minute,
        cap_ms=30 * minute,
    )
    capped = await touch_pass(
        redis,
        KEYS,
        ticket=1,
        epoch="e",
        now_ms=NOW_MS + 12 * minute,
        extend_ms=30 * minute,
        cap_ms=20 * minute,
    )
    await mark_used(redis, KEYS, ticket=2, epoch="e")
    used = await touch_pass(
        redis, KEYS, ticket=2, epoch="e", now_ms=NOW_MS, extend_ms=minute, cap_ms=minute
    )
    other = await touch_pass(
        redis, KEYS, ticket=1, epoch="old", now_ms=NOW_MS, extend_ms=minute, cap_ms=minute
    )

    assert extended == ("live", _instant(NOW_MS + 13 * minute))
    assert capped == ("live", _instant(NOW_MS + 20 * minute))
    assert await redis.zscore(KEYS.passes, "1") == NOW_MS + 20 * minute
    assert (used, other) == (("spent", None), ("other", None))


async def test_ticks_of_two_processes_at_once_never_admit_more_than_the_units(
    redis: Redis, redis_url: str
) -> None:
    # given: 300 waiting for 40 units; two other processes tick without any lock
    units = 40
    await _given_queue(redis, waiting=300, first=1)
    await redis.set(FREE_KEY, units)
    tickers = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.services.waiting_room.admitting_process",
            redis_url,
            "1",
            stdout=asyncio.subprocess.PIPE,
        )
        for _ in range(2)
    ]
    rng, highest, held_or_used = random.Random(5), 0, 0
    try:
        # when: this process buys for the admitted (the unit leaves stock, then the mark),
        # some holding in a cart and some ordering, until nothing is free
        async with asyncio.timeout(60):
            while int(await redis.get(READY_KEY) or 0) < 2:
                await asyncio.sleep(0.01)
            await redis.set(GO_KEY, 1)
            while held_or_used < units:
                live = [int(t) for t in await redis.zrange(KEYS.passes, 0, -1)]
                highest = max(highest, int(await redis.hget(KEYS.meta, "admitted") or 0))  # type: ignore[misc]
                fresh = [t for t in live if not await redis.hexists(KEYS.served, str(t))]  # type: ignore[misc]
                if not fresh:
                    await asyncio.sleep(0.001)
                    continue
                ticket = rng.choice(fresh)
                await redis.decr(FREE_KEY)
                if rng.random() < 0.5:
                    await mark_used(redis, KEYS, ticket=ticket, epoch="e")
                else:
                    await mark_held(redis, KEYS, ticket=ticket, epoch="e", until_ms=None)
                held_or_used += 1
                highest = max(highest, int(await redis.hget(KEYS.meta, "admitted") or 0))  # type: ignore[misc]
                assert highest <= units
            await asyncio.sleep(0.2)  # the tickers go on a little with nothing free
    finally:
        await redis.set(STOP_KEY, 1)
        rounds = [int((await t.communicate())[0]) for t in tickers]

    # then: every unit went to a pass, and not one pass more was ever given
    assert int(await redis.hget(KEYS.meta, "admitted") or 0) == units  # type: ignore[misc]
    assert int(await redis.get(FREE_KEY) or 0) == 0
    assert int(await redis.zcard(KEYS.line)) == 300 - units
    assert min(rounds) > 10  # both processes really ticked, side by side
