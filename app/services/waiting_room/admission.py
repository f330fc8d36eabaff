"""Admission and pass use in redis, one atomic script each: the budget is checked against the
live passes inside the same step that admits, so ticks of two processes at once (a lock that
expired mid-tick, a slow tick) can never admit more than the free units between them.

The rules are the domain's (`admission_count`, `unserved_passes`, `extended_expiry`); the
scripts run them where the state is, and tests/services/waiting_room/test_admission.py holds
the scripts to the domain's answers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from redis.asyncio import Redis

from app.services.waiting_room.store import KEEP_BUT_LOCK, Keys, run_script, text_of

_FAR = 2**62  # "no hold expiry known": a mark that never lapses by time alone

# Settle and admit, in one step. Passes out of time expire; served marks of passes gone or
# holds run out are dropped; spent passes older than a minute are forgotten. Then:
#   unserved = live passes not served-and-visible + spent passes not visible yet
#   admit    = max(0, min(free - unserved, waiting, per tick))   (admission_count)
# "Visible": held (or used) at or before `visible_before` (redis's clock, like the marks), the
# instant the free units given were known to include it. A fence ('' = none) lets only the
# lock holder run it.
# KEYS: meta, line, status, passes, order, recent, served, spent, since, tick.
# ARGV: fence, now ms, pass expiry ms, per tick, free units, sold out (0/1), release ms,
#       visible before ms.
# Answers {admitted (-1: fence lost), live passes after, unserved before, waiting after}.
_ADMIT = (
    """
local meta, line, status, passes, order, recent, served, spent, since, tick =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10]
if ARGV[1] ~= '' and redis.call('GET', tick) ~= ARGV[1] then return {-1, 0, 0, 0} end
local now, visible = tonumber(ARGV[2]), tonumber(ARGV[8])
for _, t in ipairs(redis.call('ZRANGEBYSCORE', passes, '-inf', now)) do
  redis.call('HSET', status, t, 'x')
  redis.call('HDEL', served, t)
end
redis.call('ZREMRANGEBYSCORE', passes, '-inf', now)
redis.call('ZREMRANGEBYSCORE', spent, '-inf', visible - 60000)
local live = redis.call('ZCARD', passes)
local seen = 0
local marks = redis.call('HGETALL', served)
for i = 1, #marks, 2 do
  local at, untl = string.match(marks[i + 1], '^(%d+):(%d+)$')
  at, untl = tonumber(at), tonumber(untl)
  if untl <= now or not redis.call('ZSCORE', passes, marks[i]) then
    redis.call('HDEL', served, marks[i])
  elseif at <= visible then
    seen = seen + 1
  end
end
local unserved = live - seen + redis.call('ZCOUNT', spent, '(' .. visible, '+inf')
local waiting = redis.call('ZCARD', line)
local count = math.max(0, math.min(tonumber(ARGV[5]) - unserved, waiting, tonumber(ARGV[4])))
local admitted = 0
if count > 0 then
  local popped = redis.call('ZPOPMIN', line, count)
  for i = 1, #popped, 2 do
    local t = popped[i]
    admitted = admitted + 1
    redis.call('HSET', status, t, 'a')
    redis.call('ZADD', passes, ARGV[3], t)
    redis.call('HSET', since, t, ARGV[2])
    redis.call('HSET', order, t, redis.call('HINCRBY', meta, 'admitted', 1))
  end
end
if admitted > 0 then redis.call('ZADD', recent, ARGV[2], ARGV[2] .. ':' .. admitted) end
redis.call('ZREMRANGEBYSCORE', recent, '-inf', now - 60000)
if ARGV[6] == '1' then
  if redis.call('HGET', meta, 'sold_out') ~= '1' then
    redis.call('HSET', meta, 'sold_out_at', ARGV[2])
  end
  redis.call('HSET', meta, 'sold_out', 1)
else
  redis.call('HSET', meta, 'sold_out', 0)
end
redis.call('HSET', meta, 'tick_at', ARGV[2], 'release_ms', ARGV[7])
"""
    + KEEP_BUT_LOCK
    + "return {admitted, live + admitted, unserved, waiting - admitted}"
)

# A pass in use: if the queue is the pass's (epoch) and the pass is live, extend it to
#   max(expiry, min(now + extend, admitted + cap))   (extended_expiry)
# KEYS: meta, status, passes, since. ARGV: ticket, epoch, now ms, extend ms, cap ms.
# Answers {'live', expiry ms} | {'spent', ''} (used, expired) | {'other', ''} (another queue).
_TOUCH = """
local meta, status, passes, since = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
if redis.call('HGET', meta, 'epoch') ~= ARGV[2] then return {'other', ''} end
local now = tonumber(ARGV[3])
local expiry = tonumber(redis.call('ZSCORE', passes, ARGV[1]) or '0')
if redis.call('HGET', status, ARGV[1]) ~= 'a' or expiry <= now then return {'spent', ''} end
local admitted = tonumber(redis.call('HGET', since, ARGV[1]) or '0')
local longer = math.max(expiry, math.min(now + tonumber(ARGV[4]), admitted + tonumber(ARGV[5])))
if admitted > 0 and longer > expiry then
  redis.call('ZADD', passes, 'XX', longer, ARGV[1])
  expiry = longer
