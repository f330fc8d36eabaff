"""Deliver RetailCRM's due events in batches: a customer before its orders, up to 50 a call.

RetailCRM allows 10 calls a second; one event at a time costs ~2.7 calls an order, so a drop's
burst reached managers minutes late. A pass takes the due RetailCRM aggregates, oldest first
(one whose oldest event is a dead letter, or backs off, waits behind it as before), merges each
one's waiting events into one delivery (app/domain/coalescing.py) and sends them in
`customers/upload` and `orders/upload` calls (app/services/outbox/retailcrm_pass.py). The
outbox rows stay the truth: a delivery's rows are marked delivered once all its calls
succeeded, so a pass cut off anywhere (a killed worker, a flushed redis) is sent again and
RetailCRM, keyed by externalId, ends the same. What RetailCRM refused inside a batch is sent
again alone, event by event (`deliver_aggregate`), and parked there exactly as before.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from tortoise.expressions import F, Q

from app.domain.coalescing import MAX_BATCH, Delivery, Waiting, calls_needed, coalesce
from app.domain.outbound_json import (
    Record,
    customer_from_json,
    order_from_json,
    order_status_from_json,
    payment_from_json,
)
from app.domain.outbox import EventKind, EventState, RetryPolicy, Target
from app.domain.segment_export import is_batch_aggregate
from app.integrations.errors import RetryableError
from app.models.outbox import OutboxEvent
from app.services.identity.delivery import IDENTITY_AGGREGATES, release_waiting
from app.services.outbox.delivery import Clock, Senders, deliver_aggregate, due_aggregates
from app.services.outbox.retailcrm_pass import BatchPass, RetailCrmBatchPort

log = structlog.get_logger(__name__)

TARGET = Target.RETAILCRM
MAX_CALLS = 40  # a pass starts no new group past this: ~4.5 s at RetailCRM's pace
SCAN = 500  # due aggregates looked at per pass
ALONE = 10  # aggregates sent event by event per pass, at most (the rest in the next)


@dataclass(frozen=True)
class PassOutcome:
    found: int  # aggregates due when the pass began (0: nothing to do)
    delivered: int  # events delivered
    retry_at: datetime | None = None  # RetailCRM is failing: pause until then at least


async def deliver_retailcrm(
    *,
    senders: Senders,
    policy: RetryPolicy,
    clock: Clock,
    batch: int = MAX_BATCH,
    max_calls: int = MAX_CALLS,
) -> PassOutcome:
    """One pass over RetailCRM's due aggregates, in batches (see the module's doc)."""
    crm = senders.retailcrm
    if crm is None:
        return PassOutcome(0, 0)
    due = await _due_deliveries(clock(), batch, max_calls)
    single = await _single_calls(clock())  # consents, erasure, segment batches: one by one
    if not isinstance(crm, RetailCrmBatchPort):  # a sender without batches: as before them
        alone, retry_at = await _alone(list(due) + single[:ALONE], senders, policy, clock)
        return PassOutcome(len(due) + len(single), alone, retry_at)
    ledger = _Rows(due, policy, clock)
    result = await BatchPass(crm, ledger, batch, max_calls).run([d for d, _ in due.values()])
    if result.stopped is not None:
        wait = timedelta(seconds=result.stopped.retry_after or 0)
        return PassOutcome(len(due), ledger.delivered_events, clock() + wait)
    fallback = [d.aggregate for d in result.fallback] + single
    alone, retry_at = await _alone(fallback[:ALONE], senders, policy, clock)
    return PassOutcome(len(due) + len(single), ledger.delivered_events + alone, retry_at)


SEGMENT_BATCHES = 1  # per pass: one batch of an export may make 50 edits (~5 s of budget)


async def _single_calls(now: datetime) -> list[str]:
    """Due aggregates of the identity events (app/services/identity/delivery.py), at most
    SEGMENT_BATCHES of them segment batches."""
    aggregates = await _due(now, identity=True)
    batches = [a for a in aggregates if is_batch_aggregate(a)][:SEGMENT_BATCHES]
    return [a for a in aggregates if not is_batch_aggregate(a) or a in batches]


async def _due(now: datetime, *, identity: bool) -> list[str]:
    """Due aggregates, oldest first, of the identity events or of the others: each kind is
    looked for on its own, so an export's thousands of due rows never hide an order."""
    ours = Q(*[Q(aggregate__startswith=p) for p in IDENTITY_AGGREGATES], join_type="OR")
    return await due_aggregates(
        now=now, target=TARGET, limit=SCAN, where=ours if identity else ~ours
    )


async def _alone(
    aggregates: Sequence[str], senders: Senders, policy: RetryPolicy, clock: Clock
) -> tuple[int, datetime | None]:
    """Send aggregates event by event, as before batches; stop at the first that must wait."""
    delivered = 0
    for aggregate in aggregates:
        outcome = await deliver_aggregate(
            target=TARGET, aggregate=aggregate, senders=senders, policy=policy, clock=clock
        )
        delivered += outcome.delivered
        if outcome.retry_at is not None:
            return delivered, clock()  # the worker's pause steps; the event keeps its backoff
    return delivered, None


