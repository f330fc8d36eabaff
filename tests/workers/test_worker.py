"""The arq worker runs against real redis and records its heartbeat."""

from __future__ import annotations

from redis.asyncio import Redis

from app.settings import Settings
from app.workers.jobs import HEARTBEAT_KEY
from app.workers.settings import build_worker


async def test_a_burst_run_records_a_heartbeat(db: str, settings: Settings, redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    await redis.delete(HEARTBEAT_KEY)
    worker = build_worker(
        settings, redis_url=redis_url, handle_signals=False, manage_db=False, burst=True
    )
    try:
        await worker.async_run()
        assert await redis.exists(HEARTBEAT_KEY) == 1
        assert 0 < await redis.ttl(HEARTBEAT_KEY) <= 120
    finally:
        await worker.close()
        await redis.aclose()
