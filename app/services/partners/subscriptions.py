"""Webhook subscriptions: create, change, pause and resume, rotate the secret, delete.

Every call names who asks: `partner_id` is the partner a token acts for, and it sees and
changes only its own subscriptions (another partner's look unknown: NOT_FOUND); None is the
brand's admin, who sees every partner's.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from app.domain.access import Scope
from app.domain.catalog import parse_guid
from app.domain.errors import DomainError, ErrorCode
from app.domain.outbox import EventKind, EventState, Target
from app.domain.webhooks import (
    API_VERSION,
    SubscriptionState,
    check_events,
    check_target_url,
    refused_among,
    subscription_prefix,
    subscription_secret,
)
from app.integrations.errors import RetryableError
from app.integrations.webhooks.addresses import Resolver, resolve
from app.models.catalog import Collection
from app.models.outbox import OutboxEvent
from app.models.partners import PartnerApp, WebhookSubscription
from app.services.partners.health import pause_subscription
from app.services.partners.recording import forget_subscriptions

MAX_SUBSCRIPTIONS = 20  # per partner


@dataclass(frozen=True, kw_only=True)
class UrlRules:
    require_https: bool
    allow_loopback: bool
    resolver: Resolver = resolve


@dataclass(frozen=True, kw_only=True)
class Created:
    subscription: WebhookSubscription
    secret: str  # shown once: the receiver needs it to check signatures


async def list_subscriptions(*, partner_id: int | None) -> list[WebhookSubscription]:
    """The caller's subscriptions (every partner's for the admin), oldest first."""
    query = WebhookSubscription.all()
    if partner_id is not None:
        query = query.filter(partner_id=partner_id)
    return await query.order_by("id")


async def find_subscription(*, partner_id: int | None, subscription_id: str) -> WebhookSubscription:
    """One of the caller's subscriptions; someone else's and an unknown one look the same."""
    text = subscription_id.strip()
    found = None
    if text.isascii() and text.isdecimal() and len(text) <= 9:
        found = await WebhookSubscription.get_or_none(id=int(text))
    if found is None or (partner_id is not None and found.partner_id != partner_id):
        raise DomainError(ErrorCode.NOT_FOUND, f"no webhook subscription {text[:20]}", ("id",))
    return found


async def create_subscription(
    *,
    partner_id: int,
    url: str,
    events: Sequence[EventKind],
    collection_guid: str | None,
    scopes: frozenset[Scope],
    rules: UrlRules,
    key: str,
    now: datetime,
) -> Created:
    """Subscribe a partner to events at a URL; `scopes` (the caller's) decide which events it
    may have. The URL is checked, its host resolved and every address checked."""
    if not key:
        raise DomainError(ErrorCode.INVALID, "webhooks are not set up: PARTNER_SECRET_KEY", ())
    partner = await PartnerApp.get_or_none(id=partner_id)
    if partner is None:
        raise DomainError(ErrorCode.NOT_FOUND, f"no partner has id {partner_id}", ("partnerId",))
    chosen = check_events(events, scopes)
    target = await _checked_url(url, rules)
    collection = await _collection(collection_guid)
    if await WebhookSubscription.filter(partner_id=partner_id).count() >= MAX_SUBSCRIPTIONS:
        raise DomainError(
            ErrorCode.INVALID, f"a partner has at most {MAX_SUBSCRIPTIONS} subscriptions", ()
        )
    subscription = await WebhookSubscription.create(
        partner_id=partner_id,
        url=target,
        events=[k.value for k in chosen],
        collection_guid=collection,
        secret_salt=secrets.token_hex(16),
        api_version=API_VERSION,
        created_at=now,
    )
    forget_subscriptions()  # this process records for it at once; others within seconds
    return Created(subscription=subscription, secret=secret_of(subscription, key))


def secret_of(subscription: WebhookSubscription, key: str) -> str:
    return subscription_secret(key, subscription.id, subscription.secret_salt)


async def update_subscription(
    *,
    partner_id: int | None,
    subscription_id: str,
    url: str | None,
    events: Sequence[EventKind] | None,
    collection_guid: str | None,
    clear_collection: bool,
    scopes: frozenset[Scope],
    rules: UrlRules,
) -> WebhookSubscription:
    """Change what a subscription hears and where; left out (None) stays as it is. Events
    already recorded keep going to the subscription as they were recorded."""
    subscription = await find_subscription(partner_id=partner_id, subscription_id=subscription_id)
    changes: dict[str, object] = {}
    if events is not None:
        changes["events"] = [k.value for k in check_events(events, scopes)]
    if url is not None:
        changes["url"] = await _checked_url(url, rules)
    if collection_guid is not None:
        changes["collection_guid"] = await _collection(collection_guid)
    elif clear_collection:
        changes["collection_guid"] = None
    if changes:
        await WebhookSubscription.filter(id=subscription.id).update(**changes)
        forget_subscriptions()
    return await WebhookSubscription.get(id=subscription.id)


async def rotate_secret(*, partner_id: int | None, subscription_id: str, key: str) -> Created:
    """A new secret, at once: the old one signs nothing from now on."""
    if not key:
        raise DomainError(ErrorCode.INVALID, "webhooks are not set up: PARTNER_SECRET_KEY", ())
    subscription = await find_subscription(partner_id=partner_id, subscription_id=subscription_id)
    await WebhookSubscription.filter(id=subscription.id).update(secret_salt=secrets.token_hex(16))
    fresh = await WebhookSubscription.get(id=subscription.id)
    return Created(subscription=fresh, secret=secret_of(fresh, key))


async def pause(
    *, partner_id: int | None, subscription_id: str, now: datetime
) -> WebhookSubscription:
    """Stop sending (events keep being recorded); pausing a paused one changes nothing."""
    subscription = await find_subscription(partner_id=partner_id, subscription_id=subscription_id)
    await pause_subscription(subscription.id, reason="paused by hand", now=now)
    forget_subscriptions()
    return await WebhookSubscription.get(id=subscription.id)


async def resume(
    *, partner_id: int | None, subscription_id: str, now: datetime
) -> WebhookSubscription:
    """Send again: the failure streak is forgotten and whatever waits goes at once (dead
    letters stay dead until replayed)."""
    subscription = await find_subscription(partner_id=partner_id, subscription_id=subscription_id)
    async with in_transaction():
        await WebhookSubscription.filter(id=subscription.id).update(
            state=SubscriptionState.ACTIVE,
            failure_streak=0,
            failing_since=None,
            resting_until=None,
            paused_at=None,
            pause_reason="",
        )
        await _pending(subscription.id).update(next_attempt_at=now)
    forget_subscriptions()
    return await WebhookSubscription.get(id=subscription.id)


async def delete_subscription(*, partner_id: int | None, subscription_id: str) -> int:
    """Delete the subscription and what it had not received (pending and dead); returns the
    id it had. What it received stays in the outbox's history."""
    subscription = await find_subscription(partner_id=partner_id, subscription_id=subscription_id)
    async with in_transaction():
        await OutboxEvent.filter(
            target=Target.PARTNER,
            state__in=[EventState.PENDING, EventState.DEAD],
            aggregate__startswith=subscription_prefix(subscription.id),
        ).delete()
        await WebhookSubscription.filter(id=subscription.id).delete()
    forget_subscriptions()
    return subscription.id


def _pending(subscription_id: int) -> QuerySet[OutboxEvent]:
    return OutboxEvent.filter(
        target=Target.PARTNER,
        state=EventState.PENDING,
        aggregate__startswith=subscription_prefix(subscription_id),
    )


async def _checked_url(url: str, rules: UrlRules) -> str:
    target = check_target_url(
        url, require_https=rules.require_https, allow_loopback=rules.allow_loopback
    )
    try:
        addresses = await rules.resolver(target.host, target.port)
    except RetryableError as error:
        raise DomainError(ErrorCode.INVALID, error.message, ("url",)) from None
    reason = refused_among(addresses, rules.allow_loopback)
    if reason is not None:
        raise DomainError(ErrorCode.INVALID, f"{target.host} resolves to {reason}", ("url",))
    return target.url


async def _collection(guid: str | None) -> str | None:
    if guid is None:
        return None
    clean = parse_guid(guid, path=("collectionId",))
    if not await Collection.exists(guid=clean):
        raise DomainError(ErrorCode.UNKNOWN_COLLECTION, f"no collection {clean}", ("collectionId",))
    return clean