Loaded = dict[str, tuple[Delivery, list[OutboxEvent]]]


async def _due_deliveries(now: datetime, batch: int, max_calls: int) -> Loaded:
    """The due aggregates' deliveries, oldest first, up to about `max_calls` calls' worth.
    An aggregate whose events this rule cannot read is parked (its oldest event)."""
    aggregates = await _due(now, identity=False)
    rows = await OutboxEvent.filter(
        target=TARGET, aggregate__in=aggregates, state__in=[EventState.PENDING, EventState.DEAD]
    ).order_by("id")
    by_aggregate: dict[str, list[OutboxEvent]] = {}
    for row in rows:
        by_aggregate.setdefault(row.aggregate, []).append(row)
    loaded: Loaded = {}
    cost = 0.0
    for aggregate in aggregates:
        if aggregate.startswith(IDENTITY_AGGREGATES):
            continue  # sent one call at a time (_single_calls)
        waiting = _waiting(by_aggregate.get(aggregate, []), now)
        if not waiting or cost >= max_calls:
            continue
        try:
            delivery = coalesce(aggregate, [Waiting(r.id, r.kind, _record(r)) for r in waiting])
        except (KeyError, TypeError, ValueError) as error:  # no retry can make it readable
            await _park(waiting[0], f"not a RetailCRM event this worker can read: {error!r}")
            continue
        loaded[aggregate] = (delivery, waiting)
        cost += calls_needed(delivery, batch)
    return loaded


def _waiting(rows: list[OutboxEvent], now: datetime) -> list[OutboxEvent]:
    """An aggregate's leading pending events, if its oldest is due (none behind a dead one)."""
    if not rows or rows[0].state is not EventState.PENDING or rows[0].next_attempt_at > now:
        return []
    waiting = []
    for row in rows:
        if row.state is not EventState.PENDING:
            break
        waiting.append(row)
    return waiting


_PARSERS: dict[EventKind, Callable[[dict[str, Any]], Record]] = {
    EventKind.CUSTOMER_UPSERTED: customer_from_json,
    EventKind.ORDER_PLACED: order_from_json,
    EventKind.ORDER_CHANGED: order_from_json,
    EventKind.ORDER_STATUS_CHANGED: order_status_from_json,
    EventKind.PAYMENT_STATUS_CHANGED: payment_from_json,
}


def _record(row: OutboxEvent) -> Record:
    return _PARSERS[row.kind](row.payload)


class _Rows:
    """The outbox rows of a pass's deliveries: marked as the pass goes."""

    def __init__(self, due: Loaded, policy: RetryPolicy, clock: Clock) -> None:
        self._rows = {aggregate: rows for aggregate, (_, rows) in due.items()}
        self._policy, self._clock = policy, clock
        self.delivered_events = 0

    async def delivered(self, deliveries: Sequence[Delivery]) -> None:
        rows = [row for d in deliveries for row in self._rows[d.aggregate]]
        ids = [row.id for row in rows]
        self.delivered_events += await OutboxEvent.filter(
            id__in=ids, state=EventState.PENDING
        ).update(
            state=EventState.DELIVERED,
            attempts=F("attempts") + 1,
            delivered_at=self._clock(),
            last_error="",
        )
        await release_waiting(rows, self._clock())  # consents waiting for these customers

    async def failed(self, deliveries: Sequence[Delivery], error: RetryableError) -> None:
        """One attempt of each delivery failed: back off, or park its oldest event."""
        now = self._clock()
        for delivery in deliveries:
            rows = self._rows[delivery.aggregate]
            head = rows[0]
            delay = self._policy.next_delay(head.attempts + 1, error.retry_after)
            if delay is None:
                await _park(head, f"gave up after {head.attempts + 1} attempts: {error}")
                continue
            log.warning(
                "outbox.retry_later",
                target=TARGET.value,
                aggregate=delivery.aggregate,
                attempts=head.attempts + 1,
                retry_in=round(delay.total_seconds(), 1),
                error=str(error),
            )
            await OutboxEvent.filter(id__in=[r.id for r in rows], state=EventState.PENDING).update(
                attempts=F("attempts") + 1, next_attempt_at=now + delay, last_error=str(error)
            )


async def _park(event: OutboxEvent, error: str) -> None:
    log.warning(
        "outbox.dead_letter",
        event_id=event.event_id,
        target=TARGET.value,
        kind=event.kind.value,
        aggregate=event.aggregate,
        error=error,
    )
    await OutboxEvent.filter(id=event.id, state=EventState.PENDING).update(
        state=EventState.DEAD, attempts=event.attempts + 1, last_error=error
    )
