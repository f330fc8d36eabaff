"""A query-cost budget per client in redis: a token bucket that refills at a steady rate."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from redis.asyncio import Redis

_KEY = "vitrina:query-cost:"

# One atomic step: refill for the time since the last request, then take `cost` if it is there.
# The caller's clock (milliseconds) is passed in; a clock that went back refills nothing.
# Floats go back as strings (redis truncates Lua numbers to integers).
_SPEND = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
if now > at then
  tokens = math.min(capacity, tokens + (now - at) * rate / 1000)
  at = now
end
local admitted = 0
if tokens >= cost then
  tokens = tokens - cost
  admitted = 1
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.3f', tokens), 'at', string.format('%d', at))
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - tokens) / rate * 1000) + 1000)
return {admitted, string.format('%.3f', tokens)}
"""


@dataclass(frozen=True)
class Spent:
    admitted: bool
    remaining: int  # what is left in the bucket after this request
    retry_after: int  # refused: whole seconds until the bucket holds the cost again


async def spend(*, redis: Redis, client: str, cost: int, per_second: int, now: datetime) -> Spent:
    """Take `cost` from the client's bucket (it holds one second of budget), or refuse."""
    admitted, left = await redis.eval(  # type: ignore[misc]
        _SPEND,
        1,
        _KEY + client,
        str(per_second),
        str(per_second),
        str(int(now.timestamp() * 1000)),
        str(cost),
    )
    tokens = float(left)
    wait = 0 if admitted else max(1, math.ceil((cost - tokens) / per_second))
    return Spent(admitted=bool(admitted), remaining=math.floor(tokens), retry_after=wait)
