"""Tag versions shared by every process: bumped in redis after a commit, mirrored in each
process from a pub/sub message, so checking an entry costs no round trip.

A bump takes the next number of one redis counter (the invalidation sequence) and writes it as
the version of every tag it names, then publishes it, in one script (atomic). Each process
keeps the versions it heard. An entry filled when this process had heard up to sequence `s` is
stale once one of its tags carries a version above `s`. A lost message is caught by a check of
the counter every `resync_seconds` (the mirror is then read again whole), and while the
subscription is down the book is not `healthy`: the cache neither serves nor fills.

Bounded: versions live in generations (one redis hash each). A bump more than `keep_seconds`
after its generation began starts the next one, drops the generation before the current one
and raises the *floor* to the current one's first sequence. Every dropped version is at most
the floor, and an entry filled below the floor is refused (`is_fresh`). So a dropped version
can never let a stale entry be served: an entry it would have made stale was filled below it,
hence below the floor. No clock enters that argument; `keep_seconds` (the cache's max age and
a margin) only makes sure the refused entries had expired anyway. The floor travels with the
bump's message (as a `floor:<n>` line) and in a resync, and each process drops the mirrored
versions at or below it: the mirror is bounded the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable

import structlog
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

log = structlog.get_logger("app.response_cache")

PREFIX = "vitrina:response-cache:"
SEQUENCE = PREFIX + "sequence"
VERSIONS = PREFIX + "tag-versions"  # before generations: one hash (read until the first bump)
GENERATION = PREFIX + "tag-generation"  # gen, started (ms, redis clock), start (seq), floor
CHANNEL = PREFIX + "invalidated"
FLOOR_LINE = "floor:"  # a line of a bump's message, never a tag (older books ignore it)
KEEP_SECONDS = 70.0

# KEYS: sequence, generation, versions prefix, channel. ARGV: keep (ms), then the tags.
# Returns {the sequence taken, the floor}. Generation `g`'s hash (`<versions>:<g>`) holds the
# versions above its `start`; the first bump under generations sets the floor below itself
# (versions of the one old hash are then never needed) and drops that hash.
_BUMP = """
local seq = redis.call('INCR', KEYS[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local m = redis.call('HMGET', KEYS[2], 'gen', 'started', 'start', 'floor')
local gen, started, start, floor = tonumber(m[1]), tonumber(m[2]), tonumber(m[3]), tonumber(m[4])
local moved = false
if not gen then
  redis.call('UNLINK', KEYS[3])
  gen, started, start, floor, moved = 1, now, seq - 1, seq - 1, true
elseif now - started >= tonumber(ARGV[1]) then
  redis.call('UNLINK', KEYS[3] .. ':' .. (gen - 1))
  gen, started, floor, start, moved = gen + 1, now, start, seq - 1, true
end
if moved then
  redis.call('HSET', KEYS[2], 'gen', gen, 'started', started, 'start', start, 'floor', floor)
end
local hash = KEYS[3] .. ':' .. gen
for i = 2, #ARGV do redis.call('HSET', hash, ARGV[i], seq) end
local message = seq .. '\\n' .. table.concat(ARGV, '\\n', 2)
if moved then message = message .. '\\n' .. 'floor:' .. floor end
redis.call('PUBLISH', KEYS[4], message)
return {seq, floor}
"""

# KEYS: sequence, generation, versions prefix. Returns {sequence, floor, the live versions
# flat (tag, version, ...)}: the old single hash until the first bump under generations.
_READ = """
local seq = tonumber(redis.call('GET', KEYS[1]) or '0')
local m = redis.call('HMGET', KEYS[2], 'gen', 'floor')
if not m[1] then return {seq, 0, redis.call('HGETALL', KEYS[3])} end
local gen = tonumber(m[1])
local found = redis.call('HGETALL', KEYS[3] .. ':' .. (gen - 1))
for _, item in ipairs(redis.call('HGETALL', KEYS[3] .. ':' .. gen)) do
  found[#found + 1] = item
end
return {seq, tonumber(m[2]), found}
"""


class TagBook:
    """This process's mirror of the tag versions."""

    def __init__(
        self,
        redis: Redis,
        *,
        resync_seconds: float = 1.0,
        keep_seconds: float = KEEP_SECONDS,
    ) -> None:
        self.redis = redis
        self.resync_seconds = resync_seconds
        self.keep_ms = max(1, int(keep_seconds * 1000))
        self.versions: dict[str, int] = {}
        self.sequence = 0  # the highest invalidation heard
        self.floor = 0  # entries filled below it are refused (their versions may be gone)
        self.changes = 0  # bumped whenever a version changes here: entries re-check then
        self.healthy = False
        self._task: asyncio.Task[None] | None = None
        self._bump = redis.register_script(_BUMP)
        self._read = redis.register_script(_READ)
        # Pub/sub channels are shared by every database of a redis server: name ours after it
        self.channel = f"{CHANNEL}:{redis.connection_pool.connection_kwargs.get('db', 0)}"

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="response-cache-tags")

    async def close(self) -> None:
        self.healthy = False
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def bump(self, tags: Iterable[str]) -> int:
        """Invalidate `tags` everywhere (this book at once, the others by message); return the
        invalidation's sequence number (0: nothing to bump)."""
        names = sorted(set(tags))
        if not names:
            return 0
        keys = [SEQUENCE, GENERATION, VERSIONS, self.channel]
        sequence, floor = await self._bump(keys=keys, args=[self.keep_ms, *names])
        self.heard(int(sequence), names)
        self.raise_floor(int(floor))
        return int(sequence)

    def heard(self, sequence: int, tags: Iterable[str]) -> None:
        for tag in tags:
            if tag.startswith(FLOOR_LINE):
                self.raise_floor(int(tag.removeprefix(FLOOR_LINE)))
            elif self.versions.get(tag, 0) < sequence:
                self.versions[tag] = sequence
                self.changes += 1
        self.sequence = max(self.sequence, sequence)

    def raise_floor(self, floor: int) -> None:
        """Refuse entries filled below `floor` and forget the versions at or below it (they
        could only make such entries stale)."""
        if floor <= self.floor:
            return
        self.floor = floor
        self.versions = {tag: v for tag, v in self.versions.items() if v > floor}
        self.changes += 1

    async def _listen(self) -> None:
        while True:
            try:
                async with self.redis.pubsub() as pubsub:
                    await pubsub.subscribe(self.channel)
                    await self._resync()
                    self.healthy = True
                    await self._follow(pubsub)
            except (RedisError, OSError) as error:
                self.healthy = False
                log.warning("response_cache.tags_lost", error=repr(error))
                await asyncio.sleep(self.resync_seconds)

    async def _follow(self, pubsub: PubSub) -> None:
        while True:
            message = await pubsub.get_message(
                ignore_subscribe_messages=True, timeout=self.resync_seconds
            )
            if message is None:
                if int(await self.redis.get(SEQUENCE) or 0) > self.sequence:
                    await self._resync()  # a message went missing
                continue
            head, *tags = bytes(message["data"]).decode().split("\n")
            self.heard(int(head), tags)

    async def _resync(self) -> None:
        sequence, floor, flat = await self._read(keys=[SEQUENCE, GENERATION, VERSIONS])
        self.raise_floor(int(floor))
        for tag, version in zip(flat[::2], flat[1::2], strict=True):
            self.heard(int(version), [tag.decode()])
        self.sequence = max(self.sequence, int(sequence))
        self.changes += 1
