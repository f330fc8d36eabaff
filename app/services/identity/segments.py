"""Segments in SQL (the same statement shape on SQLite and PostgreSQL), and their export to
RetailCRM through the outbox: only members whose consent for the channel stands now."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from redis.asyncio import Redis
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from app.domain.consents import CONTACT_OF, MarketingChannel
from app.domain.errors import DomainError, ErrorCode
from app.domain.outbox import EventKind, Target
from app.domain.segment_export import SegmentBatch, batch_aggregate, batch_to_plain, batches
from app.domain.segments import Bought, Lapsed, Rule, Segment, SpendBand, check_segment
from app.models.catalog import Category, Collection
from app.models.identity import IdentityRecord
from app.models.outbox import OutboxEvent
from app.services.identity.consents import CHUNK, profile_states
from app.services.identity.customer360 import log_access
from app.services.identity.facts import Params, facts_sql
from app.services.throttles import Bucket, spend_or_refuse

MAX_EXPORT = 20_000  # members of one export: 400 batches (RetailCRM takes 10 calls/s)
EXPORTS_PER_HOUR = 6  # per staff token: an export's members RetailCRM has are an edit each


async def admit_export(*, redis: Redis, actor: str, now: datetime) -> None:
    """Count an export against the staff token that asks, or refuse it (TOO_MANY_ATTEMPTS
    with `retry_after`): each export takes RetailCRM's shared budget for minutes."""
    bucket = Bucket(
        f"vitrina:segment-export:{actor}",
        capacity=EXPORTS_PER_HOUR,
        per_second=EXPORTS_PER_HOUR / 3600,
    )
    await spend_or_refuse(
        redis=redis,
        buckets=[bucket],
        now=now,
        outage_event="identity.export_throttle_unavailable",
        call="segment_export",
    )


async def _category_ids(
    conn: BaseDBAsyncClient, slug: str, path: tuple[str | int, ...]
) -> list[int]:
    """The category and everything under it."""
    rows = await Category.all().using_db(conn).values_list("id", "parent_id", "slug")
    top = [int(i) for i, _, s in rows if s == slug]
    if not top:
        raise DomainError(ErrorCode.UNKNOWN_CATEGORY, f"no category {slug!r}", path)
    found, frontier = set(top), set(top)
    while frontier:
        frontier = {int(i) for i, p, _ in rows if p in frontier and int(i) not in found}
        found |= frontier
    return sorted(found)


async def _condition(
    conn: BaseDBAsyncClient, params: Params, rule: Rule, n: int, now: datetime
) -> str:
    if isinstance(rule, Lapsed):
        cutoff = params.add(now - timedelta(days=rule.days))
        return f"MAX(CASE WHEN f.is_return = 0 THEN f.at END) < {cutoff}"
    if isinstance(rule, SpendBand):
        parts = []
        if rule.min_kopecks is not None:
            parts.append(f"SUM(f.amount) >= {params.add(rule.min_kopecks)}")
        if rule.max_kopecks is not None:
            parts.append(f"SUM(f.amount) < {params.add(rule.max_kopecks)}")
        return " AND ".join(parts)
    return await _bought(conn, params, rule, n)


async def _bought(conn: BaseDBAsyncClient, params: Params, rule: Bought, n: int) -> str:
    tests = ["f.is_return = 0"]
    if rule.channels:
        tests.append(f"f.channel IN ({params.many([c.value for c in rule.channels])})")
    if rule.category is not None:
        ids = await _category_ids(conn, rule.category, ("rules", n, "category"))
        tests.append(f"f.category_id IN ({params.many(list(ids))})")
    if rule.collection is not None:
        drop = await Collection.filter(slug=rule.collection).using_db(conn).first()
        if drop is None:
            path = ("rules", n, "collection")
            raise DomainError(ErrorCode.UNKNOWN_COLLECTION, f"no drop {rule.collection!r}", path)
        tests.append(f"f.collection_id = {params.add(drop.id)}")
    count = f"SUM(CASE WHEN {' AND '.join(tests)} THEN 1 ELSE 0 END)"
    return f"{count} = 0" if rule.negate else f"{count} > 0"


