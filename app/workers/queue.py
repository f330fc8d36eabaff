"""The arq side of the JobQueue port: deterministic job ids, so duplicates collapse."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from arq import create_pool
from arq.connections import ArqRedis
from arq.constants import job_key_prefix, result_key_prefix
from arq.jobs import serialize_job
from arq.utils import timestamp_ms, to_unix_ms
from redis.commands.core import AsyncScript

from app.redis_setup import arq_settings

# KEYS: job key, result key, queue; ARGV: expiry (ms), job bytes, score (ms), job id.
_ENQUEUE = """
if redis.call('exists', KEYS[1], KEYS[2]) == 0 then
  redis.call('psetex', KEYS[1], ARGV[1], ARGV[2])
  redis.call('zadd', KEYS[3], ARGV[3], ARGV[4])
  return 1
end
return 0
"""


class ArqQueue:
    """Enqueue arq jobs on a pool opened on first use (the API starts even if redis is down)."""

    def __init__(self, redis_url: str) -> None:
        self._url = redis_url
        self._pool: ArqRedis | None = None
        self._opening = asyncio.Lock()  # many requests at once must share one pool
        self._enqueue_script: AsyncScript | None = None

    async def enqueue(
        self,
        function: str,
        *args: Any,
        job_id: str,
        defer_until: datetime | None = None,
        queue: str | None = None,
    ) -> None:
        """`ArqRedis.enqueue_job` in one round trip instead of three (WATCH, EXISTS, then
        MULTI…EXEC): the same keys, job bytes and expiry, and the same rule (an id already
        queued, running or finished is not queued again), checked and written by one script
        that redis runs atomically. A placed order wakes four jobs: this is on its path."""
        pool = await self._open()
        now = timestamp_ms()
        score = to_unix_ms(defer_until) if defer_until is not None else now
        job = serialize_job(function, args, {}, None, now, serializer=pool.job_serializer)
        keys = [job_key_prefix + job_id, result_key_prefix + job_id]
        keys.append(queue or pool.default_queue_name)
        expires = score - now + pool.expires_extra_ms
        assert self._enqueue_script is not None  # registered with the pool
        await self._enqueue_script(keys=keys, args=[expires, job, score, job_id])

    async def _open(self) -> ArqRedis:
        if self._pool is not None:
            return self._pool
        async with self._opening:
            if self._pool is None:
                settings = arq_settings(self._url)
                settings.conn_retries = 0
                self._pool = await create_pool(settings)
                self._enqueue_script = self._pool.register_script(_ENQUEUE)
            return self._pool

    async def aclose(self) -> None:
        if self._pool is not None:
            await self._pool.aclose(close_connection_pool=True)
