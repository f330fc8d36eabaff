"""What a subscription was sent, what waits, what died; replaying its dead letters.

A delivery is an outbox row of the `partner` target whose aggregate names the subscription:
the caller sees only its own subscriptions' (app/services/partners/subscriptions.py).
"""

from __future__ import annotations

from datetime import datetime

from app.domain.errors import DomainError, ErrorCode
from app.domain.outbox import EventState, Target
from app.domain.webhooks import subscription_prefix
from app.models.outbox import OutboxEvent
from app.services.outbox.admin import EventPage, newest_first
from app.services.outbox.delivery import replay
from app.services.partners.subscriptions import find_subscription

MAX_PAGE = 200
REPLAY_CHUNK = 500  # ids per UPDATE (SQLite's parameter limit)
_LISTING = "webhook-deliveries"


async def list_deliveries(
    *,
    partner_id: int | None,
    subscription_id: str,
    state: EventState | None,
    first: int,
    after: str | None,
) -> EventPage:
    """A subscription's deliveries newest first, by state (None: all), keyset-paginated."""
    if not 1 <= first <= MAX_PAGE:
        raise DomainError(ErrorCode.INVALID, f"a page holds 1..{MAX_PAGE} deliveries", ("first",))
    subscription = await find_subscription(partner_id=partner_id, subscription_id=subscription_id)
    query = OutboxEvent.filter(
        target=Target.PARTNER, aggregate__startswith=subscription_prefix(subscription.id)
    )
    if state is not None:
        query = query.filter(state=state)
    return await newest_first(query, first=first, after=after, listing=_LISTING)


async def replay_deliveries(
    *,
    partner_id: int | None,
    subscription_id: str,
    event_ids: list[str] | None,
    replay_all: bool,
    now: datetime,
) -> int:
    """Make a subscription's dead letters pending again: the ones named, or all of them;
    returns how many (ids that are not its dead letters are skipped)."""
    if replay_all and event_ids is not None:
        raise DomainError(ErrorCode.INVALID, "give event ids or all, not both", ("all",))
    if not replay_all and not event_ids:
        raise DomainError(ErrorCode.INVALID, "give at least one event id, or all", ("eventIds",))
    subscription = await find_subscription(partner_id=partner_id, subscription_id=subscription_id)
    dead = OutboxEvent.filter(
        target=Target.PARTNER,
        state=EventState.DEAD,
        aggregate__startswith=subscription_prefix(subscription.id),
    )
    if event_ids is not None:
        dead = dead.filter(event_id__in=event_ids[:MAX_PAGE])
    ids = [str(i) for i in await dead.values_list("event_id", flat=True)]
    replayed = 0
    for start in range(0, len(ids), REPLAY_CHUNK):
        replayed += await replay(event_ids=ids[start : start + REPLAY_CHUNK], now=now)
    return replayed
