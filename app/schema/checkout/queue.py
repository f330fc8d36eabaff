"""A drop's waiting room for shoppers: joinQueue, queueStatus (poll it after `pollAfter`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from enum import Enum
from typing import Annotated, TypeVar

import strawberry

from app.domain.waiting_room import WaiterState
from app.schema.context import Context, Info
from app.schema.effects import side_effects
from app.schema.errors import UserError, payload
from app.services import waiting_room
from app.services.waiting_room.hub import hub_for
from app.services.waiting_room.passes import keep_alive
from app.services.waiting_room.stock import TickSources
from app.services.waiting_room.throttles import QueueCall, admit

T = TypeVar("T")

strawberry.enum(WaiterState, name="QueueState")


@strawberry.enum(name="QueueMode")
class CollectionQueueMode(Enum):
    OFF = "off"
    LOTTERY = "lottery"  # a pre-queue drawn by lot at releaseAt, then first come first served


CollectionGuid = Annotated[strawberry.ID, strawberry.argument(name="collectionId")]


@strawberry.type
class QueueStatus:
    state: WaiterState
    token: str | None = strawberry.field(description="your place: ask queueStatus with it")
    position: int | None = strawberry.field(
        description="1 = next; null in the pre-queue until the draw at releaseAt"
    )
    estimate_seconds: int | None = strawberry.field(
        description="at the admissions of the last minute; null while none were admitted"
    )
    poll_after: int = strawberry.field(description="seconds until you should ask again")
    release_at: datetime | None
    queue_pass: str | None = strawberry.field(
        description="ADMITTED: send it as the X-Queue-Pass header to addToCart, setCartLine "
        "and placeOrder of this drop"
    )
    pass_expires_at: datetime | None

    @classmethod
    def of(cls, view: waiting_room.WaiterView) -> QueueStatus:
        return cls(
            state=view.state,
            token=view.token,
            position=view.position,
            estimate_seconds=int(view.estimate.total_seconds()) if view.estimate else None,
            poll_after=view.poll_after,
            release_at=view.release_at,
            queue_pass=view.queue_pass,
            pass_expires_at=view.pass_expires_at,
        )


def queue_sources(ctx: Context) -> TickSources:
    """What this process's ticks read the drop through (the stock stream, cached shapes)."""
    return hub_for(ctx.redis, waiting_room.RoomConfig.of(ctx.settings), ctx.stock_feed).sources


async def pass_in_use(ctx: Context) -> None:
    """A checkout step with a pass (X-Queue-Pass) extends it, as a cart change does."""
    if ctx.queue_pass:
        await keep_alive(ctx.queue_gate, device=ctx.shopper_device, now=ctx.now)


@strawberry.type
class QueueStatusPayload:
    status: QueueStatus | None
    errors: list[UserError]

    @classmethod
    def refused(cls, errors: list[UserError]) -> QueueStatusPayload:
        return cls(status=None, errors=errors)


async def answer(
    ctx: Context, call: QueueCall, work: Callable[[], Awaitable[waiting_room.WaiterView]]
) -> QueueStatusPayload:
    async def throttled() -> waiting_room.WaiterView:
        await admit(
            redis=ctx.redis,
            settings=ctx.settings,
            call=call,
            address=ctx.client_ip,
            device_id=ctx.device_id,
            now=ctx.now,
        )
        return await work()

    def ok(view: waiting_room.WaiterView) -> QueueStatusPayload:
        return QueueStatusPayload(status=QueueStatus.of(view), errors=[])

    return await payload(throttled(), ok, QueueStatusPayload.refused)


@strawberry.type
class QueueQuery:
    @strawberry.field(
        description="where your place in a drop's waiting room stands",
        metadata=side_effects("spends the status throttle and may tick the drop's queue"),
    )
    async def queue_status(self, info: Info, token: str) -> QueueStatusPayload:
        ctx = info.context
        return await answer(
            ctx,
            QueueCall.STATUS,
            lambda: waiting_room.queue_status(
                redis=ctx.redis,
                config=waiting_room.RoomConfig.of(ctx.settings),
                token=token,
                device=ctx.shopper_device,
                now=ctx.now,
                sources=queue_sources(ctx),
            ),
        )


@strawberry.type
class QueueMutation:
    @strawberry.mutation(
        description="take a place in a drop's waiting room (your device's own if it has one)"
    )
    async def join_queue(self, info: Info, collection_guid: CollectionGuid) -> QueueStatusPayload:
        ctx = info.context
        return await answer(
            ctx,
            QueueCall.JOIN,
            lambda: waiting_room.join_queue(
                redis=ctx.redis,
                config=waiting_room.RoomConfig.of(ctx.settings),
                collection_guid=collection_guid,
                device=ctx.shopper_device,
                now=ctx.now,
                sources=queue_sources(ctx),
            ),
        )
