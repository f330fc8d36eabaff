"""Delivering the identity events (consents, erasure, segment members of exports made before
batches) to 1C and RetailCRM, one call per event: the outbox worker hands them here by kind.
Segment batches go through app/services/identity/segment_delivery.py.

A consent change for a customer RetailCRM does not know yet is ordered after their creation
there (a customer upsert or an order of theirs to RetailCRM): while such an event is pending,
the consent waits without calling RetailCRM and without being charged an attempt (so it never
becomes a dead letter for that), and delivering the creating event releases it. A 404 with a
creation written around the call waits the same way. A 404 whose only creation is a dead letter
is parked naming it (replay both); without any creation the customer is not one RetailCRM will
hear of from us, and the change is skipped there (1C hears it regardless).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from tortoise.expressions import Q

from app.domain.consents import (
    ConsentRecord,
    ErasureRecord,
    SegmentMemberRecord,
    consent_from_plain,
    erasure_from_plain,
    segment_member_from_plain,
)
from app.domain.outbox import EventKind, EventState, Target, WaitingForEvent
from app.integrations.errors import RejectedError
from app.models.orders import Order
from app.models.outbox import OutboxEvent

IDENTITY_KINDS = frozenset(
    {EventKind.CONSENT_CHANGED, EventKind.CUSTOMER_ERASED, EventKind.SEGMENT_EXPORTED}
)
# Aggregates of these events: RetailCRM's batching pass leaves them to the one-by-one path.
IDENTITY_AGGREGATES = ("privacy:", "segment:")


@runtime_checkable
class OneCIdentityPort(Protocol):
    async def put_consents(self, record: ConsentRecord, event_id: str) -> None: ...
    async def put_erasure(self, record: ErasureRecord, event_id: str) -> None: ...


@runtime_checkable
class RetailCrmIdentityPort(Protocol):
    async def put_consents(self, record: ConsentRecord) -> Sequence[str]: ...
    async def erase_customer(self, record: ErasureRecord) -> None: ...
    async def put_segment_member(self, record: SegmentMemberRecord) -> None: ...


def _unsupported(system: str, kind: EventKind) -> RejectedError:
    return RejectedError(f"this {system} sender cannot deliver {kind.value}", 0, "")


async def to_onec(onec: object, kind: EventKind, payload: dict[str, Any], event_id: str) -> None:
    if not isinstance(onec, OneCIdentityPort):
        raise _unsupported("1C", kind)
    if kind is EventKind.CONSENT_CHANGED:
        await onec.put_consents(consent_from_plain(payload), event_id)
    elif kind is EventKind.CUSTOMER_ERASED:
        await onec.put_erasure(erasure_from_plain(payload), event_id)
    # segment exports go to RetailCRM only


async def to_retailcrm(crm: object, kind: EventKind, payload: dict[str, Any]) -> None:
    if not isinstance(crm, RetailCrmIdentityPort):
        raise _unsupported("RetailCRM", kind)
    if kind is EventKind.CONSENT_CHANGED:
        await _consents_to_retailcrm(crm, consent_from_plain(payload))
    elif kind is EventKind.CUSTOMER_ERASED:
        await crm.erase_customer(erasure_from_plain(payload))
    else:
        await crm.put_segment_member(segment_member_from_plain(payload))


WAIT_FOR_CUSTOMER_SECONDS = 60.0  # looks again (in our database only) if not released before
WAITING = "waiting for RetailCRM customer "  # last_error of a consent waiting: then its GUID
CREATING = (EventKind.CUSTOMER_UPSERTED, EventKind.ORDER_PLACED)  # RetailCRM gets the customer


class CustomerNotInRetailCrmYet(WaitingForEvent):
    """RetailCRM does not know the customer yet, and their creation is on its way."""

    def __init__(self, guid: str, why: str) -> None:
        super().__init__(f"{WAITING}{guid}: {why}", WAIT_FOR_CUSTOMER_SECONDS)


async def _consents_to_retailcrm(crm: RetailCrmIdentityPort, record: ConsentRecord) -> None:
    """Ordered after the customer's creation there: while an event creating them is pending
    (and none has been delivered), RetailCRM is not called and the consent waits, uncharged;
    delivering that event releases it (`release_waiting`)."""
    guid = record.ids.customer_guid
    before = await creating_events(guid) if guid else []
    if guid is not None and (pending := _in(before, EventState.PENDING)):
        if not _in(before, EventState.DELIVERED):
            raise CustomerNotInRetailCrmYet(guid, f"event {pending[0]} creating them is pending")
    unknown = await crm.put_consents(record)
    if guid is None or guid not in unknown:
        return
    after = await creating_events(guid)
    newest = max((i for i, _ in before), default=0)
    if _in(after, EventState.PENDING) or any(i > newest for i, _ in after):
        # written or pending since the look before the call: the customer is on its way
        raise CustomerNotInRetailCrmYet(guid, "an event creating them was written meanwhile")
    if (dead := _in(after, EventState.DEAD)) and not _in(after, EventState.DELIVERED):
        raise RejectedError(
            f"RetailCRM has no customer {guid} and the event creating them there (id"
            f" {dead[-1]}) is a dead letter: replay it, then this one",
            404,
            "",
        )
    # never created there by us (or merged away since): nothing of theirs there to change


def _in(events: list[tuple[int, EventState]], state: EventState) -> list[int]:
    return [i for i, s in events if s is state]


async def creating_events(guid: str) -> list[tuple[int, EventState]]:
    """(id, state) of the events that create the customer in RetailCRM, oldest first: their
    upserts, and their orders (RetailCRM gets the customer with an order)."""
    orders = await Order.filter(customer__guid=guid).values_list("guid", flat=True)
    creating = Q(aggregate=f"customer:{guid}", kind=EventKind.CUSTOMER_UPSERTED)
    if orders:
        creating |= Q(aggregate__in=[f"order:{g}" for g in orders], kind=EventKind.ORDER_PLACED)
    rows = await (
        OutboxEvent.filter(creating, target=Target.RETAILCRM)
        .order_by("id")
        .values_list("id", "state")
    )
    return [(int(i), EventState(state)) for i, state in rows]


def _created_guid(event: OutboxEvent) -> str | None:
    if event.target is not Target.RETAILCRM or event.kind not in CREATING:
        return None
    if event.kind is EventKind.CUSTOMER_UPSERTED:
        return event.aggregate.removeprefix("customer:")
    customer = event.payload.get("customer")
    return str(customer["guid"]) if isinstance(customer, dict) and "guid" in customer else None


async def release_waiting(delivered: Sequence[OutboxEvent], now: datetime) -> int:
    """Consents waiting for the customers these delivered events created: due now. One
    conditional update (pending, and still marked as waiting for that customer)."""
    guids = {g for e in delivered if (g := _created_guid(e)) is not None}
    if not guids:
        return 0
    waiting = Q(*[Q(last_error__startswith=f"{WAITING}{g}:") for g in guids], join_type="OR")
    return await OutboxEvent.filter(
        waiting, target=Target.RETAILCRM, kind=EventKind.CONSENT_CHANGED, state=EventState.PENDING
    ).update(next_attempt_at=now)
