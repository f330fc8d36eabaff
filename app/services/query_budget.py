"""A query-cost budget per client in redis: a token bucket that refills at a steady rate."""

from __future__ import annotations

from datetime import datetime

from redis.asyncio import Redis

from app.services.throttles import Bucket, Spent, take

_KEY = "vitrina:query-cost:"


async def spend(*, redis: Redis, client: str, cost: int, per_second: int, now: datetime) -> Spent:
    """Take `cost` from the client's bucket (it holds one second of budget), or refuse."""
    bucket = Bucket(_KEY + client, capacity=per_second, per_second=per_second)
    return await take(redis=redis, buckets=[bucket], cost=cost, now=now)
