"""Links between source records: made by the identity rules, by staff, or by another system;
undone by one operation. Runs in the caller's transaction.

Concurrency (PostgreSQL): a link locks every record of the two profiles it joins (FOR UPDATE,
in id order, so two joins never deadlock on each other), then re-reads both ends' profiles
and gives up when another transaction joined them meanwhile. Profile ids are only changed
under those locks, so a profile is never half-renumbered. SQLite serialises writers itself.
"""

from __future__ import annotations

from datetime import datetime

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q

from app.domain.errors import DomainError, ErrorCode
from app.domain.identity import (
    DEFAULT_POLICY,
    Evidence,
    Identifier,
    IdentityPolicy,
    LinkRemoval,
    LinkRule,
    SuggestionState,
    Verdict,
    components,
    conflicts,
    evidence_of,
    judge,
    values_by_kind,
)
from app.models.identity import IDENTIFIER_COLUMN, IdentityLink, IdentityRecord, IdentitySuggestion
from app.models.sql import is_postgres, placeholders, sql_instant


def record_evidence(record: IdentityRecord) -> tuple[Evidence, ...]:
    return evidence_of(
        phone=record.phone,
        phone_verified=record.phone_verified,
        email=record.email,
        email_verified=record.email_verified,
        loyalty_card=record.loyalty_card,
        onec_guid=record.onec_guid,
        retailcrm_id=record.retailcrm_id,
    )


def _verified(record: IdentityRecord, kind: Identifier) -> bool:
    if kind is Identifier.PHONE:
        return record.phone_verified
    if kind is Identifier.EMAIL:
        return record.email_verified
    return True


async def link_by_evidence(
    conn: BaseDBAsyncClient,
    *,
    record: IdentityRecord,
    now: datetime,
    actor: str,
    policy: IdentityPolicy = DEFAULT_POLICY,
    carriers: dict[Evidence, list[IdentityRecord]] | None = None,
    dropped: set[tuple[Identifier, str]] | None = None,
) -> None:
    """Apply the identity rules to one record: links, suggestions, shared values undone.

    `record.profile_id` must be as this transaction last wrote it. A batch passes the other
    carriers it read for all its records at once (`carriers`, oldest first, at most
    shared_cap + 1 each) and the shared values it has dropped already (`dropped`)."""
    if record.erased_at is not None:
        return
    evidence = record_evidence(record)
    if carriers is None:
        carriers = await _carriers(conn, record.id, evidence, policy.shared_cap + 1)
    for e in evidence:
        others = carriers.get(e, [])
        if len(others) + 1 > policy.shared_cap:
            if dropped is None or (e.kind, e.value) not in dropped:
                await drop_shared(conn, kind=e.kind, value=e.value, now=now, actor=actor)
                record.profile_id = await profile_of(conn, record.id)  # it may have split
            if dropped is not None:
                dropped.add((e.kind, e.value))
            continue
        for other in others:
            await _weigh(conn, record, other, e, len(others) + 1, now, actor, policy)


async def _carriers(
    conn: BaseDBAsyncClient, record_id: int, evidence: tuple[Evidence, ...], per_value: int
) -> dict[Evidence, list[IdentityRecord]]:
    """The other records carrying each value (at most `per_value` each), oldest first: one
    query for all of them, or one a value when that one would be cut short."""
    if not evidence:
        return {}
    match = Q(*(Q(**{IDENTIFIER_COLUMN[e.kind]: e.value}) for e in evidence), join_type="OR")
    limit = per_value * len(evidence)
    rows = await (
        IdentityRecord.filter(match, erased_at=None)
        .exclude(id=record_id)
        .order_by("id")
        .limit(limit)
        .using_db(conn)
    )
    if len(rows) == limit:  # one value may have crowded out another: ask each on its own
        rows = []
        for e in evidence:
            rows += await (
                IdentityRecord.filter(**{IDENTIFIER_COLUMN[e.kind]: e.value}, erased_at=None)
                .exclude(id=record_id)
                .order_by("id")
                .limit(per_value)
                .using_db(conn)
            )
    found: dict[Evidence, list[IdentityRecord]] = {}
    for e in evidence:
        column = IDENTIFIER_COLUMN[e.kind]
        found[e] = sorted(
            {r.id: r for r in rows if getattr(r, column) == e.value}.values(), key=lambda r: r.id
        )[:per_value]
    return found


