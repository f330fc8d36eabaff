"""A source record's identifiers changed: retract the links its old values made, in the
caller's transaction (observe calls this before linking by the new values).

Locks (PostgreSQL): the caller holds the changed record's row (FOR UPDATE, taken when it read
the record to compare); the retraction then locks every record of its profile in id order
(`graph.lock_profiles`) before it removes links and renumbers, as every other profile change
does, so a concurrent join of this profile waits for this commit and re-reads.
"""

from __future__ import annotations

from datetime import datetime

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q

from app.domain.identity import Evidence, Identifier, LinkRemoval, SuggestionState
from app.domain.identity_changes import IDENTIFIER_RULES, stale_suggestion, still_justified
from app.models.identity import IdentityLink, IdentityRecord, IdentitySuggestion
from app.services.identity import graph


async def retract_unjustified(
    conn: BaseDBAsyncClient, *, record: IdentityRecord, now: datetime, actor: str, source: str
) -> bool:
    """Remove (reason CHANGED, with actor, source and time) the identifier links at `record`
    that its current values no longer justify, renumber its former profile (smallest record
    id of each remaining group) and refresh `record.profile_id`; dismiss its open suggestions
    on values it no longer carries. True when links went. Staff links, other systems' merges
    and staff's unmerge decisions are left as they are."""
    mine = graph.record_evidence(record)
    await _dismiss_stale_suggestions(conn, record, mine, now)
    links = await (
        IdentityLink.filter(
            Q(left_id=record.id) | Q(right_id=record.id),
            removed_at=None,
            rule__in=sorted(IDENTIFIER_RULES),
        )
        .order_by("id")
        .using_db(conn)
    )
    if not links:
        return False
    others = {link.right_id if link.left_id == record.id else link.left_id for link in links}
    rows = await IdentityRecord.filter(id__in=sorted(others)).using_db(conn)
    evidence = {r.id: graph.record_evidence(r) for r in rows if r.erased_at is None}
    stale = [
        link.id
        for link in links
        if (other := link.right_id if link.left_id == record.id else link.left_id) in evidence
        and not still_justified(link.rule, link.value, mine, evidence[other])
    ]
    if not stale:
        return False
    await graph.lock_profiles(conn, [record.profile_id])
    await graph.remove_links(conn, stale, LinkRemoval.CHANGED, actor, now, source)
    await graph.recompute(conn, record.profile_id)
    record.profile_id = await graph.profile_of(conn, record.id)
    return True


async def _dismiss_stale_suggestions(
    conn: BaseDBAsyncClient, record: IdentityRecord, mine: tuple[Evidence, ...], now: datetime
) -> None:
    # conditional on OPEN: a suggestion staff decide at the same moment is decided once
    rows = await (
        IdentitySuggestion.filter(
            Q(left_id=record.id) | Q(right_id=record.id), state=SuggestionState.OPEN
        )
        .using_db(conn)
        .values_list("id", "kind", "value")
    )
    stale = [
        int(i) for i, kind, value in rows if stale_suggestion(Identifier(kind), str(value), mine)
    ]
    if stale:
        await (
            IdentitySuggestion.filter(id__in=stale, state=SuggestionState.OPEN)
            .using_db(conn)
            .update(state=SuggestionState.DISMISSED, decided_at=now, decided_by="changed value")
        )
