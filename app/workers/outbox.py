"""Outbox delivery jobs: one per system and aggregate at a time (RetailCRM: one batching job
at a time, for all its aggregates), and a per-second sweep."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

import structlog

from app.domain.outbox import Target
from app.integrations.notify.log import LoggingNotifier
from app.integrations.onec.client import OneCClient
from app.integrations.payments.registry import build_providers
from app.integrations.payments.yookassa.client import YooKassaClient
from app.integrations.payments.yookassa.receipts import YooKassaReceipts
from app.integrations.retailcrm.budget import RedisBudget
from app.integrations.retailcrm.client import RetailCrmClient
from app.integrations.retailcrm.known import RedisKnownCustomers
from app.integrations.slack.client import SlackClient
from app.services.jobs import JobQueue, NoQueue
from app.services.outbox.delivery import Senders, deliver_aggregate, due_aggregates
from app.services.outbox.record import (
    BATCHED,
    batches_job_id,
    delivery_job_id,
    delivery_queue,
)
from app.services.outbox.retailcrm_batches import deliver_retailcrm
from app.services.payments.shipment_capture import ShipmentCaptures
from app.services.shops.slack_calls import PER_CHANNEL_SECONDS, ShopSlack
from app.settings import Settings
from app.workers.clock import WALL_CLOCK, WorkerClock, clock_of

log = structlog.get_logger(__name__)


def build_senders(
    settings: Settings,
    jobs: JobQueue | None = None,
    clock: WorkerClock = WALL_CLOCK,
    redis_url: str | None = None,
) -> Senders:
    """Clients for the systems that are configured (the others' events wait, pending).

    `jobs`: where the Slack sender schedules a posted request's reminder and deadline;
    `clock`: the time those instants and the pace of a channel's messages are on;
    `redis_url`: where RetailCRM's request budget and what it was told of each customer are
    shared by every process (without it, this process keeps to `retailcrm_max_rps` alone)."""
    onec = None
    if settings.onec_url:
        onec = OneCClient(settings.onec_url, settings.onec_username, settings.onec_password)
    crm = None
    if settings.retailcrm_url:
        key, budget, known = settings.retailcrm_api_key, None, None
        if redis_url is not None:
            budget = RedisBudget(redis_url, key, settings.retailcrm_max_rps)
            known = RedisKnownCustomers(redis_url, key)
        crm = RetailCrmClient(
            settings.retailcrm_url,
            key,
            settings.retailcrm_site,
            max_rps=settings.retailcrm_max_rps,
            budget=budget,
            known=known,
        )
    slack = None
    if settings.slack_bot_token:
        client = SlackClient(settings.slack_bot_token, base_url=settings.slack_url)
        slack = ShopSlack(
            client,
            settings.shop_rules,
            clock.queue(jobs or NoQueue()),
            per_channel_seconds=clock.wall_seconds(PER_CHANNEL_SECONDS),
        )
    receipts = None
    if settings.yookassa_url:  # closing receipts of prepaid orders (app/domain/closing_receipt)
        yookassa = YooKassaClient(
            settings.yookassa_url, settings.yookassa_shop_id, settings.yookassa_secret_key
        )
        receipts = YooKassaReceipts(yookassa, settings.yookassa_vat_code)
    captures = None
    if settings.yookassa_url:  # two-stage payments captured as their order ships
        providers = build_providers(settings)
        captures = ShipmentCaptures(providers.get, providers.aclose)
    return Senders(
        onec=onec,
        retailcrm=crm,
        notify=LoggingNotifier(),
        slack=slack,
        receipts=receipts,
        captures=captures,
    )


async def close_senders(senders: Senders) -> None:
    for client in (senders.onec, senders.retailcrm):
        if isinstance(client, OneCClient | RetailCrmClient):
            await client.aclose()
    if isinstance(senders.receipts, YooKassaReceipts):
        await senders.receipts.aclose()
    if isinstance(senders.captures, ShipmentCaptures):
        await senders.captures.aclose()
    if isinstance(senders.slack, ShopSlack):
        await senders.slack.aclose()


DELIVERY_BUDGET_SECONDS = 15.0  # no event started after this: the job timeout is 30 s


async def deliver_outbox(ctx: dict[str, Any], target: str, aggregate: str) -> int:
    """Deliver one aggregate's due events to one system, in order."""
    settings: Settings = ctx["settings"]
    clock = clock_of(ctx)
    system, now = Target(target), clock.now()
    if system in BATCHED:  # a job queued before batches: the batching job takes it over
        await _wake_batches(ctx, system)
        return 0
    if _paused(ctx).get(system, now) > now:
        return 0  # the system is failing: its events wait for the pause to end
    outcome = await deliver_aggregate(
        target=system,
        aggregate=aggregate,
        senders=ctx["senders"],
        policy=settings.retry_policy_for(system),
        clock=clock.now,
        budget_seconds=DELIVERY_BUDGET_SECONDS,
    )
    _learn(ctx, system, outcome.retry_at, settings)
    if outcome.delivered:
        log.info("outbox.delivered", target=target, aggregate=aggregate, events=outcome.delivered)
    return outcome.delivered


BATCHES_SECONDS = 10.0  # passes one batching job starts before it hands over (job timeout 30 s)
BATCHES_MAX_PAUSE = timedelta(seconds=5)  # a down RetailCRM is asked again this often


async def deliver_outbox_batches(ctx: dict[str, Any], target: str) -> int:
    """Deliver a batched system's due events, pass after pass, until none is due (or the
    job's time is up: the sweep starts the next). One such job runs at a time."""
    settings: Settings = ctx["settings"]
    clock = clock_of(ctx)
    system, started, delivered = Target(target), time.monotonic(), 0
    while time.monotonic() - started < BATCHES_SECONDS:
        now = clock.now()
        if _paused(ctx).get(system, now) > now:
            break  # the system is failing: its events wait for the pause to end
        outcome = await deliver_retailcrm(
            senders=ctx["senders"], policy=settings.retry_policy_for(system), clock=clock.now
        )
        _learn(ctx, system, outcome.retry_at, settings, BATCHES_MAX_PAUSE)
        delivered += outcome.delivered
        if outcome.delivered:
            log.info("outbox.delivered", target=target, events=outcome.delivered)
        if not outcome.found or outcome.retry_at is not None:
            break
    return delivered


async def _wake_batches(ctx: dict[str, Any], system: Target) -> bool:
    job = await ctx["redis"].enqueue_job(
        "deliver_outbox_batches",
        system.value,
        _job_id=batches_job_id(system),
        _queue_name=delivery_queue(system),
    )
    return job is not None  # None: it is queued or running already


def _paused(ctx: dict[str, Any]) -> dict[Target, datetime]:
    paused: dict[Target, datetime] = ctx.setdefault("paused", {})
    return paused


MAX_PAUSE = timedelta(seconds=30)


def _learn(
    ctx: dict[str, Any],
    system: Target,
    retry_at: datetime | None,
    s: Settings,
    max_pause: timedelta = MAX_PAUSE,
) -> None:
    """One failing call pauses the whole system for this worker, longer while it keeps failing
    (at most `max_pause`, so recovery never lags an outage by much): an outage costs one
    attempt per step, not one per waiting order. Lanes that fail together count as one."""
    failures: dict[Target, int] = ctx["failures"]
    paused = _paused(ctx)
    now = clock_of(ctx).now()
    if retry_at is None:
        failures[system] = 0
        return
    if paused.get(system, now) > now:
        return  # another lane already paused the system for this same outage step
    failures[system] = failures.get(system, 0) + 1
    step = s.retry_policy_for(system).next_delay(min(failures[system], 30), None) or MAX_PAUSE
    paused[system] = max(retry_at, now + min(step, max_pause))


async def sweep_outbox(ctx: dict[str, Any]) -> int:
    """Wake a delivery job for every aggregate of this worker's system with a due event:
    retries whose time has come, and anything whose job was lost (redis flushed, worker
    killed). Skipped while the system is paused."""
    target: Target = ctx["target"]
    now = clock_of(ctx).now()
    if _paused(ctx).get(target, now) > now:
        return 0
    if target in BATCHED:
        due = await due_aggregates(now=now, target=target, limit=1)
        return int(bool(due) and await _wake_batches(ctx, target))
    due = await due_aggregates(now=now, target=target)
    woken = 0
    for aggregate in due:
        job = await ctx["redis"].enqueue_job(
            "deliver_outbox",
            target.value,
            aggregate,
            _job_id=delivery_job_id(target, aggregate),
            _queue_name=delivery_queue(target),
        )
        woken += job is not None  # None: its job is queued or running already
    if woken:
        log.info("outbox.sweep", target=target.value, woken=woken)
    return len(due)
