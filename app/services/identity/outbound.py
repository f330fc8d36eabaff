"""What 1C and RetailCRM hear of a profile's consents and erasure, and of segment exports:
outbox rows written in the caller's transaction."""

from __future__ import annotations

import uuid
from datetime import datetime

from tortoise.backends.base.client import BaseDBAsyncClient

from app.domain.consents import (
    ConsentRecord,
    ErasureRecord,
    SegmentMemberRecord,
    SystemIds,
    to_plain,
)
from app.domain.identity import CustomerSource
from app.domain.outbox import EventKind, Target
from app.models.customers import Customer
from app.models.identity import IdentityRecord
from app.models.outbox import OutboxEvent

BOTH = (Target.ONEC, Target.RETAILCRM)


async def system_ids(conn: BaseDBAsyncClient, profile_id: int) -> SystemIds:
    """The profile's ids in 1C and RetailCRM, and its site account's GUID (the oldest)."""
    records = await IdentityRecord.filter(profile_id=profile_id).order_by("id").using_db(conn)
    site = [r.customer_id for r in records if r.source is CustomerSource.SITE and r.customer_id]
    guid = None
    if site:
        rows = await Customer.filter(id=site[0]).using_db(conn).values_list("guid", flat=True)
        guid = str(rows[0]) if rows else None
    onec = {r.onec_guid for r in records if r.onec_guid}
    onec |= {r.external_id for r in records if r.source is CustomerSource.ONEC}
    crm = {r.retailcrm_id for r in records if r.retailcrm_id}
    crm |= {r.external_id for r in records if r.source is CustomerSource.RETAILCRM}
    return SystemIds(guid, tuple(sorted(onec)), tuple(sorted(crm)))


async def write(
    conn: BaseDBAsyncClient,
    *,
    kind: EventKind,
    aggregate: str,
    record: ConsentRecord | ErasureRecord | SegmentMemberRecord,
    now: datetime,
    targets: tuple[Target, ...] = BOTH,
) -> list[OutboxEvent]:
    """One outbox row per system, due now, in the caller's transaction."""
    return [
        await OutboxEvent.create(
            using_db=conn,
            event_id=str(uuid.uuid4()),
            target=target,
            aggregate=aggregate[:80],
            kind=kind,
            payload=to_plain(record),
            next_attempt_at=now,
            created_at=now,
        )
        for target in targets
    ]


def privacy_aggregate(profile_id: int) -> str:
    """A profile's consents and erasure reach each system in the order they happened."""
    return f"privacy:{profile_id}"
