"""The RetailCRM worker sends a drop in batches; the outbox rows are the truth when its redis is
flushed or it is killed in the middle of a batch: RetailCRM ends as event by event leaves it."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from arq import create_pool
from redis.asyncio import Redis

from app.domain.outbox import EventState, Target
from app.models.outbox import OutboxEvent
from app.redis_setup import arq_settings
from app.services.outbox.record import delivery_job_id, delivery_queue
from app.settings import Settings
from tests.services.outbox import drop
from tests.waiting import wait_until
from tests.workers.outbox_stack import Stack, running_stack

ORDERS = 150


@pytest.fixture
async def stack(db: str, settings: Settings, redis_url: str) -> AsyncIterator[Stack]:
    async with running_stack(settings, redis_url) as running:
        yield running


def _uploading(stack: Stack) -> bool:
    """A batch is on its way: RetailCRM has it and has not answered yet."""
    return any(r.path.endswith("/upload") and r.status is None for r in stack.crm.requests)


async def _all_delivered(within: float) -> None:
    async def done() -> bool:
        return not await OutboxEvent.filter(
            target=Target.RETAILCRM, state=EventState.PENDING
        ).exists()

    await wait_until(done, within=within, every=0.05, what="every RetailCRM event delivered")
    assert await OutboxEvent.filter(state=EventState.DEAD).count() == 0


async def test_a_backlog_reaches_retailcrm_in_fifty_order_batches(stack: Stack) -> None:
    events = drop.drop_events(ORDERS)
    await stack.stop_worker()
    await drop.write(events, datetime.now(UTC))
    await stack.start_worker()
    await _all_delivered(30)
    paths = [r.path.removeprefix("/api/v5/") for r in stack.crm.requests]
    # 150 orders, 50 of them paid: 400 calls one event at a time
    assert paths == ["customers/upload", "orders/upload"] * 3
    assert drop.state(stack.crm) == await drop.one_by_one(events)
    assert stack.crm.order_violations == []


async def test_a_delivery_job_queued_before_batches_leaves_its_aggregate_to_them(
    stack: Stack,
) -> None:
    events = drop.drop_events(3)
    await stack.stop_worker()
    await drop.write(events, datetime.now(UTC))
    pool = await create_pool(arq_settings(stack.redis_url))
    aggregate = events[0].aggregate
    job_id, queue = delivery_job_id(Target.RETAILCRM, aggregate), delivery_queue(Target.RETAILCRM)
    await pool.enqueue_job(
        "deliver_outbox", "retailcrm", aggregate, _job_id=job_id, _queue_name=queue
    )
    await pool.aclose()
    await stack.start_worker()
    await _all_delivered(10)
    paths = [r.path.removeprefix("/api/v5/") for r in stack.crm.requests]
    assert paths == ["customers/upload", "orders/upload"]  # no event-by-event create


async def test_redis_flushed_in_the_middle_of_a_batch_changes_nothing(stack: Stack) -> None:
    events = drop.drop_events(ORDERS)
    stack.crm.slow(0.3)
    await drop.write(events, datetime.now(UTC))
    await wait_until(lambda: _uploading(stack), within=30, what="a batch on its way")
    redis = Redis.from_url(stack.redis_url)
    await redis.flushdb()  # the batching job's own entry, the queue, the budget: all gone
    await redis.aclose()
    stack.crm.slow(0)
    await _all_delivered(60)
    assert drop.state(stack.crm) == await drop.one_by_one(events)
    assert stack.crm.order_violations == []


# A worker killed mid-job drops what its jobs held (arq finishes a cut-off job's bookkeeping in
# a task of its own, which the pool closes under), as a crashed process would.
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
async def test_a_worker_killed_in_the_middle_of_a_batch_changes_nothing(stack: Stack) -> None:
    events = drop.drop_events(ORDERS)
    stack.crm.slow(0.3)
    await stack.stop_worker()
    await drop.write(events, datetime.now(UTC))
    await stack.start_worker()
    await wait_until(lambda: _uploading(stack), within=30, what="a batch on its way")
    await stack.kill_worker()  # cut off: RetailCRM applies the batch, the rows never hear
    await wait_until(lambda: not _arq_bookkeeping(), within=10, what="arq's bookkeeping ended")
    gc.collect()  # the dropped sockets are reported here, not in a later test
    assert await OutboxEvent.filter(state=EventState.PENDING).exists()
    stack.crm.slow(0)
    await stack.start_worker()
    await _all_delivered(60)
    assert drop.state(stack.crm) == await drop.one_by_one(events)
    assert stack.crm.order_violations == []


def _arq_bookkeeping() -> list[asyncio.Task[Any]]:
    return [
        task
        for task in asyncio.all_tasks()
        if not task.done() and getattr(task.get_coro(), "__qualname__", "").startswith("Worker.")
    ]
