"""A subscription whose receiver fails: rest it between probes, pause it once it has failed
for long, and tell its owner (a message through the outbox's notify target)."""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from tortoise.transactions import in_transaction

from app.domain.outbound import MessageChannel
from app.domain.outbox import RetryPolicy
from app.domain.webhooks import rest_after, should_pause
from app.integrations.errors import IntegrationError, RetryableError
from app.models.partners import PartnerApp, WebhookSubscription
from app.services.accounts.messages import record_message

log = structlog.get_logger(__name__)

MAX_REST = timedelta(minutes=5)  # a failing receiver is probed at least this often
PAUSED_TEMPLATE = "webhook_subscription_paused"


async def note_failure(
    subscription: WebhookSubscription,
    error: IntegrationError,
    *,
    now: datetime,
    policy: RetryPolicy,
    pause_after: timedelta,
) -> None:
    """Count a failed request; rest the subscription, or pause it if it has failed too long."""
    streak = subscription.failure_streak + 1
    step = policy.next_delay(min(streak, policy.max_attempts - 1), None)
    retry_after = error.retry_after if isinstance(error, RetryableError) else None
    rest = rest_after(retry_after, step, MAX_REST)
    await WebhookSubscription.note_failure(subscription.id, now=now, rest_until=now + rest)
    since = subscription.failing_since or now
    if should_pause(since, now, pause_after):
        reason = f"no event accepted since {since:%Y-%m-%d %H:%M} UTC; last: {error}"
        await pause_subscription(subscription.id, reason=reason, now=now)


async def pause_subscription(subscription_id: int, *, reason: str, now: datetime) -> bool:
    """Stop sending to the subscription and tell its partner's contact; True if this call
    paused it (events keep being recorded and wait for it to be resumed)."""
    async with in_transaction():
        if not await WebhookSubscription.pause(subscription_id, now=now, reason=reason):
            return False
        subscription = await WebhookSubscription.get(id=subscription_id)
        partner = await PartnerApp.get(id=subscription.partner_id)
        await record_message(
            channel=MessageChannel.EMAIL,
            to=partner.contact_email,
            template=PAUSED_TEMPLATE,
            params={
                "partner": partner.name,
                "subscription": str(subscription.id),
                "url": subscription.url,
                "reason": reason[:300],
            },
            now=now,
        )
    log.warning(
        "partner.subscription_paused",
        partner=partner.name,
        subscription=subscription_id,
        url=subscription.url,
        reason=reason,
    )
    return True
