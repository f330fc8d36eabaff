"""ArqQueue's one-round-trip enqueue writes exactly what arq's own enqueue_job writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from arq import create_pool
from arq.jobs import Job, JobStatus
from arq.utils import to_unix_ms

from app.redis_setup import arq_settings
from app.workers.queue import ArqQueue


async def test_a_job_is_queued_once_as_arq_would_queue_it(redis_url: str) -> None:
    # given a queue and arq's own pool on the same redis, both empty of this job
    queue, pool = ArqQueue(redis_url), await create_pool(arq_settings(redis_url))
    await pool.flushdb()
    try:
        # when the same job id is enqueued twice, then arq itself tries
        await queue.enqueue("deliver_outbox", "onec", "order:1", job_id="outbox:onec:order:1")
        await queue.enqueue("deliver_outbox", "other", job_id="outbox:onec:order:1")
        again = await pool.enqueue_job("deliver_outbox", "x", _job_id="outbox:onec:order:1")

        # then arq reads the first one back, queued on arq's default queue, and no other
        info = await Job("outbox:onec:order:1", pool).info()
        assert info is not None
        assert (info.function, info.args, info.kwargs) == (
            "deliver_outbox",
            ("onec", "order:1"),
            {},
        )
        assert again is None
        assert await pool.zcard(pool.default_queue_name) == 1
        assert await Job("outbox:onec:order:1", pool).status() is JobStatus.queued
    finally:
        await queue.aclose()
        await pool.aclose()


async def test_a_deferred_job_waits_on_its_own_queue_until_its_instant(redis_url: str) -> None:
    # given a job deferred by a quarter of an hour onto a queue of its own
    queue, pool = ArqQueue(redis_url), await create_pool(arq_settings(redis_url))
    await pool.flushdb()
    due = datetime.now(UTC) + timedelta(minutes=15)
    try:
        # when it is enqueued
        await queue.enqueue("expire_order", 7, job_id="expire-order:7", defer_until=due)
        await queue.enqueue("other", job_id="elsewhere", queue="vitrina:deliver:onec")

        # then its score is its instant (ms) and its key outlives it by arq's extra day
        score = await pool.zscore(pool.default_queue_name, "expire-order:7")
        assert score == to_unix_ms(due)  # arq's own rounding of the instant
        ttl_ms = await pool.pttl("arq:job:expire-order:7")
        assert 15 * 60_000 + 86_400_000 - 5_000 < ttl_ms <= 15 * 60_000 + 86_400_000
        assert await Job("expire-order:7", pool).status() is JobStatus.deferred
        assert await pool.zscore("vitrina:deliver:onec", "elsewhere") is not None
    finally:
        await queue.aclose()
        await pool.aclose()