async def _weigh(
    conn: BaseDBAsyncClient,
    record: IdentityRecord,
    other: IdentityRecord,
    evidence: Evidence,
    carriers: int,
    now: datetime,
    actor: str,
    policy: IdentityPolicy,
) -> None:
    # two plain reads: one with a subquery for the other's profile is planned far worse
    mine, theirs = record.profile_id, await profile_of(conn, other.id)
    if mine == theirs:
        return
    members = await IdentityRecord.filter(profile_id__in=[mine, theirs]).using_db(conn)
    side = {p: [r for r in members if r.profile_id == p] for p in (mine, theirs)}
    match = judge(
        evidence.kind,
        evidence.value,
        mine_verified=evidence.verified,
        theirs_verified=_verified(other, evidence.kind),
        carriers=carriers,
        conflict=conflicts(evidence.kind, _values(side[mine]), _values(side[theirs])),
        separated=await _separated(conn, side[mine], side[theirs]),
        policy=policy,
    )
    if match.verdict is Verdict.LINK:
        link = await link_records(
            conn,
            left_id=record.id,
            right_id=other.id,
            rule=LinkRule(evidence.kind.value),
            value=evidence.value,
            source=record.source.value,
            actor=actor,
            now=now,
            profiles=(mine, theirs),
        )
        if link is not None:
            record.profile_id = min(mine, theirs)
    elif match.verdict is Verdict.SUGGEST:
        await _suggest(conn, record.id, other.id, evidence, now)


def _values(records: list[IdentityRecord]) -> dict[Identifier, frozenset[str]]:
    return values_by_kind(e for r in records if r.erased_at is None for e in record_evidence(r))


async def _separated(
    conn: BaseDBAsyncClient, a: list[IdentityRecord], b: list[IdentityRecord]
) -> bool:
    side_a, side_b = {r.id for r in a}, {r.id for r in b}
    rows = await (
        IdentityLink.filter(
            removed_reason=LinkRemoval.UNMERGED, left_id__in=sorted(side_a | side_b)
        )
        .using_db(conn)
        .values_list("left_id", "right_id")
    )
    return any(
        (left in side_a and right in side_b) or (left in side_b and right in side_a)
        for left, right in rows
    )


async def _suggest(
    conn: BaseDBAsyncClient, a: int, b: int, evidence: Evidence, now: datetime
) -> None:
    """Raise a suggestion once: ON CONFLICT DO NOTHING on (left, right, kind), so one that was
    dismissed (or raised by a concurrent observation) is not raised again."""
    left, right = min(a, b), max(a, b)
    columns = ("left_id", "right_id", "kind", "value", "state", "created_at")
    values = [left, right, evidence.kind.value, evidence.value[:254], SuggestionState.OPEN.value]
    marks = ", ".join(placeholders(conn, 1, len(columns))[0])
    await conn.execute_query(
        f"INSERT INTO {IdentitySuggestion._meta.db_table} ({', '.join(columns)})"
        f" VALUES ({marks}) ON CONFLICT (left_id, right_id, kind) DO NOTHING",
        [*values, sql_instant(conn, now)],
    )


async def profile_of(conn: BaseDBAsyncClient, record_id: int) -> int:
    rows = await IdentityRecord.filter(id=record_id).using_db(conn).values_list("profile_id")
    if not rows:
        raise DomainError(ErrorCode.NOT_FOUND, "no such customer record", ("recordId",))
    return int(rows[0][0])


async def profile_records(conn: BaseDBAsyncClient, profile_id: int) -> list[int]:
    rows = await IdentityRecord.filter(profile_id=profile_id).using_db(conn).values_list("id")
    return sorted(int(r[0]) for r in rows)


async def separated(conn: BaseDBAsyncClient, a: int, b: int) -> bool:
    """Have staff unmerged a link between these two profiles (in either direction)?"""
    members = await IdentityRecord.filter(profile_id__in=[a, b]).using_db(conn)
    return await _separated(
        conn, [r for r in members if r.profile_id == a], [r for r in members if r.profile_id == b]
    )


async def lock_profiles(conn: BaseDBAsyncClient, profiles: list[int]) -> dict[int, int]:
    """Lock every record of these profiles (FOR UPDATE, in id order, PostgreSQL); each locked
    record's profile as it is once locked (another join may have moved one meanwhile)."""
    if not is_postgres(conn):
        return {}
    rows = await (
        IdentityRecord.filter(profile_id__in=sorted(set(profiles)))
        .order_by("id")
        .select_for_update()
        .using_db(conn)
        .values_list("id", "profile_id")
    )
    return {int(i): int(p) for i, p in rows}


