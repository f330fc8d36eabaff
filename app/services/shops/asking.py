"""Ask shops to confirm an order's units: one request (one Slack message) per shop, or one per
`MAX_LINES` of its lines when more than a Slack message can show.

Written in the caller's transaction (the payment's, or the placement's when the brand asks at
placement), with the Slack calls as outbox rows of their own target, so a Slack outage loses
nothing. The clock of a request starts when Slack accepts its message (`mark_posted`).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from app.domain.outbound import ShopRequestCall
from app.domain.outbox import EventKind, Target, slack_aggregate
from app.domain.reservations import SERVING_ORDER, ShopConfirmation
from app.domain.shop_confirmation import RequestState, deadline_for, reminder_at
from app.integrations.slack.mapping import MAX_LINES
from app.models.catalog import Warehouse
from app.models.orders import Order
from app.models.shops import ShopRequest, ShopRequestLine
from app.models.stock import Reservation
from app.services.outbox.record import write_event


async def ask_shops(order: Order, *, now: datetime) -> list[ShopRequest]:
    """Ask every shop holding units of this order that nobody asked yet; repeat-safe.

    A shop without a Slack channel gets a request too: the sweep moves it on at once.
    """
    waiting = await Reservation.filter(
        order_line__order_id=order.id,
        state__in=list(SERVING_ORDER),
        shop_confirmation=ShopConfirmation.REQUESTED,
    ).order_by("id")
    asked = {
        line.reservation_id
        for line in await ShopRequestLine.filter(reservation_id__in=[r.id for r in waiting])
    }
    by_shop: dict[int, list[Reservation]] = defaultdict(list)
    for reservation in waiting:
        if reservation.id not in asked:
            by_shop[reservation.warehouse_id].append(reservation)
    shops = {w.id: w for w in await Warehouse.filter(id__in=list(by_shop))}
    return [
        await _request(order, shops[shop_id], units[start : start + MAX_LINES], now)
        for shop_id, units in sorted(by_shop.items())
        for start in range(0, len(units), MAX_LINES)
    ]


async def _request(
    order: Order, shop: Warehouse, units: list[Reservation], now: datetime
) -> ShopRequest:
    request = await ShopRequest.create(
        order_id=order.id,
        warehouse_id=shop.id,
        state=RequestState.POSTING,
        channel=shop.slack_channel or None,  # as configured until Slack answers with its id
        created_at=now,
    )
    for reservation in units:
        await ShopRequestLine.create(
            request_id=request.id,
            reservation_id=reservation.id,
            order_line_id=reservation.order_line_id,
            quantity=reservation.quantity,
        )
    if request.channel is not None:
        await record_slack_call(
            EventKind.SHOP_REQUEST_POST, ShopRequestCall(request.id, request.channel), now=now
        )
    return request


async def record_slack_call(kind: EventKind, call: ShopRequestCall, *, now: datetime) -> None:
    """An outbox row for the Slack worker, in the caller's transaction."""
    await write_event(Target.SLACK, slack_aggregate(call.channel), kind, call, now)


async def mark_posted(
    *, request_id: int, channel_id: str, ts: str, now: datetime, window: timedelta
) -> ShopRequest | None:
    """Slack accepted the message: the shop's clock starts now. None if the request moved on
    meanwhile (it was not posted in time) or was posted already."""
    posted = await ShopRequest.filter(id=request_id, state=RequestState.POSTING).update(
        state=RequestState.OPEN,
        channel=channel_id,
        message_ts=ts,
        posted_at=now,
        deadline=deadline_for(now, int(window.total_seconds() // 60)),
        remind_at=reminder_at(now, int(window.total_seconds() // 60)),
    )
    return await ShopRequest.get(id=request_id) if posted else None
