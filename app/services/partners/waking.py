"""After commit: wake the delivery jobs of the subscriptions an order's events went to (the
partners' sweep, every second, would find them too; this saves the wait)."""

from __future__ import annotations

from app.domain.outbox import Target
from app.domain.webhooks import ORDER_EVENTS, SubscriptionState
from app.services.jobs import JobQueue, enqueue_quietly
from app.services.outbox.record import delivery_queue
from app.services.partners.draining import partner_job_id
from app.services.partners.recording import all_subscriptions

_ORDER_EVENTS = {k.value for k in ORDER_EVENTS}


async def wake_order_subscribers(jobs: JobQueue) -> None:
    """Queue a job for each active subscription to order events (a running one is not
    queued twice: its job id is taken, and it picks the new events up itself)."""
    active = [
        (s.id, s.events) for s in await all_subscriptions() if s.state is SubscriptionState.ACTIVE
    ]  # this process's copy, at most a moment old: no read per order
    for number, events in active:
        if _ORDER_EVENTS & set(events):
            await enqueue_quietly(
                jobs,
                "deliver_partner",
                number,
                job_id=partner_job_id(int(number)),
                queue=delivery_queue(Target.PARTNER),
            )
