"""RetailCRM's request budget: one per API key, in redis, shared by every process that calls.

RetailCRM allows 10 requests per second per API key and answers 503 past that. Every RetailCRM
call of every process (the outbox's delivery worker, and later the history pull) takes its turn
here first, so together they stay under the limit however many processes run.

The budget is GCRA (the generic cell rate algorithm): redis keeps, per key, the moment the next
call may leave; taking a turn moves it on by 1/rate and answers how long to wait. Turns are
evenly spaced and first come first served, across processes, on redis' own clock (the callers'
clocks may disagree). One atomic script per turn; the key expires once it is in the past.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.integrations.errors import RetryableError

_KEY = "vitrina:retailcrm:budget:"

# Microseconds on redis' clock (TIME). Lua numbers are doubles: exact up to 2^53 µs (285 years).
_TAKE_TURN = """
local now_s = redis.call('TIME')
local now = tonumber(now_s[1]) * 1000000 + tonumber(now_s[2])
local interval = tonumber(ARGV[1])
local next_at = tonumber(redis.call('GET', KEYS[1]) or '0')
if next_at < now then next_at = now end
local after = next_at + interval
local ttl = math.floor((after - now) / 1000) + 1000
redis.call('SET', KEYS[1], string.format('%d', after), 'PX', ttl)
return string.format('%d', next_at - now)
"""


class Budget(Protocol):
    async def acquire(self) -> None: ...


def key_digest(api_key: str) -> str:
    """An API key as redis keys name it (the key itself is a secret)."""
    return hashlib.sha256(api_key.encode()).hexdigest()[:24]


def budget_key(api_key: str) -> str:
    """The redis key of an API key's budget."""
    return _KEY + key_digest(api_key)


class RedisBudget:
    """Turns of one API key's budget, at most `per_second`, shared through redis."""

    def __init__(
        self,
        redis_url: str,
        api_key: str,
        per_second: float,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if per_second <= 0:
            raise ValueError("per_second must be positive")
        self._redis = Redis.from_url(redis_url)
        self._key = budget_key(api_key)
        self._interval_us = round(1_000_000 / per_second)
        self._sleep = sleep

    async def acquire(self) -> None:
        """Wait for this call's turn; redis out of reach is a RetryableError (try later)."""
        try:
            wait_us = int(await self._redis.eval(_TAKE_TURN, 1, self._key, str(self._interval_us)))
        except RedisError as exc:
            raise RetryableError(f"RetailCRM budget unavailable: {exc}") from exc
        if wait_us > 0:
            await self._sleep(wait_us / 1_000_000)

    async def aclose(self) -> None:
        await self._redis.aclose()