end
return {'live', string.format('%d', expiry)}
"""

# Redis's clock in ms: marks are made after their transaction committed, so a stock read that
# started later (by the same clock) shows the units they stand for.
_NOW = """
local clock = redis.call('TIME')
local marked = clock[1] * 1000 + math.floor(clock[2] / 1000)
"""

# The pass's holder now holds units (its transaction committed): keep the first instant it
# held (a later add must not make it look unseen again), the newest hold expiry.
# KEYS: meta, passes, served. ARGV: ticket, epoch, hold expiry ms.
_HELD = (
    _NOW
    + """
local meta, passes, served = KEYS[1], KEYS[2], KEYS[3]
if redis.call('HGET', meta, 'epoch') ~= ARGV[2] then return 0 end
if not redis.call('ZSCORE', passes, ARGV[1]) then return 0 end
local at = string.format('%d', marked)
local known = redis.call('HGET', served, ARGV[1])
if known then at = string.match(known, '^(%d+):') end
redis.call('HSET', served, ARGV[1], at .. ':' .. ARGV[3])
return 1
"""
)

# The pass bought (an order placed with it, committed): used, out of the live passes; it is
# counted as unserved until figures read after now show its unit gone.
# KEYS: meta, status, passes, served, spent. ARGV: ticket, epoch.
_USED = (
    _NOW
    + """
local meta, status, passes, served, spent = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
if redis.call('HGET', meta, 'epoch') ~= ARGV[2] then return 0 end
if redis.call('HGET', status, ARGV[1]) ~= 'a' then return 0 end
redis.call('HSET', status, ARGV[1], 'u')
redis.call('ZREM', passes, ARGV[1])
redis.call('HDEL', served, ARGV[1])
redis.call('ZADD', spent, marked, ARGV[1])
return 1
"""
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Admitted:
    """What one atomic admission step did."""

    admitted: int  # -1: the fence was lost (another process ticks)
    live: int  # live passes after it
    unserved: int  # before it: passes that may still take a free unit
    waiting: int  # still in line after it


async def admit_within_budget(
    redis: Redis,
    keys: Keys,
    *,
    fence: str,
    now_ms: int,
    expiry_ms: int,
    per_tick: int,
    free_units: int,
    sold_out: bool,
    release_ms: int,
    visible_before_ms: int,
) -> Admitted:
    """Settle the passes and admit as many as the free units allow, in one redis step."""
    names = keys.of(
        "meta", "line", "status", "passes", "order", "recent", "served", "spent", "since", "tick"
    )
    args = [
        fence,
        now_ms,
        expiry_ms,
        per_tick,
        free_units,
        "1" if sold_out else "0",
        release_ms,
        visible_before_ms,
    ]
    admitted, live, unserved, waiting = (
        int(v) for v in await run_script(redis, _ADMIT, names, args)
    )
    return Admitted(admitted=admitted, live=live, unserved=unserved, waiting=waiting)


async def touch_pass(
    redis: Redis,
    keys: Keys,
    *,
    ticket: int,
    epoch: str,
    now_ms: int,
    extend_ms: int,
    cap_ms: int,
) -> tuple[str, datetime | None]:
    """('live', new expiry) | ('spent', None) | ('other', None): see _TOUCH."""
    names = keys.of("meta", "status", "passes", "since")
    found = await run_script(redis, _TOUCH, names, [ticket, epoch, now_ms, extend_ms, cap_ms])
    state, expiry = text_of(found[0]), text_of(found[1])
    return state, datetime.fromtimestamp(int(expiry) / 1000, UTC) if expiry else None


async def mark_held(
    redis: Redis, keys: Keys, *, ticket: int, epoch: str, until_ms: int | None
) -> bool:
    """Record that the pass's holder holds units until `until_ms` (None: no expiry known)."""
    until = _FAR if until_ms is None else until_ms
    names = keys.of("meta", "passes", "served")
    return bool(await run_script(redis, _HELD, names, [ticket, epoch, until]))


async def unmark_held(redis: Redis, keys: Keys, *, ticket: int) -> None:
    """The holder let units go: count the pass as unserved again (the safe side)."""
    await redis.hdel(keys.served, str(ticket))  # type: ignore[misc]


async def mark_used(redis: Redis, keys: Keys, *, ticket: int, epoch: str) -> bool:
    """The pass bought: used (once; a second call changes nothing)."""
    names = keys.of("meta", "status", "passes", "served", "spent")
    return bool(await run_script(redis, _USED, names, [ticket, epoch]))
