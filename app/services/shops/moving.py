"""A shop declined a line or let its time pass: give its units back and serve them elsewhere.

Runs in the caller's transaction, after the order's row is locked (decisions, timeouts and
payments of one order queue on it). Stock rows are then locked in (variant, warehouse) order,
as every other writer does, so nothing deadlocks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import structlog
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import F

from app.domain.orders import DeliveryKind
from app.domain.outbound import MessageChannel
from app.domain.reservations import ReservationState, ShopConfirmation, shop_confirmation_for
from app.domain.shop_confirmation import (
    DeclineReason,
    Reallocated,
    ShopRules,
    Unavailable,
    next_warehouse,
    takes_unit_off_sale,
)
from app.models.orders import Order, OrderLine
from app.models.shops import ShopRequest, ShopRequestLine, decide_once
from app.models.stock import Reservation, lock_levels, try_reserve
from app.services.accounts.messages import record_message
from app.services.inventory.reservations import ReservationConflict, release, warehouse_infos

log = structlog.get_logger(__name__)
MOVED_ON = (ShopConfirmation.DECLINED, ShopConfirmation.TIMED_OUT)


@dataclass(frozen=True, kw_only=True)
class Verdict:
    """Why a waiting line moves on: a decline (who, which reason) or silence (a note)."""

    state: ShopConfirmation  # DECLINED or TIMED_OUT
    at: datetime
    by: str | None = None
    by_name: str | None = None
    reason: DeclineReason | None = None
    note: str = ""


async def move_on(
    conn: BaseDBAsyncClient,
    order: Order,
    line: ShopRequestLine,
    verdict: Verdict,
    *,
    rules: ShopRules,
    now: datetime,
) -> Reallocated | Unavailable | None:
    """Settle the waiting line with `verdict` and re-serve its units; None if it was decided
    already (the first decision wins)."""
    if not await decide_once(
        line.id,
        state=verdict.state,
        decided_by=verdict.by,
        decided_by_name=verdict.by_name,
        decided_at=verdict.at,
        reason=verdict.reason,
        note=verdict.note[:200],
    ):
        return None
    reservation = await Reservation.get(id=line.reservation_id)
    infos = await warehouse_infos()
    await lock_levels(conn, reservation.variant_id, sorted(infos))
    off_sale = verdict.reason is not None and takes_unit_off_sale(verdict.reason)
    await _let_go(conn, reservation, off_sale=off_sale, now=now)
    await Reservation.filter(id=reservation.id).update(shop_confirmation=verdict.state)
    levels = await lock_levels(conn, reservation.variant_id, sorted(infos))
    declined = await _declined_shops(line.order_line_id)
    outcome = next_warehouse(
        quantity=line.quantity,
        warehouses=list(infos.values()),
        free={w: on_hand - buffer for w, (on_hand, buffer) in levels.items()},
        declined=set(declined),
        pickup_warehouse_id=order.pickup_warehouse_id
        if order.delivery_kind is DeliveryKind.PICKUP
        else None,
        hops=len(declined) - 1,
        max_hops=rules.max_hops,
    )
    if isinstance(outcome, Reallocated):
        await _serve(conn, reservation, outcome)
    else:
        await _missing(order, line, outcome, now)
    log.info(
        "shop_confirmation.moved_on",
        order=order.number,
        shop=reservation.warehouse_id,
        state=verdict.state.value,
        reason=verdict.reason.value if verdict.reason else verdict.note,
        to=[a.warehouse_id for a in outcome.allocations]
        if isinstance(outcome, Reallocated)
        else outcome.reason.value,
    )
    return outcome


async def _let_go(
    conn: BaseDBAsyncClient, reservation: Reservation, *, off_sale: bool, now: datetime
) -> None:
    """Stop serving the order from this shop. A missing or faulty unit stays in the buffer,
    off sale, until 1C's next figure for it; other units go back on sale."""
    if reservation.state is ReservationState.ACTIVE and off_sale:
        await Reservation.filter(id=reservation.id, state=ReservationState.ACTIVE).update(
            state=ReservationState.WITHHELD
        )
    elif reservation.state is ReservationState.ACTIVE:
        await release(conn, [reservation.id], now=now, locked=True)
    elif reservation.state is ReservationState.RECONCILED:
        # 1C's figure already subtracts these units; they come back with 1C's next figure
        await Reservation.filter(id=reservation.id, state=ReservationState.RECONCILED).update(
            state=ReservationState.RELEASED, closed_at=now
        )


async def _declined_shops(order_line_id: int) -> list[int]:
    """Every shop that declined or was silent on this line, once per decision."""
    rows = await ShopRequestLine.filter(
        order_line_id=order_line_id, state__in=list(MOVED_ON)
    ).values_list("request__warehouse_id")
    return [int(shop) for (shop,) in rows]


async def _serve(conn: BaseDBAsyncClient, moved: Reservation, to: Reallocated) -> None:
    for allocation in to.allocations:
        if not await try_reserve(
            conn, moved.variant_id, allocation.warehouse_id, allocation.quantity
        ):
            raise ReservationConflict(moved.variant_id)  # the rows are locked: cannot happen
        await Reservation.create(
            variant_id=moved.variant_id,
            warehouse_id=allocation.warehouse_id,
            quantity=allocation.quantity,
            state=ReservationState.ACTIVE,
            order_line_id=moved.order_line_id,
            shop_confirmation=shop_confirmation_for(
                from_shop=allocation.from_shop, state=ReservationState.ACTIVE
            ),
        )


async def _missing(
    order: Order, line: ShopRequestLine, outcome: Unavailable, now: datetime
) -> None:
    await OrderLine.filter(id=line.order_line_id).update(
        unavailable=F("unavailable") + line.quantity
    )
    order_line = await OrderLine.get(id=line.order_line_id)
    to, channel = (
        (order.email, MessageChannel.EMAIL) if order.email else (order.phone, MessageChannel.SMS)
    )
    if to:
        await record_message(
            channel=channel,
            to=to,
            template="order_line_unavailable",
            params={
                "order_number": order.number,
                "product": order_line.product_name,
                "quantity": str(line.quantity),
                "reason": outcome.reason.value,
            },
            now=now,
        )


async def waiting_lines(request: ShopRequest) -> list[ShopRequestLine]:
    """The request's lines nobody has decided yet."""
    return await ShopRequestLine.filter(
        request_id=request.id, state=ShopConfirmation.REQUESTED
    ).order_by("id")
