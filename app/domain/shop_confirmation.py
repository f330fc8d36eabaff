"""A shop confirms in Slack that it has the item: deadlines, who decides first, where a declined
line goes next, and what the shopper sees. Pure: the services feed it what they read."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from app.domain.allocation import Allocation, Candidate, WarehouseInfo, allocate, rank_warehouses
from app.domain.errors import DomainError, ErrorCode
from app.domain.reservations import ShopConfirmation

DEFAULT_MAX_HOPS = 3  # SHOP_CONFIRMATION_MAX_HOPS


class DeclineReason(StrEnum):
    NOT_FOUND = "not_found"  # the item is not in the shop
    DEFECT = "defect"
    KEPT_FOR_CUSTOMER = "kept_for_customer"  # held for someone in the shop
    OTHER = "other"


class RequestState(StrEnum):
    POSTING = "posting"  # written; Slack has not accepted the message yet (the clock waits)
    OPEN = "open"  # posted: the shop's staff decide until the deadline
    CLOSED = "closed"  # every line decided, timed out or moved on


class AskWhen(StrEnum):
    """When a shop is asked: once the order is paid (default), or as soon as it is placed."""

    PAID = "paid"
    PLACED = "placed"


@dataclass(frozen=True, slots=True, kw_only=True)
class ShopRules:
    """The brand's settings for shop confirmations."""

    window: timedelta = timedelta(minutes=20)  # SHOP_CONFIRMATION_MINUTES
    max_hops: int = DEFAULT_MAX_HOPS  # SHOP_CONFIRMATION_MAX_HOPS
    post_timeout: timedelta = timedelta(minutes=20)  # SLACK_POST_TIMEOUT_MINUTES
    ask_when: AskWhen = AskWhen.PAID  # SHOP_CONFIRMATION_ASK


def takes_unit_off_sale(reason: DeclineReason) -> bool:
    """Tell whether a decline stops offering the shop's unit until 1C's next figure for it."""
    return reason in (DeclineReason.NOT_FOUND, DeclineReason.DEFECT)


# -- the clock ---------------------------------------------------------------------------------


def _window(minutes: int) -> timedelta:
    if minutes < 1:
        raise DomainError(ErrorCode.INVALID, "the confirmation window is at least 1 minute")
    return timedelta(minutes=minutes)


def deadline_for(posted_at: datetime, minutes: int) -> datetime:
    """Give the instant a request times out: `minutes` after Slack accepted the message."""
    return posted_at + _window(minutes)


def reminder_at(posted_at: datetime, minutes: int) -> datetime:
    """Give the instant to remind the shop's on-duty group: half the window after posting."""
    return posted_at + _window(minutes) / 2


def is_due(deadline: datetime, now: datetime) -> bool:
    """Tell whether the instant has come (a deadline is due at its own instant)."""
    return now >= deadline


# -- where a declined line goes next ----------------------------------------------------------


class UnavailableReason(StrEnum):
    NOWHERE_LEFT = "nowhere_left"  # no warehouse left to ask has the units
    MAX_HOPS = "max_hops"  # the line has moved as often as the brand allows
    PICKUP_DECLINED = "pickup_declined"  # a pickup line is served by its chosen shop only


@dataclass(frozen=True, slots=True, kw_only=True)
class Reallocated:
    """Serve the units from these warehouses; each `from_shop` allocation asks that shop."""

    allocations: tuple[Allocation, ...]
    hop: int  # the line's moves so far, this one included

    @property
    def shops_to_ask(self) -> tuple[int, ...]:
        return tuple(a.warehouse_id for a in self.allocations if a.from_shop)


@dataclass(frozen=True, slots=True, kw_only=True)
class Unavailable:
    """No warehouse serves the units: the line (or that part of it) is missing."""

    reason: UnavailableReason


def next_warehouse(
    *,
    quantity: int,
    warehouses: Sequence[WarehouseInfo],
    free: Mapping[int, int],
    declined: Collection[int],
    pickup_warehouse_id: int | None,
    hops: int,
    max_hops: int = DEFAULT_MAX_HOPS,
) -> Reallocated | Unavailable:
    """Decide where units a shop declined (or let time out on) go next.

    `quantity` is the declined reservation's units, `free` the free units per warehouse after
    that shop's units were released, `declined` every shop that declined or stayed silent on
    this line (the current one included), `hops` the moves the line has made before this one.
    """
    if quantity < 1:
        raise DomainError(ErrorCode.INVALID_QUANTITY, "move at least 1 unit", ("quantity",))
    if pickup_warehouse_id is not None and pickup_warehouse_id in declined:
        return Unavailable(reason=UnavailableReason.PICKUP_DECLINED)
    if hops >= max_hops:
        return Unavailable(reason=UnavailableReason.MAX_HOPS)
    candidates = _candidates(warehouses, free, declined, pickup_warehouse_id)
    try:
        allocations = allocate(quantity, candidates)
    except DomainError as error:
        if error.code is not ErrorCode.INSUFFICIENT_STOCK:
            raise
        return Unavailable(reason=UnavailableReason.NOWHERE_LEFT)
    return Reallocated(allocations=tuple(allocations), hop=hops + 1)


def _candidates(
    warehouses: Sequence[WarehouseInfo],
    free: Mapping[int, int],
    declined: Collection[int],
    pickup_warehouse_id: int | None,
) -> list[Candidate]:
    shops = {w.id for w in warehouses if w.is_shop}
    return [
        Candidate(warehouse_id=w, free=max(0, free.get(w, 0)), is_shop=w in shops)
        for w in rank_warehouses(warehouses, pickup_warehouse_id)
        if w not in declined
    ]


