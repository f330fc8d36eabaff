"""Staff's hands on the graph: suggestions accepted or dismissed, links cut (unmerge). Each
is one transaction; the suggestion row or the link row is locked (FOR UPDATE on PostgreSQL)
and changed only from OPEN (or active), so a decision happens once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tortoise.transactions import in_transaction

from app.domain.errors import DomainError, ErrorCode
from app.domain.identity import LinkRule, SuggestionState
from app.models.identity import IdentityLink, IdentitySuggestion
from app.models.sql import is_postgres
from app.services.identity import graph
from app.services.identity.customer360 import log_access

MAX_PAGE = 100


async def list_suggestions(
    *, state: SuggestionState, first: int, after: int | None, actor: str, now: datetime
) -> tuple[list[IdentitySuggestion], bool]:
    """Suggestions oldest first, keyset-paged by id; the read is logged (they show contacts)."""
    if not 1 <= first <= MAX_PAGE:
        raise DomainError(ErrorCode.INVALID, f"a page holds 1..{MAX_PAGE}", ("first",))
    async with in_transaction() as conn:
        query = IdentitySuggestion.filter(state=state).using_db(conn)
        if after is not None:
            query = query.filter(id__gt=after)
        rows = list(await query.order_by("id").limit(first + 1))
        detail = f"{state.value} suggestions after {after}: {len(rows[:first])}"
        await log_access(
            conn, actor=actor, action="suggestions", profile_id=None, now=now, detail=detail
        )
    return rows[:first], len(rows) > first


@dataclass(frozen=True, slots=True)
class Decision:
    suggestion: IdentitySuggestion
    link: IdentityLink | None  # made by accepting (None: already one profile)


async def decide_suggestion(
    *, suggestion_id: int, accept: bool, actor: str, now: datetime
) -> Decision:
    async with in_transaction() as conn:
        query = IdentitySuggestion.filter(id=suggestion_id).using_db(conn)
        row = await (query.select_for_update() if is_postgres(conn) else query).first()
        if row is None:
            raise DomainError(ErrorCode.NOT_FOUND, "no such suggestion", ("id",))
        if row.state is not SuggestionState.OPEN:
            raise DomainError(ErrorCode.INVALID_TRANSITION, f"already {row.state.value}", ("id",))
        link = None
        if accept:
            link = await graph.link_records(
                conn,
                left_id=row.left_id,
                right_id=row.right_id,
                rule=LinkRule.STAFF,
                value=f"{row.kind.value}:{row.value}",
                source="staff",
                actor=actor,
                now=now,
            )
        state = SuggestionState.ACCEPTED if accept else SuggestionState.DISMISSED
        await (
            IdentitySuggestion.filter(id=row.id, state=SuggestionState.OPEN)
            .using_db(conn)
            .update(state=state, decided_at=now, decided_by=actor[:100])
        )
        profile = await graph.profile_of(conn, row.left_id)
        await log_access(
            conn, actor=actor, action=f"suggestion_{state.value}", profile_id=profile, now=now
        )
        row = await IdentitySuggestion.filter(id=row.id).using_db(conn).get()
    return Decision(row, link)


async def unmerge_link(*, link_id: int, actor: str, now: datetime) -> tuple[int, int]:
    """Cut one link in its own transaction; returns the two sides' profile ids."""
    async with in_transaction() as conn:
        sides = await graph.unmerge(conn, link_id=link_id, actor=actor, now=now)
        await log_access(
            conn,
            actor=actor,
            action="unmerge",
            profile_id=sides[0],
            now=now,
            detail=f"link {link_id} -> {sides}",
        )
    return sides
