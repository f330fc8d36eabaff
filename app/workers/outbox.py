"""Outbox delivery jobs: one per system and aggregate at a time, and a per-second sweep."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from app.domain.outbox import Target
from app.integrations.notify.log import LoggingNotifier
from app.integrations.onec.client import OneCClient
from app.integrations.retailcrm.client import RetailCrmClient
from app.integrations.slack.client import SlackClient
from app.services.jobs import JobQueue, NoQueue
from app.services.outbox.delivery import Senders, deliver_aggregate, due_aggregates
from app.services.outbox.record import delivery_job_id, delivery_queue
from app.services.shops.slack_calls import ShopSlack
from app.settings import Settings

log = structlog.get_logger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


def build_senders(settings: Settings, jobs: JobQueue | None = None) -> Senders:
    """Clients for the systems that are configured (the others' events wait, pending).

    `jobs`: where the Slack sender schedules a posted request's reminder and deadline."""
    onec = None
    if settings.onec_url:
        onec = OneCClient(settings.onec_url, settings.onec_username, settings.onec_password)
    crm = None
    if settings.retailcrm_url:
        crm = RetailCrmClient(
            settings.retailcrm_url,
            settings.retailcrm_api_key,
            settings.retailcrm_site,
            max_rps=settings.retailcrm_max_rps,
        )
    slack = None
    if settings.slack_bot_token:
        client = SlackClient(settings.slack_bot_token, base_url=settings.slack_url)
        slack = ShopSlack(client, settings.shop_rules, jobs or NoQueue())
    return Senders(onec=onec, retailcrm=crm, notify=LoggingNotifier(), slack=slack)


async def close_senders(senders: Senders) -> None:
    for client in (senders.onec, senders.retailcrm):
        if isinstance(client, OneCClient | RetailCrmClient):
            await client.aclose()
    if isinstance(senders.slack, ShopSlack):
        await senders.slack.aclose()


async def deliver_outbox(ctx: dict[str, Any], target: str, aggregate: str) -> int:
    """Deliver one aggregate's due events to one system, in order."""
    settings: Settings = ctx["settings"]
    system, now = Target(target), utc_now()
    if _paused(ctx).get(system, now) > now:
        return 0  # the system is failing: its events wait for the pause to end
    outcome = await deliver_aggregate(
        target=system,
        aggregate=aggregate,
        senders=ctx["senders"],
        policy=settings.retry_policy,
        clock=utc_now,
    )
    _learn(ctx, system, outcome.retry_at, settings)
    if outcome.delivered:
        log.info("outbox.delivered", target=target, aggregate=aggregate, events=outcome.delivered)
    return outcome.delivered


def _paused(ctx: dict[str, Any]) -> dict[Target, datetime]:
    paused: dict[Target, datetime] = ctx.setdefault("paused", {})
    return paused


MAX_PAUSE = timedelta(seconds=30)


def _learn(ctx: dict[str, Any], system: Target, retry_at: datetime | None, s: Settings) -> None:
    """One failing call pauses the whole system for this worker, longer while it keeps failing
    (at most 30 s, so recovery never lags an outage by much): an outage costs one attempt per
    step, not one per waiting order. Lanes that fail together count as one failure."""
    failures: dict[Target, int] = ctx["failures"]
    paused = _paused(ctx)
    now = utc_now()
    if retry_at is None:
        failures[system] = 0
        return
    if paused.get(system, now) > now:
        return  # another lane already paused the system for this same outage step
    failures[system] = failures.get(system, 0) + 1
    step = s.retry_policy.next_delay(min(failures[system], 30), None) or MAX_PAUSE
    paused[system] = max(retry_at, now + min(step, MAX_PAUSE))


async def sweep_outbox(ctx: dict[str, Any]) -> int:
    """Wake a delivery job for every aggregate of this worker's system with a due event:
    retries whose time has come, and anything whose job was lost (redis flushed, worker
    killed). Skipped while the system is paused."""
    target: Target = ctx["target"]
    now = utc_now()
    if _paused(ctx).get(target, now) > now:
        return 0
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
