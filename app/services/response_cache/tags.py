"""Tag versions shared by every process: bumped in redis after a commit, mirrored in each
process from a pub/sub message, so checking an entry costs no round trip.

A bump takes the next number of one redis counter (the invalidation sequence) and writes it as
the version of every tag it names, then publishes it, in one script (atomic). Each process
keeps the versions it heard. An entry filled when this process had heard up to sequence `s` is
stale once one of its tags carries a version above `s`. A lost message is caught by a check of
the counter every `resync_seconds` (the mirror is then read again whole), and while the
subscription is down the book is not `healthy`: the cache neither serves nor fills.
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
VERSIONS = PREFIX + "tag-versions"
CHANNEL = PREFIX + "invalidated"

# KEYS: sequence, versions, channel. ARGV: the tags. Returns the sequence number taken.
_BUMP = """
local seq = redis.call('INCR', KEYS[1])
for _, tag in ipairs(ARGV) do redis.call('HSET', KEYS[2], tag, seq) end
redis.call('PUBLISH', KEYS[3], seq .. '\\n' .. table.concat(ARGV, '\\n'))
return seq
"""


class TagBook:
    """This process's mirror of the tag versions."""

    def __init__(self, redis: Redis, *, resync_seconds: float = 1.0) -> None:
        self.redis = redis
        self.resync_seconds = resync_seconds
        self.versions: dict[str, int] = {}
        self.sequence = 0  # the highest invalidation heard
        self.changes = 0  # bumped whenever a version changes here: entries re-check then
        self.healthy = False
        self._task: asyncio.Task[None] | None = None
        self._bump = redis.register_script(_BUMP)
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
        sequence = int(await self._bump(keys=[SEQUENCE, VERSIONS, self.channel], args=names))
        self.heard(sequence, names)
        return sequence

    def heard(self, sequence: int, tags: Iterable[str]) -> None:
        for tag in tags:
            if self.versions.get(tag, 0) < sequence:
                self.versions[tag] = sequence
                self.changes += 1
        self.sequence = max(self.sequence, sequence)

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
        sequence = int(await self.redis.get(SEQUENCE) or 0)
        versions = await self.redis.hgetall(VERSIONS)  # type: ignore[misc]
        for tag, version in versions.items():
            self.heard(int(version), [tag.decode()])
        self.sequence = max(self.sequence, sequence)
        self.changes += 1
