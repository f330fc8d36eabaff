"""The arq worker runs against real redis and records its heartbeat."""

from __future__ import annotations

from arq import create_pool
from redis.asyncio import Redis

from app.domain.outbox import Target
from app.redis_setup import arq_settings
from app.services.outbox import delivery_queue
from app.settings import Settings
from app.workers.jobs import HEARTBEAT_KEY
from app.workers.settings import build_delivery_worker, build_worker


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


async def test_a_delivery_job_whose_data_redis_lost_does_not_block_its_aggregate(
    settings: Settings, redis_url: str
) -> None:
    """A flushed redis can leave a job id in the queue without its data; arq then fails the
    job as "expired". The aggregate's job id must be free again at once for the sweep."""
    worker = build_delivery_worker(settings, Target.ONEC, redis_url=redis_url)
    queue, job_id = delivery_queue(Target.ONEC), "outbox:onec:customer:lost-in-a-flush"
    pool = await create_pool(arq_settings(redis_url))
    worker._pool = pool  # noqa: SLF001 - run one job without starting the worker's loop
    try:
        await pool.delete(f"arq:result:{job_id}")
        job = await pool.enqueue_job(
            "deliver_outbox", "onec", "customer:x", _job_id=job_id, _queue_name=queue
        )
        assert job is not None
        await pool.delete(f"arq:job:{job_id}")  # the data is gone, the queue entry is not

        await worker.run_job(job_id, 0)

        assert await pool.exists(f"arq:result:{job_id}") == 0
        again = await pool.enqueue_job(
            "deliver_outbox", "onec", "customer:x", _job_id=job_id, _queue_name=queue
        )
        assert again is not None
    finally:
        await pool.delete(f"arq:job:{job_id}", f"arq:result:{job_id}")
        await pool.zrem(queue, job_id)
        await pool.aclose()
