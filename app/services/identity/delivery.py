"""Delivering the identity events (consents, erasure, segment members) to 1C and RetailCRM,
one call per event: the outbox worker hands them here by kind."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from app.domain.consents import (
    ConsentRecord,
    ErasureRecord,
    SegmentMemberRecord,
    consent_from_plain,
    erasure_from_plain,
    segment_member_from_plain,
)
from app.domain.outbox import EventKind
from app.integrations.errors import RejectedError

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
    async def put_consents(self, record: ConsentRecord) -> None: ...
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
        await crm.put_consents(consent_from_plain(payload))
    elif kind is EventKind.CUSTOMER_ERASED:
        await crm.erase_customer(erasure_from_plain(payload))
    else:
        await crm.put_segment_member(segment_member_from_plain(payload))