async def link_records(
    conn: BaseDBAsyncClient,
    *,
    left_id: int,
    right_id: int,
    rule: LinkRule,
    value: str,
    source: str,
    actor: str,
    now: datetime,
    respect_separation: bool = False,
    profiles: tuple[int, int] | None = None,
) -> IdentityLink | None:
    """Join two records' profiles with one link; None when they are one profile already (a
    link only ever joins two profiles, so every link stays a bridge an unmerge can cut).
    `profiles`: the two ends' profiles as the caller read them in this transaction."""
    before = profiles or (await profile_of(conn, left_id), await profile_of(conn, right_id))
    a, b = before
    if is_postgres(conn):
        locked = await lock_profiles(conn, list(before))  # rows as they are once locked
        a, b = locked.get(left_id, -1), locked.get(right_id, -1)
    if a == b or (a, b) != before:
        return None  # already one, or another transaction moved them: the next sighting retries
    if respect_separation and await separated(conn, a, b):
        return None
    link = await IdentityLink.create(
        using_db=conn,
        left_id=min(left_id, right_id),
        right_id=max(left_id, right_id),
        rule=rule,
        value=value[:254],
        source=source[:16],
        actor=actor[:100],
        created_at=now,
    )
    await IdentityRecord.filter(profile_id__in=[a, b]).using_db(conn).update(profile_id=min(a, b))
    return link


async def unmerge(
    conn: BaseDBAsyncClient, *, link_id: int, actor: str, now: datetime
) -> tuple[int, int]:
    """Cut one link: its profile splits into exactly the two sides it joined; the pair is never
    joined again by the rules. Returns the two sides' profile ids."""
    query = IdentityLink.filter(id=link_id, removed_at=None).using_db(conn)
    link = await (query.select_for_update() if is_postgres(conn) else query).first()
    if link is None:
        raise DomainError(ErrorCode.NOT_FOUND, "no such active link", ("linkId",))
    profile = await profile_of(conn, link.left_id)
    await lock_profiles(conn, [profile])
    await remove_links(conn, [link.id], LinkRemoval.UNMERGED, actor, now)
    await recompute(conn, profile)
    return await profile_of(conn, link.left_id), await profile_of(conn, link.right_id)


async def drop_shared(
    conn: BaseDBAsyncClient, *, kind: Identifier, value: str, now: datetime, actor: str
) -> None:
    """A value turned out to be shared: the links it made go, and so do the open suggestions."""
    links = await IdentityLink.filter(
        rule=LinkRule(kind.value), value=value, removed_at=None
    ).using_db(conn)
    if links:
        profiles = {await profile_of(conn, link.left_id) for link in links}
        await lock_profiles(conn, sorted(profiles))
        await remove_links(conn, [link.id for link in links], LinkRemoval.SHARED, actor, now)
        for profile in sorted(profiles):
            await recompute(conn, profile)
    await (
        IdentitySuggestion.filter(kind=kind, value=value, state=SuggestionState.OPEN)
        .using_db(conn)
        .update(state=SuggestionState.DISMISSED, decided_at=now, decided_by="shared value")
    )


async def remove_links(
    conn: BaseDBAsyncClient,
    ids: list[int],
    reason: LinkRemoval,
    actor: str,
    now: datetime,
    source: str | None = None,
) -> None:
    await (
        IdentityLink.filter(id__in=ids, removed_at=None)
        .using_db(conn)
        .update(
            removed_at=now,
            removed_by=actor[:100],
            removed_reason=reason,
            removed_source=source[:16] if source else None,
        )
    )


async def recompute(conn: BaseDBAsyncClient, profile_id: int) -> None:
    """Renumber one former profile's records by their remaining links (smallest id wins)."""
    ids = await profile_records(conn, profile_id)
    edges = await (
        IdentityLink.filter(left_id__in=ids, removed_at=None)
        .using_db(conn)
        .values_list("left_id", "right_id")
    )
    groups: dict[int, list[int]] = {}
    for record, profile in components(ids, [(int(a), int(b)) for a, b in edges]).items():
        groups.setdefault(profile, []).append(record)
    for profile, members in groups.items():
        if profile != profile_id:
            await IdentityRecord.filter(id__in=members).using_db(conn).update(profile_id=profile)
