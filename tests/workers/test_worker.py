"""The arq workers against real redis: heartbeat, lost job data, and how a group closes."""

from __future__ import annotations

import asyncio
import gc
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from arq import ArqRedis, create_pool
from arq.typing import WorkerCoroutine
from arq.worker import Worker, func
from redis.asyncio import Redis

from app.domain.outbox import Target
from app.redis_setup import arq_settings
from app.services.outbox.record import delivery_queue
from app.settings import Settings
from app.workers.jobs import HEARTBEAT_KEY
from app.workers.settings import WorkerGroup, build_delivery_worker, build_worker


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


@asynccontextmanager
async def _one_job_running(
    redis_url: str,
    job: WorkerCoroutine,
    started: asyncio.Event,
    **hooks: Any,
) -> AsyncIterator[tuple[WorkerGroup, Worker, ArqRedis, str]]:
    """A worker group of one worker, on a queue of its own, once its single job has started."""
    queue = f"test:close:{uuid.uuid4().hex}"
    worker = Worker(
        functions=[func(job, name="job")],
        queue_name=queue,
        redis_settings=arq_settings(redis_url),
        handle_signals=False,
        poll_delay=0.01,
        keep_result=0,
        **hooks,
    )
    pool = await create_pool(arq_settings(redis_url))
    try:
        await pool.enqueue_job("job", _queue_name=queue)
        group = WorkerGroup([worker])
        group.start()
        await asyncio.wait_for(started.wait(), 10)
        yield group, worker, pool, queue
    finally:
        await pool.delete(queue)
        await pool.aclose()


async def test_closing_a_worker_with_a_job_in_flight_still_closes_its_pool_and_clients(
    redis_url: str,
) -> None:
    """A job cut off by the close must not skip the shutdown hook or leave redis sockets to the
    garbage collector (filterwarnings=error turns such a leak into a failure here). arq absorbs
    a cancellation inside the job function; this one lands in arq's own bookkeeping around it,
    as it does when the close comes while arq reads the job's data from redis."""
    in_bookkeeping, shut_down = asyncio.Event(), asyncio.Event()

    async def quick(ctx: dict[str, Any]) -> None:
        return None

    async def after_job_end(ctx: dict[str, Any]) -> None:
        in_bookkeeping.set()
        await asyncio.sleep(3600)

    async def on_shutdown(ctx: dict[str, Any]) -> None:
        shut_down.set()

    hooks = {"after_job_end": after_job_end, "on_shutdown": on_shutdown}
    async with _one_job_running(redis_url, quick, in_bookkeeping, **hooks) as (group, worker, *_):
        await group.close()

        assert shut_down.is_set()
        assert worker._pool is None  # noqa: SLF001 - arq clears it once the pool is closed
        gc.collect()


async def test_closing_with_grace_lets_the_job_in_flight_finish(redis_url: str) -> None:
    started, finished = asyncio.Event(), asyncio.Event()

    async def delivery(ctx: dict[str, Any]) -> None:
        started.set()
        await asyncio.sleep(0.3)
        finished.set()

    async with _one_job_running(redis_url, delivery, started) as (group, worker, pool, queue):
        await group.close(grace=10)

        assert finished.is_set()
        assert await pool.zcard(queue) == 0  # done, not left to be run again
        assert worker._pool is None  # noqa: SLF001 - arq clears it once the pool is closed