# -- a click on Confirm or Decline ------------------------------------------------------------


class Action(StrEnum):
    CONFIRM = "confirm"
    DECLINE = "decline"


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfirmationRequest:
    """What is stored about one request: its state, where it was posted, who settled it."""

    state: ShopConfirmation
    channel: str | None  # the Slack channel it was posted to; None: not posted yet
    deadline: datetime | None  # None: not posted yet, so the clock has not started
    decided_by: str | None = None  # the Slack user who clicked; None for a timeout
    decided_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Click:
    """A shop employee pressed a button on the request's message."""

    action: Action
    reason: DeclineReason | None = None  # required with DECLINE
    user: str  # the Slack user id
    channel: str  # the channel the message with the button is in
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Decided:
    """Apply this, on the condition the request is still REQUESTED (the first decision wins)."""

    state: ShopConfirmation  # CONFIRMED, DECLINED or TIMED_OUT
    by: str | None  # None: nobody answered in time
    at: datetime
    reason: DeclineReason | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AlreadyHandled:
    """Change nothing; tell the clicker who settled it and when."""

    state: ShopConfirmation
    by: str | None  # None: it timed out
    at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class WrongChannel:
    """Refuse a click that did not come from the channel the request was posted to."""

    channel: str


def decide(current: ConfirmationRequest, click: Click) -> Decided | AlreadyHandled | WrongChannel:
    """Decide what a click means: the first decision wins, a late or foreign one changes nothing."""
    if current.channel is None or click.channel != current.channel:
        return WrongChannel(channel=click.channel)
    if current.state is not ShopConfirmation.REQUESTED:
        return AlreadyHandled(state=current.state, by=current.decided_by, at=current.decided_at)
    if current.deadline is not None and is_due(current.deadline, click.at):
        # the timeout is the decision even if the sweep has not written it yet
        return AlreadyHandled(state=ShopConfirmation.TIMED_OUT, by=None, at=current.deadline)
    return _decision(click)


def _decision(click: Click) -> Decided:
    if click.action is Action.CONFIRM:
        if click.reason is not None:
            raise DomainError(ErrorCode.INVALID, "a confirmation has no reason", ("reason",))
        return Decided(state=ShopConfirmation.CONFIRMED, by=click.user, at=click.at)
    if click.reason is None:
        raise DomainError(ErrorCode.INVALID, "a decline needs a reason", ("reason",))
    return Decided(state=ShopConfirmation.DECLINED, by=click.user, at=click.at, reason=click.reason)


def time_out(current: ConfirmationRequest, now: datetime) -> Decided | AlreadyHandled | None:
    """Decide what the deadline means: a timeout if still waiting, nothing if decided or early."""
    if current.state is not ShopConfirmation.REQUESTED:
        return AlreadyHandled(state=current.state, by=current.decided_by, at=current.decided_at)
    if current.deadline is None or not is_due(current.deadline, now):
        return None
    return Decided(state=ShopConfirmation.TIMED_OUT, by=None, at=current.deadline)


# -- what the shopper sees, and when the order goes on --------------------------------------------


class LineState(StrEnum):
    CONFIRMING = "confirming"  # a shop is asked to confirm
    CONFIRMED = "confirmed"  # a shop confirmed it
    MOVED = "moved"  # a shop declined or was silent; the next warehouse is asked
    UNAVAILABLE = "unavailable"  # nowhere has it: its money goes back
    READY = "ready"  # served from the online warehouse, nothing to confirm


SETTLED_CONFIRMATIONS = (ShopConfirmation.CONFIRMED, ShopConfirmation.NOT_NEEDED)
SETTLED_LINES = (LineState.CONFIRMED, LineState.READY, LineState.UNAVAILABLE)


@dataclass(frozen=True, slots=True, kw_only=True)
class LineFacts:
    """One order line as its reservations tell it."""

    unit_price: int  # kopecks
    quantity: int
    confirmations: tuple[ShopConfirmation, ...]  # of its live (active) reservations
    unavailable: int = 0  # units no warehouse could serve after declines
    moved: bool = False  # a shop declined or stayed silent on it at least once


def line_state(line: LineFacts) -> LineState:
    """Tell the shopper where a line stands; a part still missing shows as the rest stands."""
    if line.unavailable >= line.quantity:
        return LineState.UNAVAILABLE
    waiting = not line.confirmations or any(
        c not in SETTLED_CONFIRMATIONS for c in line.confirmations
    )
    if waiting:
        return LineState.MOVED if line.moved else LineState.CONFIRMING
    if ShopConfirmation.CONFIRMED in line.confirmations:
        return LineState.CONFIRMED
    return LineState.READY


def order_settled(line_states: Iterable[LineState]) -> bool:
    """Tell whether every line is settled, so the order goes on to shipping."""
    return all(state in SETTLED_LINES for state in line_states)


def nothing_to_ship(line_states: Iterable[LineState]) -> bool:
    """Tell whether every line became unavailable (the whole order's money goes back)."""
    states = list(line_states)
    return bool(states) and all(state is LineState.UNAVAILABLE for state in states)


def refund_due(lines: Iterable[LineFacts]) -> int:
    """Give the kopecks of the units that became unavailable (the partial refund)."""
    return sum(line.unit_price * min(line.unavailable, line.quantity) for line in lines)


def capturable(authorised: int, lines: Iterable[LineFacts]) -> int:
    """Give the kopecks a two-stage payment may still take: what was authorised less the units
    that became unavailable (a capture never takes the price of a dress nobody had)."""
    return max(0, authorised - refund_due(lines))
