"""The arq workers: one for housekeeping and sweeps, one per external system for delivery.

Each system has its own queue and its own lanes (concurrent jobs): a slow or rate-limited
system (RetailCRM allows 10 calls/s) never delays the other.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from arq import cron
from arq.constants import default_queue_name
from arq.worker import Worker

from app.db import close_db, init_db
from app.domain.outbox import Target
from app.integrations.payments.registry import build_providers
from app.redis_setup import arq_settings
from app.services.outbox.record import delivery_queue
from app.services.stock_stream import StockPublisher
from app.settings import Settings
from app.workers.carts import sweep_idle_carts
from app.workers.clock import WALL_CLOCK, WorkerClock
from app.workers.identity import sweep_site_customers
from app.workers.instashop import instashop_sync, sync_minutes
from app.workers.jobs import expire_order, heartbeat, poll_payments, sweep
from app.workers.outbox import (
    build_senders,
    close_senders,
    deliver_outbox,
    deliver_outbox_batches,
    sweep_outbox,
)
from app.workers.partners import build_partner_worker
from app.workers.queue import ArqQueue
from app.workers.retailcrm_history import history_seconds, pull_retailcrm_history
from app.workers.shops import shop_request_deadline, shop_request_remind, sweep_shop_requests

EVERY_SECOND = set(range(60))
log = structlog.get_logger(__name__)
Hook = Callable[[dict[str, Any]], Awaitable[None]]


def build_worker(
    settings: Settings,
    *,
    redis_url: str,
    handle_signals: bool = True,
    manage_db: bool = True,
    burst: bool = False,
    clock: WorkerClock = WALL_CLOCK,
) -> Worker:
    """The housekeeping worker: heartbeat, order expiry, the sweeps (default queue)."""

    async def on_startup(ctx: dict[str, Any]) -> None:
        ctx["settings"] = settings
        ctx["clock"] = clock
        ctx["payment_providers"] = build_providers(settings)
        ctx["redis_url"] = redis_url  # RetailCRM's request budget lives there
        if manage_db:
            await init_db(settings.resolved_database_url)
        ctx["stock_publisher"] = StockPublisher(ctx["redis"], settings)  # sweeps move stock
        await ctx["stock_publisher"].start()
        log.info("worker.started", queue=default_queue_name)

    async def on_shutdown(ctx: dict[str, Any]) -> None:
        # a worker stopped while it was starting may not have run on_startup
        if (providers := ctx.get("payment_providers")) is not None:
            await providers.aclose()
        if (publisher := ctx.get("stock_publisher")) is not None:
            await publisher.close()
        if manage_db:
            await close_db()

    return Worker(
        functions=[
            heartbeat,
            expire_order,
            sweep,
            poll_payments,
            shop_request_deadline,
            shop_request_remind,
            sweep_shop_requests,
            instashop_sync,
            sweep_idle_carts,
            pull_retailcrm_history,
        ],
        cron_jobs=[
            cron(heartbeat, second={0, 30}, run_at_startup=True),
            cron(sweep_shop_requests, second=set(range(0, 60, 5)), run_at_startup=True),
            cron(sweep, second=15, run_at_startup=True),
            cron(sweep_idle_carts, minute=set(range(5, 60, 10)), second=40),
            cron(sweep_site_customers, second=50, timeout=120),  # identity graph
            cron(poll_payments, second=poll_seconds(settings), run_at_startup=True),
            cron(pull_retailcrm_history, second=history_seconds(settings), timeout=120),
            cron(
                instashop_sync,
                minute=sync_minutes(settings),
                second=20,
                run_at_startup=True,
                timeout=540,  # a first sync of a large feed goes on at the next run
            ),
        ],
        redis_settings=arq_settings(redis_url),
        on_startup=on_startup,
        on_shutdown=on_shutdown,
        handle_signals=handle_signals,
        burst=burst,
    )


def poll_seconds(settings: Settings) -> set[int]:
    """The seconds of each minute the payment poller runs at (at least once a minute)."""
    step = max(1, min(60, settings.payment_poll_seconds))
    return set(range(45 % step, 60, step))


def build_delivery_worker(
    settings: Settings, target: Target, *, redis_url: str, clock: WorkerClock = WALL_CLOCK
) -> Worker:
    """Deliver outbox events to one system from its own queue, `lanes` aggregates at once."""
    if target is Target.PARTNER:  # a job per subscription, not per aggregate (its own module)
        return build_partner_worker(settings, redis_url=redis_url, clock=clock)

    async def on_startup(ctx: dict[str, Any]) -> None:
        # arq hands each job a shallow copy of ctx: shared state must exist before any job.
        jobs = ArqQueue(redis_url)
        ctx.update(
            settings=settings,
            clock=clock,
            jobs=jobs,
            senders=build_senders(settings, jobs, clock, redis_url=redis_url),
            target=target,
            paused={},
            failures={},
            stock_publisher=StockPublisher(ctx["redis"], settings),  # 1C's answers release
        )
        await ctx["stock_publisher"].start()
        log.info("worker.started", queue=delivery_queue(target))

    async def on_shutdown(ctx: dict[str, Any]) -> None:
        if (senders := ctx.get("senders")) is not None:  # None: stopped while starting
            await close_senders(senders)
        if (jobs := ctx.get("jobs")) is not None:
            await jobs.aclose()
        if (publisher := ctx.get("stock_publisher")) is not None:
            await publisher.close()

    lanes = {
        Target.ONEC: settings.onec_lanes,
        Target.RETAILCRM: settings.retailcrm_lanes,
        Target.NOTIFY: settings.notify_lanes,
        Target.SLACK: settings.slack_lanes,
        Target.RECEIPTS: 1,  # a receipt now and then, as orders ship
    }[target]
    return Worker(
        functions=[deliver_outbox, deliver_outbox_batches],
        # the sweep of this system lives here, beside the pause it must respect
        cron_jobs=[
            cron(
                sweep_outbox,
                name=f"sweep_outbox_{target.value}",
                second=EVERY_SECOND,
                run_at_startup=True,
            )
        ],
        # No result is ever kept, not even for a job arq finds "expired" (its data lost with a
        # flushed redis): a kept result would refuse the aggregate's job id for an hour, and
        # the sweep could not wake it.
        keep_result=0,
        queue_name=delivery_queue(target),
        redis_settings=arq_settings(redis_url),
        on_startup=on_startup,
        on_shutdown=on_shutdown,
        handle_signals=False,
        max_jobs=lanes,
        # delivery jobs are short: refill lanes quickly (messages to customers can wait longer)
        poll_delay=0.5 if target is Target.NOTIFY else 0.05,
        # A worker killed mid-job leaves the job "in progress" until timeout + 10 s; keep that
        # short so the aggregate is delivered again soon (receivers drop the repeat).
        job_timeout=30,
    )


@dataclass
class WorkerGroup:
    """The housekeeping worker and one delivery worker per system, in one process."""

    workers: list[Worker]
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def start(self) -> None:
        self.tasks = [asyncio.create_task(w.async_run()) for w in self.workers]

    async def run(self) -> None:
        self.start()
        await asyncio.gather(*self.tasks)

    async def close(self, grace: float = 0.0) -> None:
        """Stop taking jobs, give those in flight `grace` seconds to finish, cut off the rest,
        then close every worker's redis pool and clients."""
        for worker in self.workers:
            worker.allow_pick_jobs = False
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while running := [t for w in self.workers for t in w.tasks.values() if not t.done()]:
            if (left := deadline - loop.time()) <= 0:
                break
            await asyncio.wait(running, timeout=left)
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for worker in self.workers:
            await _close_worker(worker)


async def _close_worker(worker: Worker) -> None:
    # `Worker.close` gathers the jobs it has just cancelled without `return_exceptions`: one
    # job cut off mid-await re-raises its cancellation there, and the shutdown hook and the
    # redis pool after it are skipped (their sockets are left to the garbage collector). Cancel
    # and collect the jobs here first, so `close` finds none and runs to the end.
    for job in worker.tasks.values():
        job.cancel()
    await asyncio.gather(*worker.tasks.values(), return_exceptions=True)
    worker.tasks.clear()
    await worker.close()


def build_workers(
    settings: Settings, *, redis_url: str, clock: WorkerClock = WALL_CLOCK
) -> WorkerGroup:
    """All workers of one process; the caller opens the database first (`init_db`).

    `clock`: the time the jobs act on (a bench on compressed time gives a faster one)."""
    main = build_worker(
        settings, redis_url=redis_url, handle_signals=False, manage_db=False, clock=clock
    )
    delivery = [
        build_delivery_worker(settings, t, redis_url=redis_url, clock=clock) for t in Target
    ]
    return WorkerGroup([main, *delivery])
