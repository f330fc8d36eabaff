"""A click in Slack, a deadline, a reminder: each settles lines of a request exactly once.

Every change here runs in one transaction that first locks the order's row (`lock_order`):
two clicks racing, a click and the deadline, a decision and a payment of the same order queue
on it. Each line then changes by a conditional update from `requested` (`decide_once`): the
first decision wins, a later one changes nothing and its clicker is told who settled it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import structlog
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from app.domain.outbound import ShopRequestCall
from app.domain.outbox import EventKind
from app.domain.reservations import ShopConfirmation
from app.domain.shop_confirmation import (
    Action,
    AlreadyHandled,
    Click,
    ConfirmationRequest,
    Decided,
    RequestState,
    ShopRules,
    WrongChannel,
    decide,
    time_out,
)
from app.integrations.slack.mapping import ShopAction, date_token
from app.models.orders import Order, lock_order
from app.models.shops import ShopRequest, ShopRequestLine, decide_once
from app.models.stock import Reservation
from app.services.shops.asking import ask_shops, record_slack_call
from app.services.shops.moving import Verdict, move_on, waiting_lines
from app.services.shops.progress import settle_order

log = structlog.get_logger(__name__)
ClickOutcome = Literal["decided", "already_handled", "wrong_channel", "unknown"]


@dataclass(frozen=True)
class ClickResult:
    outcome: ClickOutcome
    request_id: int | None = None


async def handle_click(action: ShopAction, *, rules: ShopRules, now: datetime) -> ClickResult:
    """Apply a Confirm or Decline click, if it is the first decision on its line."""
    line = await _line(action.line_key)
    if line is None:
        log.warning("shop_confirmation.unknown_line", key=action.line_key[:40])
        return ClickResult("unknown")
    request = await ShopRequest.get(id=line.request_id)
    async with in_transaction() as conn:
        await lock_order(conn, request.order_id)
        line = await ShopRequestLine.get(id=line.id)
        request = await ShopRequest.get(id=line.request_id)
        decision = decide(_as_stored(request, line, action), _click(action, now))
        if isinstance(decision, WrongChannel):
            log.warning(
                "shop_confirmation.wrong_channel", request=request.id, channel=decision.channel
            )
            await _note(action, "Этот запрос не из этого канала: ничего не изменено.", now)
            return ClickResult("wrong_channel", request.id)
        if isinstance(decision, AlreadyHandled):
            await _already_handled(conn, request, action, decision, rules, now)
            return ClickResult("already_handled", request.id)
        await _apply(conn, request, line, decision, action, rules, now)
    log.info("shop_confirmation.decided", request=request.id, state=decision.state.value)
    return ClickResult("decided", request.id)


async def _line(key: str) -> ShopRequestLine | None:
    if not key.isdigit() or len(key) > 18:
        return None
    return await ShopRequestLine.get_or_none(id=int(key))


def _as_stored(
    request: ShopRequest, line: ShopRequestLine, action: ShopAction
) -> ConfirmationRequest:
    posted_here = (
        request.state is not RequestState.POSTING and request.message_ts == action.message_ts
    )
    return ConfirmationRequest(
        state=line.state,
        channel=request.channel if posted_here else None,
        deadline=request.deadline,
        decided_by=line.decided_by,
        decided_at=line.decided_at,
    )


def _click(action: ShopAction, now: datetime) -> Click:
    return Click(
        action=Action.CONFIRM if action.kind == "confirm" else Action.DECLINE,
        reason=action.reason,
        user=action.user_id,
        channel=action.channel_id,
        at=now,
    )


async def _apply(
    conn: BaseDBAsyncClient,
    request: ShopRequest,
    line: ShopRequestLine,
    decision: Decided,
    action: ShopAction,
    rules: ShopRules,
    now: datetime,
) -> None:
    order = await Order.get(id=request.order_id)
    moved = False
    if decision.state is ShopConfirmation.CONFIRMED:
        if await decide_once(
            line.id,
            state=ShopConfirmation.CONFIRMED,
            decided_by=action.user_id,
            decided_by_name=action.user_name,
            decided_at=now,
        ):
            await Reservation.filter(id=line.reservation_id).update(
                shop_confirmation=ShopConfirmation.CONFIRMED
            )
    else:
        verdict = Verdict(
            state=ShopConfirmation.DECLINED,
            at=now,
            by=action.user_id,
            by_name=action.user_name,
            reason=decision.reason,
        )
        moved = await move_on(conn, order, line, verdict, rules=rules, now=now) is not None
    await after_answers(conn, request, order, moved=moved, now=now)


async def _already_handled(
    conn: BaseDBAsyncClient,
    request: ShopRequest,
    action: ShopAction,
    decision: AlreadyHandled,
    rules: ShopRules,
    now: datetime,
) -> None:
    if decision.by is None and decision.state is ShopConfirmation.TIMED_OUT:
        await _time_out_open(conn, request, rules, now)  # due, the sweep has not come yet
    when = date_token(decision.at, "{time}") if decision.at else ""
    if decision.state is ShopConfirmation.WITHDRAWN:
        await _note(action, f"Заказ отменён {when}: ничего делать не нужно.", now)
        return
    who = f"<@{decision.by}>" if decision.by else "истечение срока"
    await _note(action, f"Уже обработано: {who} {when}. Ничего не изменено.", now)


async def _note(action: ShopAction, text: str, now: datetime) -> None:
    call = ShopRequestCall(0, action.channel_id, user=action.user_id, text=text)
    await record_slack_call(EventKind.SHOP_REQUEST_NOTE, call, now=now)


async def after_answers(
    conn: BaseDBAsyncClient, request: ShopRequest, order: Order, *, moved: bool, now: datetime
) -> None:
    """Close a request with nothing left to decide, show the answers in Slack, ask the shops
    the units moved to, and move the order on."""
    if not await waiting_lines(request):
        await (
            ShopRequest.filter(id=request.id)
            .exclude(state=RequestState.CLOSED)
            .update(state=RequestState.CLOSED, closed_at=now)
        )
    if request.message_ts is not None and request.channel is not None:
        call = ShopRequestCall(request.id, request.channel)
        await record_slack_call(EventKind.SHOP_REQUEST_UPDATE, call, now=now)
    if moved:
        await ask_shops(order, now=now)
    await settle_order(conn, order, moved=moved, now=now)


async def time_out_request(*, request_id: int, rules: ShopRules, now: datetime) -> bool:
    """Move on the lines of a request whose time is over; False if nothing was due."""
    request = await ShopRequest.get_or_none(id=request_id)
    if request is None or request.state is RequestState.CLOSED:
        return False
    async with in_transaction() as conn:
        await lock_order(conn, request.order_id)
        request = await ShopRequest.get(id=request_id)
        if request.state is RequestState.POSTING:
            return await _give_up_posting(conn, request, rules, now)
        return await _time_out_open(conn, request, rules, now)


async def _time_out_open(
    conn: BaseDBAsyncClient, request: ShopRequest, rules: ShopRules, now: datetime
) -> bool:
    order = await Order.get(id=request.order_id)
    moved = False
    for line in await waiting_lines(request):
        stored = ConfirmationRequest(
            state=line.state, channel=request.channel, deadline=request.deadline
        )
        decision = time_out(stored, now)
        if isinstance(decision, Decided):
            verdict = Verdict(state=ShopConfirmation.TIMED_OUT, at=decision.at, note="no answer")
            moved |= await move_on(conn, order, line, verdict, rules=rules, now=now) is not None
    if moved:
        await after_answers(conn, request, order, moved=True, now=now)
    return moved


async def _give_up_posting(
    conn: BaseDBAsyncClient, request: ShopRequest, rules: ShopRules, now: datetime
) -> bool:
    """A request Slack never showed: no channel set, Slack down past the post timeout, or the
    channel refused (`give_up`)."""
    if request.channel is not None and request.created_at + rules.post_timeout > now:
        return False
    note = "the shop has no Slack channel" if request.channel is None else "Slack did not take it"
    return await give_up(conn, request, note=note, rules=rules, now=now)


async def give_up(
    conn: BaseDBAsyncClient, request: ShopRequest, *, note: str, rules: ShopRules, now: datetime
) -> bool:
    """Move on every waiting line of a request the shop cannot see (call under the order lock)."""
    order = await Order.get(id=request.order_id)
    moved = False
    for line in await waiting_lines(request):
        verdict = Verdict(state=ShopConfirmation.TIMED_OUT, at=now, note=note)
        moved |= await move_on(conn, order, line, verdict, rules=rules, now=now) is not None
    await ShopRequest.filter(id=request.id).update(state=RequestState.CLOSED, closed_at=now)
    if moved:
        await after_answers(conn, request, order, moved=True, now=now)
    log.warning("shop_confirmation.gave_up", request=request.id, order=order.number, why=note)
    return moved


async def give_up_unreachable(
    *, request_id: int, note: str, rules: ShopRules, now: datetime
) -> bool:
    """Slack refused the channel (`channel_not_found`, `not_in_channel`): move on now."""
    request = await ShopRequest.get_or_none(id=request_id)
    if request is None:
        return False
    async with in_transaction() as conn:
        await lock_order(conn, request.order_id)
        request = await ShopRequest.get(id=request_id)
        if request.state is not RequestState.POSTING:
            return False
        return await give_up(conn, request, note=note, rules=rules, now=now)


async def remind(*, request_id: int, now: datetime) -> bool:
    """Half the time has gone: remind the shop once, in the request's thread."""
    async with in_transaction():
        claimed = await ShopRequest.filter(
            id=request_id, state=RequestState.OPEN, reminded_at=None, remind_at__lte=now
        ).update(reminded_at=now)
        if not claimed:
            return False
        request = await ShopRequest.get(id=request_id)
        if request.channel is not None:
            call = ShopRequestCall(request.id, request.channel)
            await record_slack_call(EventKind.SHOP_REQUEST_REMIND, call, now=now)
    return True


async def due_requests(*, rules: ShopRules, now: datetime) -> list[int]:
    """Requests whose time is over: open past their deadline, or never posted in time."""
    never_posted = Q(state=RequestState.POSTING) & (
        Q(channel=None) | Q(created_at__lte=now - rules.post_timeout)
    )
    overdue = Q(state=RequestState.OPEN, deadline__lte=now)
    rows = (
        await ShopRequest.filter(never_posted | overdue).order_by("id").limit(500).values_list("id")
    )
    return [int(request_id) for (request_id,) in rows]


async def due_reminders(*, now: datetime) -> list[int]:
    due = ShopRequest.filter(state=RequestState.OPEN, reminded_at=None, remind_at__lte=now)
    rows = await due.order_by("id").limit(500).values_list("id")
    return [int(request_id) for (request_id,) in rows]
