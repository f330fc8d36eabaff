"""A second (and third) process ticking one drop at once: run as
`python -m tests.services.waiting_room.admitting_process <redis url> <collection id>`.

Each round reads redis's clock, then the drop's free units (a key the test moves as units
are bought), then admits within that budget with no tick lock, as two API processes whose
lock expired mid-tick would. Starts on the go key, stops on the stop key."""

from __future__ import annotations

import asyncio
import random
import sys

from redis.asyncio import Redis

from app.services.waiting_room.admission import admit_within_budget
from app.services.waiting_room.store import Keys

FREE_KEY, STOP_KEY, READY_KEY, GO_KEY = "test:free", "test:stop", "test:ready", "test:go"
EXPIRY_MS = 2**50  # passes outlive the test


async def run(url: str, collection_id: int) -> int:
    redis, keys, rounds = Redis.from_url(url), Keys(collection_id), 0
    try:
        await redis.incr(READY_KEY)
        while not await redis.exists(GO_KEY):  # both processes start ticking together
            await asyncio.sleep(0.001)
        while not await redis.exists(STOP_KEY):
            seconds, micros = await redis.time()
            began = int(seconds) * 1000 + int(micros) // 1000
            free = int(await redis.get(FREE_KEY) or 0)
            await asyncio.sleep(random.random() / 500)  # a slow tick: the stock moves meanwhile
            await admit_within_budget(
                redis,
                keys,
                fence="",
                now_ms=began,
                expiry_ms=EXPIRY_MS,
                per_tick=3,
                free_units=free,
                sold_out=False,
                release_ms=0,
                visible_before_ms=began - 1,
            )
            rounds += 1
    finally:
        await redis.aclose()
    return rounds


if __name__ == "__main__":
    print(asyncio.run(run(sys.argv[1], int(sys.argv[2]))))
