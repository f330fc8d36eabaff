"""A quiet console: housekeeping jobs log only when they did something."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from arq import ArqRedis, create_pool
from arq.constants import default_queue_name
from arq.worker import Worker
from structlog.testing import capture_logs

from app.domain.outbound import MessageChannel
from app.domain.outbox import Target
from app.logging import set_library_levels
from app.redis_setup import arq_settings
from app.services.accounts.messages import record_message
from app.services.outbox.record import delivery_job_id, delivery_queue
from app.settings import Settings
from app.workers.outbox import sweep_outbox
from app.workers.settings import build_delivery_worker, build_worker

LIBRARIES = ("tortoise", "aiosqlite", "asyncio", "arq.worker")


@pytest.fixture
def console_levels() -> Iterator[None]:
    """The libraries' levels as `vitrina dev` sets them, for this test only."""
    before = {name: logging.getLogger(name).level for name in LIBRARIES}
    set_library_levels(logging.INFO)
    yield
    for name, level in before.items():
        logging.getLogger(name).setLevel(level)


@pytest.fixture
async def pool(redis_url: str) -> AsyncIterator[ArqRedis]:
    redis = await create_pool(arq_settings(redis_url))
    await redis.flushdb()  # no job of an earlier test runs here
    yield redis
    await redis.flushdb()
    await redis.aclose()


async def _burst(worker: Worker, jobs: int = -1) -> None:
    """Run the worker until its queue is empty, or until it has started `jobs` jobs (a sweep
    every second keeps the next one queued ahead of time)."""
    worker.burst, worker.max_burst_jobs = True, jobs
    try:
        await worker.async_run()
    finally:
        await worker.close()


async def test_housekeeping_on_an_idle_system_logs_nothing_but_its_start(
    db: str,
    settings: Settings,
    redis_url: str,
    pool: ArqRedis,
    console_levels: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    queues = [default_queue_name, *(delivery_queue(t) for t in Target)]
    nothing = "message:nothing-to-send"  # a delivery woken for an aggregate with no event
    wake_up = delivery_job_id(Target.NOTIFY, nothing)
    await pool.enqueue_job(
        "deliver_outbox",
        Target.NOTIFY.value,
        nothing,
        _job_id=wake_up,
        _queue_name=delivery_queue(Target.NOTIFY),
    )
    caplog.set_level(logging.INFO)
    with capture_logs() as logs:
        # heartbeat, sweep and poll_payments run at startup; each delivery worker sweeps
        await _burst(
            build_worker(settings, redis_url=redis_url, handle_signals=False, manage_db=False)
        )
        for target in Target:  # its sweep, and the one wake-up queued for notify
            jobs = 2 if target is Target.NOTIFY else 1
            await _burst(build_delivery_worker(settings, target, redis_url=redis_url), jobs)

    assert await pool.zscore(delivery_queue(Target.NOTIFY), wake_up) is None  # it did run
    assert logs == [{"event": "worker.started", "queue": q, "log_level": "info"} for q in queues]
    assert [r.getMessage() for r in caplog.records] == []  # arq's line per job start and end


async def test_a_sweep_that_woke_a_delivery_logs_one_line(db: str, pool: ArqRedis) -> None:
    await record_message(
        channel=MessageChannel.EMAIL,
        to="anna@example.com",
        template="password_reset",
        params={"link": "http://shop/reset-password?token=t"},
        now=datetime.now(UTC) - timedelta(seconds=1),
    )
    ctx = {"redis": pool, "target": Target.NOTIFY, "paused": {}}

    with capture_logs() as woke:
        assert await sweep_outbox(ctx) == 1
    with capture_logs() as again:  # its job is queued already: nothing new to wake
        assert await sweep_outbox(ctx) == 1

    assert woke == [{"event": "outbox.sweep", "target": "notify", "woken": 1, "log_level": "info"}]
    assert again == []
    assert await pool.zcard(delivery_queue(Target.NOTIFY)) == 1
