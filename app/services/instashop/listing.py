"""Read looks for staff: every state, newest first, with slides, links and suggestions."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass

from tortoise.expressions import Q

from app.domain.cursors import decode_cursor, encode_cursor, instant_key, instant_of_key
from app.domain.errors import DomainError, ErrorCode
from app.domain.instashop import LookState
from app.models.instashop import Look, LookProduct, LookSlide, LookSuggestion

MAX_PAGE = 100
LISTING = "admin-looks"


@dataclass(frozen=True, slots=True)
class AdminPage:
    looks: list[Look]
    cursors: list[str]
    has_next_page: bool


async def list_all(*, state: LookState | None, first: int, after: str | None) -> AdminPage:
    """One page of looks in any state (or one), newest post first."""
    if not 0 <= first <= MAX_PAGE:
        raise DomainError(ErrorCode.INVALID, f"first must be 0..{MAX_PAGE}", ("first",))
    query = Look.all() if state is None else Look.filter(state=state)
    if after:
        posted, pk = decode_cursor(after, LISTING, 2)
        moment = instant_of_key(posted)
        query = query.filter(Q(posted_at__lt=moment) | Q(posted_at=moment, id__lt=pk))
    rows = await query.order_by("-posted_at", "-id").limit(first + 1)
    looks = rows[:first]
    cursors = [encode_cursor(LISTING, instant_key(r.posted_at), r.id) for r in looks]
    return AdminPage(looks=looks, cursors=cursors, has_next_page=len(rows) > first)


async def slides_of(look_id: int) -> list[tuple[LookSlide, list[LookProduct]]]:
    slides = await LookSlide.filter(look_id=look_id).order_by("position", "id")
    links = (
        await LookProduct.filter(slide__look_id=look_id).order_by("id").prefetch_related("product")
    )
    return [(s, [k for k in links if k.slide_id == s.id]) for s in slides]


async def suggestions_of(look_id: int) -> list[LookSuggestion]:
    query = LookSuggestion.filter(look_id=look_id).order_by("id")
    return await query.prefetch_related("product")


async def look_of_slide(slide_id: int) -> Look:
    return await Look.get(slides__id=slide_id)


async def look_of(work: Awaitable[LookSuggestion]) -> Look:
    suggestion = await work
    return await Look.get(id=suggestion.look_id)
