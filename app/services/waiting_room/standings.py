"""Where many tickets of one drop stand, in one redis step: what a process's live
`queueStatus` subscriptions are told each tick (hub.py), however many watch."""

from __future__ import annotations

from collections.abc import Sequence

from redis.asyncio import Redis

from app.services.waiting_room.store import Keys, Standing, run_script, text_of

# The drop's figures once, then each ticket's state, place and pass expiry; and whether the
# caller should tick now (a tick is due and it won the lock; never with fence '').
# KEYS: meta, line, status, passes, recent, tick.
# ARGV: now ms, tick ms, fence, then (ticket, epoch) pairs.
# Answers {'gone'} without a queue, else {ticking, release, recently, sold, then per ticket
# status, place, expiry}.
_STANDINGS = """
local meta, line, status, passes, recent, tick =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local epoch = redis.call('HGET', meta, 'epoch')
if not epoch then return {'gone'} end
local now = tonumber(ARGV[1])
local ticking = '0'
local since = now - tonumber(redis.call('HGET', meta, 'tick_at') or '0')
if ARGV[3] ~= '' and since >= tonumber(ARGV[2]) then
  if redis.call('SET', tick, ARGV[3], 'NX', 'PX', ARGV[2]) then ticking = '1' end
end
local recently = 0
for _, m in ipairs(redis.call('ZRANGEBYSCORE', recent, now - 60000, '+inf')) do
  recently = recently + tonumber(string.match(m, ':(%d+)$'))
end
local found = {ticking, redis.call('HGET', meta, 'release_ms') or '', tostring(recently),
  redis.call('HGET', meta, 'sold_out') or '0'}
for i = 4, #ARGV, 2 do
  local t = ARGV[i]
  local st, place, expiry = 'reset', '', ''
  if ARGV[i + 1] == epoch then
    st = redis.call('HGET', status, t) or 'gone'
    if st == 'w' then
      local r = redis.call('ZRANK', line, t)
      if r then place = tostring(r + 1) end
    end
    expiry = redis.call('ZSCORE', passes, t) or ''
  end
  found[#found + 1] = st
  found[#found + 1] = place
  found[#found + 1] = expiry
end
return found
"""


async def standings(
    redis: Redis,
    keys: Keys,
    *,
    tickets: Sequence[tuple[int, str]],
    now_ms: int,
    tick_ms: int,
    fence: str,
) -> tuple[bool, list[Standing]]:
    """(whether the caller won the next tick, each ticket's standing in the order given)."""
    args: list[object] = [now_ms, tick_ms, fence]
    for number, epoch in tickets:
        args += [number, epoch]
    names = keys.of("meta", "line", "status", "passes", "recent", "tick")
    found = [text_of(v) for v in await run_script(redis, _STANDINGS, names, args)]
    if len(found) == 1:
        return False, [Standing.gone() for _ in tickets]
    ticking, release, recently, sold = found[:4]
    rows = found[4:]
    return ticking == "1", [
        Standing(
            status=rows[i],
            place=int(rows[i + 1]) if rows[i + 1] else None,
            pass_expiry_ms=int(float(rows[i + 2])) if rows[i + 2] else None,
            admitted_last_minute=int(recently or 0),
            sold_out=sold == "1",
            should_tick=False,
            release_ms=int(release) if release else None,
        )
        for i in range(0, len(rows), 3)
    ]
