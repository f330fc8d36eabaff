"""Token buckets in redis: the one home of the refill-and-take step every rate limit uses."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.domain.checkout import too_many_calls

# One atomic step over every bucket named in KEYS: refill each for the time since its last
# request, then take `cost` from all of them, or from none when any one lacks it (a call
# refused by one bucket costs the others nothing). The caller's clock (milliseconds) is passed
# in; a clock that went back refills nothing. ARGV: now, cost, then capacity and rate per
# second of each bucket. Floats go back as strings (redis truncates Lua numbers to integers).
_TAKE = """
local now = tonumber(ARGV[1])
local cost = tonumber(ARGV[2])
local tokens, ats = {}, {}
local admitted = 1
for i, key in ipairs(KEYS) do
  local capacity = tonumber(ARGV[1 + 2 * i])
  local rate = tonumber(ARGV[2 + 2 * i])
  local state = redis.call('HMGET', key, 'tokens', 'at')
  local t = tonumber(state[1]) or capacity
  local at = tonumber(state[2]) or now
  if now > at then
    t = math.min(capacity, t + (now - at) * rate / 1000)
    at = now
  end
  tokens[i], ats[i] = t, at
  if t < cost then admitted = 0 end
end
local left = {admitted}
for i, key in ipairs(KEYS) do
  local capacity = tonumber(ARGV[1 + 2 * i])
  local rate = tonumber(ARGV[2 + 2 * i])
  local t = tokens[i]
  if admitted == 1 then t = t - cost end
  redis.call('HSET', key, 'tokens', string.format('%.3f', t), 'at', string.format('%d', ats[i]))
  redis.call('PEXPIRE', key, math.ceil((capacity - t) / rate * 1000) + 1000)
  left[i + 1] = string.format('%.3f', t)
end
return left
"""


@dataclass(frozen=True)
class Bucket:
    """A bucket of `capacity` tokens in redis under `key`, refilled at `per_second`."""

    key: str
    capacity: float
    per_second: float


@dataclass(frozen=True)
class Spent:
    admitted: bool
    remaining: int  # what is left in the emptiest bucket after this request
    retry_after: int  # refused: whole seconds until every bucket holds the cost again


async def take(*, redis: Redis, buckets: Sequence[Bucket], cost: int, now: datetime) -> Spent:
    """Take `cost` from every bucket at once, or from none of them and refuse."""
    args = [str(int(now.timestamp() * 1000)), str(cost)]
    for bucket in buckets:
        args += [f"{bucket.capacity:.3f}", f"{bucket.per_second:.6f}"]
    admitted, *left = await redis.eval(  # type: ignore[misc]
        _TAKE, len(buckets), *(b.key for b in buckets), *args
    )
    tokens = [float(t) for t in left]
    waits = [
        math.ceil((cost - t) / b.per_second)
        for b, t in zip(buckets, tokens, strict=True)
        if t < cost
    ]
    return Spent(
        admitted=bool(admitted),
        remaining=math.floor(min(tokens, default=0)),
        retry_after=0 if admitted else max(1, *waits),
    )


async def spend_or_refuse(
    *, redis: Redis, buckets: Sequence[Bucket], now: datetime, outage_event: str, call: str
) -> None:
    """Take one call from every bucket, or refuse it (TOO_MANY_ATTEMPTS with `retry_after`).

    A redis that cannot answer lets the call through, logged as `outage_event`: a throttle
    outage costs fairness for a while, never stock (reservation is atomic in the database)."""
    if not buckets:
        return
    try:
        spent = await take(redis=redis, buckets=buckets, cost=1, now=now)
    except RedisError as error:
        structlog.get_logger(__name__).warning(outage_event, call=call, error=repr(error))
        return
    if not spent.admitted:
        raise too_many_calls(spent.retry_after)
