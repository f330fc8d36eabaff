"""The partners' delivery worker: one job per subscription at a time, a per-second sweep, and
the sweep that announces collection releases.

Its own queue and lanes, so partners never delay 1C, RetailCRM, customers' messages or Slack;
a lane is a subscription, never more than `partner_subscription_concurrency` requests in it,
so one slow or dead partner never delays another.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import structlog
from arq import cron
from arq.worker import Worker

from app.domain.outbox import Target
from app.integrations.webhooks.client import WebhookClient
from app.redis_setup import arq_settings
from app.services.outbox.delivery import Senders
from app.services.outbox.record import delivery_queue
from app.services.partners.draining import (
    Lane,
    drain_subscription,
    due_subscriptions,
    partner_job_id,
)
from app.services.partners.recording import record_releases
from app.services.partners.sending import PartnerRules, PartnerSender
from app.settings import Settings
from app.workers.clock import WALL_CLOCK, WorkerClock, clock_of

log = structlog.get_logger(__name__)
EVERY_SECOND = set(range(60))
JOB_BUDGET_SECONDS = 20.0  # then, if others wait, the job ends and is queued again behind them
LINGER_SECONDS = 1.0  # a drained job waits this long for more (a stream goes out at once)


def build_partner_sender(settings: Settings) -> PartnerSender:
    client = WebhookClient(
        timeout=settings.partner_timeout_seconds,
        allow_loopback=settings.webhook_loopback_allowed,
    )
    rules = PartnerRules(
        secret_key=settings.resolved_partner_secret_key,
        require_https=settings.webhook_https_required,
        allow_loopback=settings.webhook_loopback_allowed,
        policy=settings.partner_retry_policy,
        pause_after=timedelta(hours=settings.partner_pause_after_hours),
    )
    return PartnerSender(client, rules)


async def deliver_partner(ctx: dict[str, Any], subscription_id: int) -> int:
    """Deliver one subscription's due events (a few aggregates at once, each in order)."""
    settings: Settings = ctx["settings"]
    if not ctx["senders"].configured(Target.PARTNER):
        return 0
    delivered = await drain_subscription(
        subscription_id=subscription_id,
        senders=ctx["senders"],
        policy=settings.partner_retry_policy,
        clock=clock_of(ctx).now,
        lane=Lane(
            concurrency=settings.partner_subscription_concurrency,
            budget=JOB_BUDGET_SECONDS,
            linger=LINGER_SECONDS,
            others_waiting=lambda: _queued(ctx),
        ),
    )
    if delivered:
        log.info("partner.delivered", subscription=subscription_id, events=delivered)
    return delivered


async def _queued(ctx: dict[str, Any]) -> bool:
    """Jobs of other subscriptions wait in the partners' queue (this one's is running)."""
    waiting: int = await ctx["redis"].zcard(delivery_queue(Target.PARTNER))
    return waiting > 0


async def sweep_partners(ctx: dict[str, Any]) -> int:
    """Queue a job for every subscription with an event due (new ones, retries whose time has
    come, anything a lost job left behind); paused and resting subscriptions are skipped."""
    if not ctx["senders"].configured(Target.PARTNER):
        return 0
    due = await due_subscriptions(now=clock_of(ctx).now())
    woken = 0
    for subscription_id in due:
        job = await ctx["redis"].enqueue_job(
            "deliver_partner",
            subscription_id,
            _job_id=partner_job_id(subscription_id),
            _queue_name=delivery_queue(Target.PARTNER),
        )
        woken += job is not None  # None: its job is queued or running already
    if woken:
        log.info("partner.sweep", woken=woken)
    return len(due)


async def announce_releases(ctx: dict[str, Any]) -> int:
    """Tell subscribers of each collection whose drop has started (once per release)."""
    announced = await record_releases(now=clock_of(ctx).now())
    if announced:
        log.info("partner.releases_announced", collections=announced)
    return announced


def build_partner_worker(
    settings: Settings, *, redis_url: str, clock: WorkerClock = WALL_CLOCK
) -> Worker:
    """Deliver partners' events from their own queue, `partner_lanes` subscriptions at once."""

    async def on_startup(ctx: dict[str, Any]) -> None:
        configured = bool(settings.resolved_partner_secret_key)
        sender = build_partner_sender(settings) if configured else None
        ctx.update(settings=settings, clock=clock, senders=Senders(partner=sender))
        if not configured:  # nothing can be signed: events wait, pending, as for an unset 1C
            log.warning("partner.not_configured", missing="PARTNER_SECRET_KEY")
        log.info("worker.started", queue=delivery_queue(Target.PARTNER))

    async def on_shutdown(ctx: dict[str, Any]) -> None:
        senders: Senders | None = ctx.get("senders")  # None: stopped while starting
        if senders is not None and isinstance(senders.partner, PartnerSender):
            await senders.partner.aclose()

    return Worker(
        functions=[deliver_partner],
        cron_jobs=[
            cron(sweep_partners, second=EVERY_SECOND, run_at_startup=True),
            cron(announce_releases, second=set(range(0, 60, 5)), run_at_startup=False),
        ],
        keep_result=0,  # as the other delivery workers: a kept result would refuse the job id
        queue_name=delivery_queue(Target.PARTNER),
        redis_settings=arq_settings(redis_url),
        on_startup=on_startup,
        on_shutdown=on_shutdown,
        handle_signals=False,
        max_jobs=settings.partner_lanes,
        poll_delay=0.05,
        job_timeout=int(JOB_BUDGET_SECONDS * 3),  # a batch begun near the budget's end finishes
    )
