"""A drop's waiting room in redis: the keys and the Lua scripts that move it, one atomic step
each. Nothing lives in the API process, so a restart (or another process) carries on.

Keys per drop share the hash tag `{collection id}` (one cluster slot):
  meta     HASH  epoch, seq (tickets so far), drawn (0/1), admitted (passes so far), sold_out
                 (0/1), sold_out_at (ms), tick_at (ms)
  pre      ZSET  ticket → join number: the pre-queue, until the draw at the release
  line     ZSET  ticket → place: 0.. for the drawn, 1e12 + join number for later arrivals
  devices  HASH  device key → its newest ticket (one place per device)
  status   HASH  ticket → w (waiting) | a (admitted) | u (used) | x (expired)
  passes   ZSET  ticket → expiry (ms): the live passes
  order    HASH  ticket → admission number (1, 2, …)
  recent   ZSET  "ms:count" → ms: admissions of the last minute (the estimate's rate)
  served   HASH  ticket → "held at ms:hold expiry ms": a live pass whose cart holds units
  spent    ZSET  ticket → ms the pass was used (an order placed): counted until figures show it
  since    HASH  ticket → ms admitted (a pass in use extends up to a cap after it)
  tick     STR   the fencing token of the process ticking now (expires after one tick)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

KEEP_SECONDS = 7 * 24 * 3600  # a drop's queue outlives its rush by days, then redis drops it
LATE = 10**12  # arrivals after the release queue behind every drawn place
_NAMES = "meta pre line devices status passes order recent served spent since tick".split()

# Everything below runs inside redis, one script at a time: no other command sees a half-step.
_KEEP = f"for i = 1, #KEYS do redis.call('EXPIRE', KEYS[i], {KEEP_SECONDS}) end\n"
# the same, but for the last key: the tick lock, which must expire after one tick
KEEP_BUT_LOCK = f"for i = 1, #KEYS - 1 do redis.call('EXPIRE', KEYS[i], {KEEP_SECONDS}) end\n"

# Join: the device's live ticket if it has one (waiting or admitted), else a new one: in the
# pre-queue before the draw, else at the back of the line.
# ARGV: device, new epoch, pre (0/1), release ms.
_JOIN = (
    """
local meta, pre, line, devices, status = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
if redis.call('EXISTS', meta) == 0 then
  redis.call('HSET', meta, 'epoch', ARGV[2], 'seq', 0, 'admitted', 0, 'sold_out', 0,
    'drawn', ARGV[3] == '1' and 0 or 1)
end
redis.call('HSET', meta, 'release_ms', ARGV[4])
local epoch = redis.call('HGET', meta, 'epoch')
local known = redis.call('HGET', devices, ARGV[1])
if known then
  local st = redis.call('HGET', status, known)
  if st == 'w' or st == 'a' then return {epoch, known} end
end
local n = redis.call('HINCRBY', meta, 'seq', 1)
redis.call('HSET', devices, ARGV[1], n)
redis.call('HSET', status, n, 'w')
if ARGV[3] == '1' and redis.call('HGET', meta, 'drawn') == '0' then
  redis.call('ZADD', pre, n, n)
else
  redis.call('ZADD', line, """
    + str(LATE)
    + """ + n, n)
end
"""
    + _KEEP
    + "return {epoch, tostring(n)}"
)

# The draw, once: the pre-queue takes the places 0.. in the order given (the lottery's); a
# ticket that joined the pre-queue after it was read goes behind them, in join order.
# ARGV: epoch, then the drawn tickets. Answers the places given, or -1 if already drawn.
_DRAW = """
local meta, pre, line = KEYS[1], KEYS[2], KEYS[3]
if redis.call('HGET', meta, 'drawn') ~= '0' or redis.call('HGET', meta, 'epoch') ~= ARGV[1] then
  return -1
end
local n = 0
for i = 2, #ARGV do
  if redis.call('ZSCORE', pre, ARGV[i]) then
    redis.call('ZADD', line, n, ARGV[i])
    redis.call('ZREM', pre, ARGV[i])
    n = n + 1
  end
end
for _, t in ipairs(redis.call('ZRANGE', pre, 0, -1)) do
  redis.call('ZADD', line, n, t)
  n = n + 1
end
redis.call('DEL', pre)
redis.call('HSET', meta, 'drawn', 1)
return n
"""

# A waiter asks: their ticket's state and place, the pass expiry, the admissions of the last
# minute, whether the drop is sold out; and whether this caller should tick now (a tick is due
# and it won the lock). ARGV: ticket, epoch, now ms, tick ms, fence.
_STATUS = """
local meta, line, status, passes, recent, tick =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local epoch = redis.call('HGET', meta, 'epoch')
if not epoch then return {'gone'} end
local now = tonumber(ARGV[3])
local ticking = '0'
if now - tonumber(redis.call('HGET', meta, 'tick_at') or '0') >= tonumber(ARGV[4]) then
  if redis.call('SET', tick, ARGV[5], 'NX', 'PX', ARGV[4]) then ticking = '1' end
end
local release = redis.call('HGET', meta, 'release_ms') or ''
if epoch ~= ARGV[2] then return {'reset', '', '', '', '', ticking, release} end
local st = redis.call('HGET', status, ARGV[1]) or 'gone'
local place = ''
if st == 'w' then
  local r = redis.call('ZRANK', line, ARGV[1])
  if r then place = tostring(r + 1) end
end
local recently = 0
for _, m in ipairs(redis.call('ZRANGEBYSCORE', recent, now - 60000, '+inf')) do
  recently = recently + tonumber(string.match(m, ':(%d+)$'))