async def segment_profiles(conn: BaseDBAsyncClient, segment: Segment, now: datetime) -> list[int]:
    """The profiles every rule holds for, by id: one GROUP BY over the purchase facts."""
    check_segment(segment)
    params = Params(conn)
    facts = facts_sql(params)
    having = [await _condition(conn, params, r, n, now) for n, r in enumerate(segment.rules)]
    sql = (
        f"SELECT f.profile_id AS profile_id FROM ({facts}) f GROUP BY f.profile_id"
        f" HAVING {' AND '.join(f'({h})' for h in having)} ORDER BY f.profile_id"
    )
    rows = await conn.execute_query_dict(sql, params.values)
    return [int(r["profile_id"]) for r in rows]


@dataclass(frozen=True, slots=True)
class Export:
    guid: str
    matched: int  # profiles in the segment
    exported: int  # of them, with a standing consent and a contact for the channel
    events: list[OutboxEvent]  # one per batch of up to 50 members


async def export_segment(
    *, segment: Segment, code: str, channel: MarketingChannel, actor: str, now: datetime
) -> Export:
    """Send the segment's consenting members to RetailCRM: one outbox row per batch of up to
    50 (app/domain/segment_export.py), in one transaction with the log of the export. Consent
    is read in that same transaction, so a withdrawal committed before it is never exported,
    and read again when each batch is sent (app/services/identity/segment_delivery.py)."""
    name = code.strip()
    if not name or len(name) > 64 or not name.replace("_", "").isalnum():
        raise DomainError(ErrorCode.INVALID, "a code of letters, digits and _", ("code",))
    async with in_transaction() as conn:
        profiles = await segment_profiles(conn, segment, now)
        members = await consenting_members(conn, profiles, channel)
        if len(members) > MAX_EXPORT:
            raise DomainError(ErrorCode.BATCH_TOO_LARGE, f"at most {MAX_EXPORT}", ("rules",))
        guid = str(uuid.uuid4())
        events = [
            await _write_batch(conn, batch, now)
            for batch in batches(guid, name, channel, [p for p, _ in members])
        ]
        detail = f"{guid} {name} {channel.value}: {len(members)} of {len(profiles)}"
        await log_access(
            conn, actor=actor, action="segment_export", profile_id=None, now=now, detail=detail
        )
    return Export(guid, len(profiles), len(members), events)


async def _write_batch(conn: BaseDBAsyncClient, batch: SegmentBatch, now: datetime) -> OutboxEvent:
    # inserted in the export's transaction (with its log row): all batches or none
    return await OutboxEvent.create(
        using_db=conn,
        event_id=str(uuid.uuid4()),
        target=Target.RETAILCRM,
        aggregate=batch_aggregate(batch.export_guid, batch.number),
        kind=EventKind.SEGMENT_BATCH,
        payload=batch_to_plain(batch),
        next_attempt_at=now,
        created_at=now,
    )


async def consenting_members(
    conn: BaseDBAsyncClient, profiles: list[int], channel: MarketingChannel
) -> list[tuple[int, str]]:
    """(profile, contact) for the profiles whose consent for `channel` stands now and that
    hold a contact it can use (a verified one first, then the newest)."""
    states = await profile_states(conn, profiles)
    allowed = [p for p in profiles if states[p].may_market(channel)]
    column = CONTACT_OF[channel]
    records = [
        r
        for start in range(0, len(allowed), CHUNK)
        for r in await IdentityRecord.filter(
            profile_id__in=allowed[start : start + CHUNK], erased_at=None
        ).using_db(conn)
    ]
    best: dict[int, tuple[tuple[bool, int], str]] = {}
    for r in records:
        value = getattr(r, column)
        if value is None:
            continue
        verified = r.email_verified if column == "email" else r.phone_verified
        rank = (verified, r.id)
        if r.profile_id not in best or rank > best[r.profile_id][0]:
            best[r.profile_id] = (rank, value)
    return [(p, best[p][1]) for p in allowed if p in best]


MAX_LISTED = 1000  # profile ids a segment query answers with (the count is exact)


async def evaluate_segment(*, segment: Segment, actor: str, now: datetime) -> tuple[int, list[int]]:
    """The segment's size and its first profiles; the query is logged like a profile read."""
    async with in_transaction() as conn:
        profiles = await segment_profiles(conn, segment, now)
        detail = f"segment of {len(segment.rules)} rules: {len(profiles)} profiles"
        await log_access(
            conn, actor=actor, action="segment", profile_id=None, now=now, detail=detail
        )
    return len(profiles), profiles[:MAX_LISTED]
