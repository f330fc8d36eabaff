"""A waiter's place, pushed: the `queueStatus` subscription (graphql-transport-ws).

The first answer is the same as the `queueStatus` query's (the token checked against the
device, the call throttled); after it, every change the drop's loop finds (position, estimate,
admitted with its pass, sold out, closed) until the client stops. One loop per drop in each
process drives all of that drop's subscribers (app/services/waiting_room/hub.py)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Annotated

import strawberry

from app.domain.checkout import device_key, parse_device_id
from app.domain.errors import DomainError, ErrorCode
from app.domain.waiting_room import open_ticket
from app.schema.checkout.queue import QueueStatus, QueueStatusPayload, answer
from app.schema.context import Context, Info
from app.schema.errors import UserError
from app.services import waiting_room
from app.services.waiting_room.hub import QueueHub, hub_for
from app.services.waiting_room.throttles import QueueCall

DeviceIdArgument = Annotated[
    str | None,
    strawberry.argument(description="X-Device-Id, for clients that cannot send headers"),
]


def queue_hub(ctx: Context) -> QueueHub:
    """The process's hub (its ticks read the drop's free units from the stock stream)."""
    return hub_for(ctx.redis, waiting_room.RoomConfig.of(ctx.settings), ctx.stock_feed)


def _device(ctx: Context, device_id: str | None) -> str:
    # a browser cannot set X-Device-Id on a websocket: the storefront may send it as an arg
    return device_key(parse_device_id(device_id) or ctx.device_id, ctx.client_ip)


@strawberry.type
class QueueSubscription:
    @strawberry.subscription(
        description="your place in a drop's waiting room: now, then every change (position, "
        "estimate, admitted with the pass, sold out); the same answers as the queueStatus query"
    )
    async def queue_status(
        self,
        info: Info,
        token: str,
        device_id: DeviceIdArgument = None,
    ) -> AsyncGenerator[QueueStatusPayload, None]:
        ctx = info.context
        hub, device = queue_hub(ctx), _device(ctx, device_id)
        if hub.watcher_count >= ctx.settings.max_subscriptions_per_process:
            error = DomainError(ErrorCode.TOO_MANY_ATTEMPTS, "too many live waiters", (), None, 5)
            yield QueueStatusPayload.refused([UserError.from_error(error)])
            return
        first = await answer(
            ctx,
            QueueCall.STATUS,
            lambda: waiting_room.queue_status(
                redis=ctx.redis,
                config=waiting_room.RoomConfig.of(ctx.settings),
                token=token,
                device=device,
                now=hub.now(),
                sources=hub.sources,
            ),
        )
        yield first
        config = waiting_room.RoomConfig.of(ctx.settings)
        ticket = open_ticket(token, config.key) if config.key else None
        if first.errors or ticket is None:
            return
        told, watch = first.status, hub.watch(ticket, token)
        try:
            async for view in watch:
                status = QueueStatus.of(view)
                if status != told:  # the loop's first round often finds what we just said
                    told = status
                    yield QueueStatusPayload(status=status, errors=[])
        finally:
            await watch.aclose()
