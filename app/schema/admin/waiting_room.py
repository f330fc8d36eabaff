"""A drop's waiting room for ops (admin scope): queue length, admissions, passes, sell-out."""

from __future__ import annotations

from datetime import UTC, datetime

import strawberry

from app.domain.access import Scope
from app.domain.errors import DomainError
from app.schema.catalog.queries import query_error
from app.schema.checkout.queue import CollectionGuid
from app.schema.context import Info
from app.schema.errors import require_scope
from app.services import waiting_room


@strawberry.type
class WaitingRoomFigures:
    available: bool = strawberry.field(description="false: redis cannot answer, queue closed")
    drawn: bool = strawberry.field(description="the pre-queue was drawn (releaseAt passed)")
    queue_length: int = strawberry.field(description="waiting now: pre-queue and line")
    pre_queue: int
    in_line: int
    admitted: int = strawberry.field(description="passes given so far")
    passes_live: int
    sold_out: bool
    sold_out_at: datetime | None = strawberry.field(description="the latest sell-out instant")
    last_tick_at: datetime | None

    @classmethod
    def of(cls, found: waiting_room.RoomFigures) -> WaitingRoomFigures:
        f = found.figures
        if f is None:
            return cls(
                available=False,
                drawn=False,
                queue_length=0,
                pre_queue=0,
                in_line=0,
                admitted=0,
                passes_live=0,
                sold_out=False,
                sold_out_at=None,
                last_tick_at=None,
            )
        return cls(
            available=True,
            drawn=f.drawn,
            queue_length=f.pre_queue + f.in_line,
            pre_queue=f.pre_queue,
            in_line=f.in_line,
            admitted=f.admitted,
            passes_live=f.passes_live,
            sold_out=f.sold_out,
            sold_out_at=_instant(f.sold_out_at_ms),
            last_tick_at=_instant(f.tick_at_ms),
        )


def _instant(ms: int | None) -> datetime | None:
    return datetime.fromtimestamp(ms / 1000, UTC) if ms is not None else None


@strawberry.type
class WaitingRoomAdminQuery:
    @strawberry.field(description="a queued drop's waiting room now (admin)")
    async def waiting_room(self, info: Info, collection_guid: CollectionGuid) -> WaitingRoomFigures:
        await require_scope(info, Scope.ADMIN)
        ctx = info.context
        try:
            found = await waiting_room.room_figures(
                redis=ctx.redis, collection_guid=collection_guid, now=ctx.now
            )
        except DomainError as error:
            raise query_error(error) from None
        return WaitingRoomFigures.of(found)
