"""An order cancelled while its shops are still asked: the requests close, the messages say so.

Runs in the cancelling transaction, after the order's row is locked (`cancel_within`'s callers
lock it), so a click or a deadline of the same order waits and then finds nothing to decide:
without this, a decline or the deadline would re-serve the line of a cancelled order.
"""

from __future__ import annotations

from datetime import datetime

from app.domain.outbound import ShopRequestCall
from app.domain.outbox import EventKind
from app.domain.reservations import ShopConfirmation
from app.domain.shop_confirmation import RequestState
from app.models.shops import ShopRequest, ShopRequestLine, decide_once
from app.models.stock import Reservation
from app.services.shops.asking import record_slack_call

WITHDRAWN_NOTE = "the order was cancelled"


async def withdraw_requests(order_id: int, *, now: datetime) -> int:
    """Close the order's requests still waiting: their open lines become WITHDRAWN (once, by
    the same conditional update as a decision) and a posted message loses its buttons. A
    request not posted yet is never posted. Returns how many requests it closed."""
    closed = 0
    for request in await ShopRequest.filter(order_id=order_id).exclude(state=RequestState.CLOSED):
        for line in await ShopRequestLine.filter(
            request_id=request.id, state=ShopConfirmation.REQUESTED
        ):
            if await decide_once(
                line.id, state=ShopConfirmation.WITHDRAWN, decided_at=now, note=WITHDRAWN_NOTE
            ):
                await Reservation.filter(id=line.reservation_id).update(
                    shop_confirmation=ShopConfirmation.WITHDRAWN
                )
        closed += await ShopRequest.filter(id=request.id, state=request.state).update(
            state=RequestState.CLOSED, closed_at=now
        )
        if request.message_ts is not None and request.channel is not None:
            call = ShopRequestCall(request.id, request.channel)
            await record_slack_call(EventKind.SHOP_REQUEST_UPDATE, call, now=now)
    return closed
