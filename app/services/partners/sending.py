"""Send one partner event: the envelope, its signature, the receiver's answer, and what the
answer means for the subscription (the outbox's PartnerPort)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from app.domain.errors import DomainError
from app.domain.outbox import EventKind, RetryPolicy
from app.domain.webhooks import (
    SubscriptionState,
    TargetUrl,
    body_bytes,
    check_target_url,
    envelope,
    signature,
    subscription_of,
    subscription_secret,
)
from app.integrations.errors import IntegrationError, RejectedError, RetryableError
from app.integrations.webhooks.client import GoneError
from app.models.outbox import OutboxEvent
from app.models.partners import WebhookSubscription
from app.services.partners.health import note_failure, pause_subscription
from app.services.partners.payloads import Data, stock_data

GONE = "the receiver answered 410 Gone: it wants no more events"


class Receiver(Protocol):
    async def post(self, target: TargetUrl, body: bytes, headers: dict[str, str]) -> None: ...
    async def aclose(self) -> None: ...


@dataclass(frozen=True, kw_only=True)
class PartnerRules:
    """What the sender is told by the settings."""

    secret_key: str
    require_https: bool
    allow_loopback: bool
    policy: RetryPolicy
    pause_after: timedelta


class PartnerSender:
    """Send partner events to their subscriptions' receivers."""

    def __init__(self, receiver: Receiver, rules: PartnerRules) -> None:
        self._receiver = receiver
        self._rules = rules

    async def deliver(self, event: OutboxEvent, now: datetime) -> None:
        """POST the event, signed; raise the outbox's RetryableError or RejectedError."""
        subscription = await _subscription(event)
        data = await _data(event, now)
        body = body_bytes(
            envelope(
                event_id=event.event_id,
                kind=event.kind,
                created_at=event.created_at,
                api_version=subscription.api_version,
                data=data,
            )
        )
        try:
            await self._receiver.post(
                self._target(subscription), body, self._headers(subscription, event, body, now)
            )
        except GoneError as error:
            await pause_subscription(subscription.id, reason=GONE, now=now)
            raise RetryableError(f"{error}: paused") from error  # it waits for a resume
        except IntegrationError as error:
            await note_failure(
                subscription,
                error,
                now=now,
                policy=self._rules.policy,
                pause_after=self._rules.pause_after,
            )
            raise
        if subscription.failure_streak:
            await WebhookSubscription.note_success(subscription.id)

    async def aclose(self) -> None:
        await self._receiver.aclose()

    def _target(self, subscription: WebhookSubscription) -> TargetUrl:
        try:
            return check_target_url(
                subscription.url,
                require_https=self._rules.require_https,
                allow_loopback=self._rules.allow_loopback,
            )
        except DomainError as error:  # the rules got stricter since it was created
            raise RejectedError(f"not sent to {subscription.url}: {error.message}", 0, "") from None

    def _headers(
        self, subscription: WebhookSubscription, event: OutboxEvent, body: bytes, now: datetime
    ) -> dict[str, str]:
        timestamp = int(now.timestamp())
        secret = subscription_secret(
            self._rules.secret_key, subscription.id, subscription.secret_salt
        )
        return {
            "Vitrina-Event-Id": event.event_id,
            "Vitrina-Event-Type": event.kind.value,
            "Vitrina-Timestamp": str(timestamp),
            "Vitrina-Signature": signature(secret, timestamp, body),
        }


async def _subscription(event: OutboxEvent) -> WebhookSubscription:
    number = subscription_of(event.aggregate)
    subscription = None if number is None else await WebhookSubscription.get_or_none(id=number)
    if subscription is None:
        raise RejectedError("its subscription was deleted", 0, "")
    if subscription.state is SubscriptionState.PAUSED:
        # paused while this event was on its way: it waits (the next try is after the resume)
        raise RetryableError("the subscription is paused", retry_after=3600)
    return subscription


async def _data(event: OutboxEvent, now: datetime) -> Data | None:
    if event.kind is EventKind.STOCK_CHANGED:  # the figure when it is sent, not a stale one
        return await stock_data(str(event.payload["id"]), now)
    return event.payload
