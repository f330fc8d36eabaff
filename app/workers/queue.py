"""The arq side of the JobQueue port: deterministic job ids, so duplicates collapse."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from arq import create_pool
from arq.connections import ArqRedis

from app.redis_setup import arq_settings


class ArqQueue:
    """Enqueue arq jobs on a pool opened on first use (the API starts even if redis is down)."""

    def __init__(self, redis_url: str) -> None:
        self._url = redis_url
        self._pool: ArqRedis | None = None
        self._opening = asyncio.Lock()  # many requests at once must share one pool

    async def enqueue(
        self,
        function: str,
        *args: Any,
        job_id: str,
        defer_until: datetime | None = None,
        queue: str | None = None,
    ) -> None:
        pool = await self._open()
        await pool.enqueue_job(
            function, *args, _job_id=job_id, _defer_until=defer_until, _queue_name=queue
        )

    async def _open(self) -> ArqRedis:
        async with self._opening:
            if self._pool is None:
                settings = arq_settings(self._url)
                settings.conn_retries = 0
                self._pool = await create_pool(settings)
            return self._pool

    async def aclose(self) -> None:
        if self._pool is not None:
            await self._pool.aclose(close_connection_pool=True)