end
local expiry = redis.call('ZSCORE', passes, ARGV[1]) or ''
local sold = redis.call('HGET', meta, 'sold_out') or '0'
return {st, place, expiry, tostring(recently), sold, ticking, release}
"""


@dataclass(frozen=True, slots=True)
class Keys:
    """The redis keys of one drop's queue."""

    collection_id: int

    def __getattr__(self, name: str) -> str:
        if name not in _NAMES:
            raise AttributeError(name)
        return f"vitrina:queue:{{{self.collection_id}}}:{name}"

    def of(self, *names: str) -> list[str]:
        return [getattr(self, n) for n in names]


@dataclass(frozen=True, slots=True, kw_only=True)
class Standing:
    """A ticket as redis holds it."""

    status: str  # w | a | u | x | gone (unknown ticket) | reset (another epoch)
    place: int | None  # in line (1 = next); None before the draw or when not waiting
    pass_expiry_ms: int | None
    admitted_last_minute: int
    sold_out: bool
    should_tick: bool
    release_ms: int | None

    @classmethod
    def gone(cls) -> Standing:
        """A ticket redis does not know."""
        return cls(
            status="gone",
            place=None,
            pass_expiry_ms=None,
            admitted_last_minute=0,
            sold_out=False,
            should_tick=False,
            release_ms=None,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Figures:
    """What an admin sees of one drop's queue."""

    exists: bool
    drawn: bool
    pre_queue: int
    in_line: int
    admitted: int
    passes_live: int
    sold_out: bool
    sold_out_at_ms: int | None
    tick_at_ms: int | None


async def run_script(redis: Redis, source: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
    # redis-py's Script: EVALSHA, loading the source once if redis does not know it yet
    return await redis.register_script(source)(keys=list(keys), args=list(args))


def text_of(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def join(
    redis: Redis, keys: Keys, *, device: str, epoch: str, pre: bool, release_ms: int
) -> tuple[str, int]:
    """The device's place: (epoch, ticket number)."""
    names = keys.of("meta", "pre", "line", "devices", "status")
    found = await run_script(redis, _JOIN, names, [device, epoch, "1" if pre else "0", release_ms])
    return text_of(found[0]), int(text_of(found[1]))


async def draw_state(redis: Redis, keys: Keys) -> tuple[str | None, bool, int]:
    """(epoch, drawn, redis's clock in ms) of the queue; epoch None if it does not exist.
    Redis's clock orders pass marks against stock reads (admission.py): one clock for every
    process."""
    async with redis.pipeline(transaction=False) as pipe:
        pipe.hmget(keys.meta, ["epoch", "drawn"])
        pipe.time()
        (epoch, drawn), (seconds, micros) = await pipe.execute()
    return (
        text_of(epoch) if epoch is not None else None,
        drawn is not None and text_of(drawn) == "1",
        int(seconds) * 1000 + int(micros) // 1000,
    )


async def pre_queue(redis: Redis, keys: Keys) -> list[int]:
    """The pre-queue's tickets, in order of joining."""
    return [int(text_of(t)) for t in await redis.zrange(keys.pre, 0, -1)]


async def draw(redis: Redis, keys: Keys, *, epoch: str, drawn: Sequence[int]) -> int:
    """Give the pre-queue its places in the drawn order; -1 if it was drawn already."""
    return int(await run_script(redis, _DRAW, keys.of("meta", "pre", "line"), [epoch, *drawn]))


async def standing(
    redis: Redis, keys: Keys, *, ticket: int, epoch: str, now_ms: int, tick_ms: int, fence: str
) -> Standing:
    """Where a ticket stands, and whether the caller won the next tick."""
    names = keys.of("meta", "line", "status", "passes", "recent", "tick")
    found = [
        text_of(v)
        for v in await run_script(redis, _STATUS, names, [ticket, epoch, now_ms, tick_ms, fence])
    ]
    if len(found) == 1:
        return Standing.gone()
    status, place, expiry, recently, sold_out, ticking, release = found
    return Standing(
        status=status,
        place=int(place) if place else None,
        pass_expiry_ms=int(float(expiry)) if expiry else None,
        admitted_last_minute=int(recently or 0),
        sold_out=sold_out == "1",
        should_tick=ticking == "1",
        release_ms=int(release) if release else None,
    )


async def admission_numbers(redis: Redis, keys: Keys) -> dict[int, int]:
    """ticket → its admission number (1 = first admitted)."""
    found = await redis.hgetall(keys.order)  # type: ignore[misc]
    return {int(text_of(t)): int(text_of(n)) for t, n in found.items()}


async def figures(redis: Redis, keys: Keys, *, now_ms: int) -> Figures:
    """The queue's counts, read in one round trip."""
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hmget(keys.meta, ["epoch", "drawn", "admitted", "sold_out", "sold_out_at", "tick_at"])
        pipe.zcard(keys.pre)
        pipe.zcard(keys.line)
        pipe.zcount(keys.passes, f"({now_ms}", "+inf")
        meta, pre, line, live = await pipe.execute()
    epoch, drawn, admitted, sold_out, sold_out_at, tick_at = (
        text_of(v) if v is not None else None for v in meta
    )
    return Figures(
        exists=epoch is not None,
        drawn=drawn == "1",
        pre_queue=int(pre),
        in_line=int(line),
        admitted=int(admitted or 0),
        passes_live=int(live),
        sold_out=sold_out == "1",
        sold_out_at_ms=int(sold_out_at) if sold_out_at else None,
        tick_at_ms=int(tick_at) if tick_at else None,
    )
