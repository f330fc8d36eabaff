"""Deliver one subscription's due events: a few aggregates at once, each in order.

One job per subscription at a time (its job id), so a subscription never has more than
`concurrency` requests in flight, however many events wait; a slow or dead receiver holds
its own job and nobody else's. A failing receiver ends the job at once (it rests until its
next probe, app/services/partners/health.py), and after a failure only one aggregate is
tried per job: an outage costs one request per probe, not one per waiting event.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from tortoise.queryset import QuerySet

from app.domain.outbox import EventState, RetryPolicy, Target
from app.domain.webhooks import SubscriptionState, subscription_prefix
from app.models.outbox import OutboxEvent
from app.models.partners import WebhookSubscription
from app.services.outbox.delivery import Outcome, Senders, deliver_aggregate

Clock = Callable[[], datetime]
POLL_SECONDS = 0.05  # while lingering: how often a drained subscription looks for new events
MAX_STUCK = 500  # aggregates a job may skip (behind a dead letter) before it ends


async def _nobody() -> bool:
    return False


@dataclass(frozen=True, kw_only=True)
class Lane:
    """How one subscription's job runs."""

    concurrency: int  # aggregates in flight at once
    budget: float  # seconds a job runs before it lets waiting jobs of others in
    linger: float  # seconds a drained job waits for new events before it ends
    others_waiting: Callable[[], Awaitable[bool]] = _nobody  # other subscriptions' jobs queue


def partner_job_id(subscription_id: int) -> str:
    """One delivery job per subscription at a time: its requests in flight stay bounded."""
    return f"partner:{subscription_id}"


async def due_subscriptions(*, now: datetime) -> list[int]:
    """Subscriptions worth a job now: deliverable, with an event due."""
    ids = await WebhookSubscription.filter(WebhookSubscription.deliverable(now)).values_list(
        "id", flat=True
    )
    return [int(str(i)) for i in ids if await _has_due(int(str(i)), now)]


async def _has_due(subscription_id: int, now: datetime) -> bool:
    return await _due(subscription_id, now).exists()


def _due(subscription_id: int, now: datetime) -> QuerySet[OutboxEvent]:
    return OutboxEvent.filter(
        target=Target.PARTNER,
        state=EventState.PENDING,
        next_attempt_at__lte=now,
        aggregate__startswith=subscription_prefix(subscription_id),
    )


async def due_aggregates_of(
    subscription_id: int, *, now: datetime, skip: set[str], limit: int
) -> list[str]:
    """Aggregates of the subscription with an event due, oldest first, except `skip`."""
    query = _due(subscription_id, now)
    if skip:
        query = query.exclude(aggregate__in=sorted(skip))
    rows = await query.order_by("id").limit(limit * 4).values_list("aggregate", flat=True)
    return list(dict.fromkeys(str(a) for a in rows))[:limit]


async def drain_subscription(
    *,
    subscription_id: int,
    senders: Senders,
    policy: RetryPolicy,
    clock: Clock,
    lane: Lane,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> int:
    """Deliver what is due; return how many events went. Ends when the receiver fails, when
    nothing has come due for `lane.linger` seconds, or after `lane.budget` seconds if other
    subscriptions' jobs wait for a lane (a steady stream otherwise keeps its job)."""
    started = idle_since = time.monotonic()
    delivered, stuck = 0, set[str]()
    while len(stuck) < MAX_STUCK:
        if time.monotonic() - started >= lane.budget:
            if await lane.others_waiting():
                break
            started = time.monotonic()
        subscription = await WebhookSubscription.get_or_none(id=subscription_id)
        now = clock()
        if subscription is None or not _deliverable(subscription, now):
            break
        size = 1 if subscription.failure_streak else lane.concurrency * 4
        due = await due_aggregates_of(subscription_id, now=now, skip=stuck, limit=size)
        if not due:
            if time.monotonic() - idle_since >= lane.linger:
                break
            await sleep(POLL_SECONDS)
            continue
        outcomes = await _each(due, lane.concurrency, senders, policy, clock)
        delivered += sum(o.delivered for o in outcomes)
        stuck |= {
            a for a, o in zip(due, outcomes, strict=True) if not o.delivered and not o.retry_at
        }
        if any(o.retry_at for o in outcomes):
            break  # the receiver is failing: it rests until its next probe
        idle_since = time.monotonic()
    return delivered


def _deliverable(subscription: WebhookSubscription, now: datetime) -> bool:
    resting = subscription.resting_until is not None and subscription.resting_until > now
    return subscription.state is SubscriptionState.ACTIVE and not resting


async def _each(
    aggregates: list[str], concurrency: int, senders: Senders, policy: RetryPolicy, clock: Clock
) -> list[Outcome]:
    gate = asyncio.Semaphore(concurrency)

    async def one(aggregate: str) -> Outcome:
        async with gate:
            return await deliver_aggregate(
                target=Target.PARTNER,
                aggregate=aggregate,
                senders=senders,
                policy=policy,
                clock=clock,
            )

    return list(await asyncio.gather(*(one(a) for a in aggregates)))
