"""A partner token's request budget: a leaky bucket in redis, as Shopify's REST API has.

Each request pours one unit into the token's bucket; the bucket leaks `per_second` units a
second and holds `burst`. A request that would overflow it is refused, and told when one
more fits. Every API process shares the bucket, so the limit holds however many there are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from redis.asyncio import Redis

_KEY = "vitrina:partner-bucket:"

# One atomic step: leak for the time since the last request, then pour one unit if it fits.
# The caller's clock (milliseconds) is passed in; a clock that went back leaks nothing.
_POUR = """
local burst = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'level', 'at')
local level = tonumber(state[1]) or 0
local at = tonumber(state[2]) or now
if now > at then
  level = math.max(0, level - (now - at) * rate / 1000)
  at = now
end
local admitted = 0
if level + 1 <= burst then
  level = level + 1
  admitted = 1
end
redis.call('HSET', KEYS[1], 'level', string.format('%.3f', level), 'at', string.format('%d', at))
redis.call('PEXPIRE', KEYS[1], math.ceil(level / rate * 1000) + 1000)
return {admitted, string.format('%.3f', level)}
"""


@dataclass(frozen=True)
class Poured:
    admitted: bool
    limit: int  # the bucket's size
    remaining: int  # requests that fit now
    reset: int  # seconds until the bucket is empty again
    retry_after: int  # refused: seconds until one request fits


async def pour(
    *, redis: Redis, token_id: int, now: datetime, per_second: float, burst: int
) -> Poured:
    """Count one request of the token, or refuse it when its bucket is full."""
    admitted, raw = await redis.eval(  # type: ignore[misc]
        _POUR, 1, f"{_KEY}{token_id}", str(burst), str(per_second), str(int(now.timestamp() * 1000))
    )
    level = float(raw)
    wait = 0 if admitted else max(1, math.ceil((level + 1 - burst) / per_second))
    return Poured(
        admitted=bool(admitted),
        limit=burst,
        remaining=max(0, math.floor(burst - level)),
        reset=math.ceil(level / per_second),
        retry_after=wait,
    )
