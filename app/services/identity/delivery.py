"""Delivering the identity events (consents, erasure, segment members) to 1C and RetailCRM,
one call per event: the outbox worker hands them here by kind.

A consent change for a customer RetailCRM does not know yet (404 on our externalId) waits for
them while their creation is on its way (a customer upsert or an order of theirs to RetailCRM,
pending, or written or pending around the call): it is tried again with the outbox's backoff,
and lands once the customer exists. Without any creation on its way the customer is not one
RetailCRM will hear of from us, and the change is skipped there (1C hears it regardless).
"""

from __future__ import annotations

from collections.abc import Sequence
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
from app.domain.outbox import EventKind, EventState, Target
from app.integrations.errors import RejectedError, RetryableError
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


WAIT_FOR_CUSTOMER_SECONDS = 5.0  # at least, between tries of a consent waiting for its customer


class CustomerNotInRetailCrmYet(RetryableError):
    """RetailCRM does not know the customer yet, and their creation is on its way."""


async def _consents_to_retailcrm(crm: RetailCrmIdentityPort, record: ConsentRecord) -> None:
    guid = record.ids.customer_guid
    before = await creation_on_its_way(guid) if guid else None
    unknown = await crm.put_consents(record)
    if guid is None or before is None or guid not in unknown:
        return
    after = await creation_on_its_way(guid)
    # pending before the call (it may have landed just after our 404), pending now, or written
    # since: the customer will exist, and the change must reach them
    if before[0] or after[0] or after[1] > before[1]:
        raise CustomerNotInRetailCrmYet(
            f"RetailCRM does not know customer {guid} yet; their creation is on its way",
            retry_after=WAIT_FOR_CUSTOMER_SECONDS,
        )


async def creation_on_its_way(guid: str) -> tuple[bool, int]:
    """(whether an event that creates the customer in RetailCRM is pending, the newest such
    event's id): their upserts, and their orders (RetailCRM gets the customer with an order)."""
    orders = await Order.filter(customer__guid=guid).values_list("guid", flat=True)
    creating = Q(aggregate=f"customer:{guid}", kind=EventKind.CUSTOMER_UPSERTED)
    if orders:
        creating |= Q(aggregate__in=[f"order:{g}" for g in orders], kind=EventKind.ORDER_PLACED)
    rows = await OutboxEvent.filter(creating, target=Target.RETAILCRM).values_list("id", "state")
    pending = any(EventState(state) is EventState.PENDING for _, state in rows)
    return pending, max((int(i) for i, _ in rows), default=0)
