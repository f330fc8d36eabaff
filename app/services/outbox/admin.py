"""Look after the outbox: list its events, count them, replay dead letters (admin and CLI)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tortoise.queryset import QuerySet

from app.domain.cursors import decode_cursor, encode_cursor
from app.domain.errors import DomainError, ErrorCode
from app.domain.outbox import EventState, Target
from app.models.outbox import OutboxEvent
from app.services.outbox.delivery import counts, replay

MAX_PAGE = 200
_LISTING = "outbox"


@dataclass(frozen=True, kw_only=True)
class EventPage:
    events: list[OutboxEvent]
    has_next_page: bool
    cursors: list[str]  # one per event, for `after`


async def list_events(
    *, state: EventState | None, target: Target | None, first: int, after: str | None
) -> EventPage:
    """Events newest first, filtered by state and system, keyset-paginated."""
    if not 1 <= first <= MAX_PAGE:
        raise DomainError(ErrorCode.INVALID, f"a page holds 1..{MAX_PAGE} events", ("first",))
    query = OutboxEvent.all()
    if state is not None:
        query = query.filter(state=state)
    if target is not None:
        query = query.filter(target=target)
    return await newest_first(query, first=first, after=after, listing=_LISTING)


async def newest_first(
    query: QuerySet[OutboxEvent], *, first: int, after: str | None, listing: str
) -> EventPage:
    """A page of `query`'s events newest first after the cursor `after` of this `listing` (a
    cursor of one listing is refused by another)."""
    if after is not None:
        query = query.filter(id__lt=decode_cursor(after, listing, 1)[0])
    rows = list(await query.order_by("-id").limit(first + 1))
    events = rows[:first]
    return EventPage(
        events=events,
        has_next_page=len(rows) > first,
        cursors=[encode_cursor(listing, e.id) for e in events],
    )


async def count_grid() -> list[tuple[Target, EventState, int]]:
    """Events per system and state, every combination listed (zeros included)."""
    found = await counts()
    return [
        (target, state, found.get((target.value, state.value), 0))
        for target in Target
        for state in EventState
    ]


async def replay_dead_letters(
    *, event_ids: list[str] | None, replay_all: bool, now: datetime
) -> int:
    """Make dead letters pending again: the ones named, or all; returns how many.

    Exactly one of `event_ids` or `replay_all` must be given. Ids that are unknown or not dead
    are not counted; the delivery sweep sends the replayed events within seconds.
    """
    if replay_all and event_ids is not None:
        raise DomainError(ErrorCode.INVALID, "give event ids or all, not both", ("all",))
    if not replay_all and not event_ids:
        raise DomainError(ErrorCode.INVALID, "give at least one event id, or all", ("eventIds",))
    return await replay(event_ids=None if replay_all else event_ids, now=now)


def counts_table(grid: list[tuple[Target, EventState, int]]) -> str:
    """The counts as text: one row per system, one column per state."""
    states = list(EventState)
    lines = [f"{'system':<10}" + "".join(f"{s.value:>11}" for s in states)]
    for target in Target:
        by_state = {s: n for t, s, n in grid if t is target}
        lines.append(f"{target.value:<10}" + "".join(f"{by_state.get(s, 0):>11}" for s in states))
    return "\n".join(lines)


def events_table(events: list[OutboxEvent], error_width: int = 60) -> str:
    """The events as text: id, system, kind, aggregate, attempts and the last error, shortened."""
    header = f"{'event id':<36}  {'system':<9}  {'kind':<22}  {'aggregate':<45}  attempts  error"
    lines = [header]
    for e in events:
        error = " ".join(e.last_error.split())
        if len(error) > error_width:
            error = error[: error_width - 1] + "…"
        row = (
            f"{e.event_id:<36}  {e.target.value:<9}  {e.kind.value:<22}  {e.aggregate:<45}"
            f"  {e.attempts:>8}  {error}"
        )
        lines.append(row.rstrip())
    return "\n".join(lines)
