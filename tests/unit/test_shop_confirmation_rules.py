"""Shop confirmation: the clock, the first decision, the next warehouse, what the shopper sees."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.domain.allocation import Allocation, WarehouseInfo
from app.domain.errors import DomainError, ErrorCode
from app.domain.reservations import ShopConfirmation
from app.domain.shop_confirmation import (
    Action,
    AlreadyHandled,
    Click,
    ConfirmationRequest,
    Decided,
    DeclineReason,
    LineFacts,
    LineState,
    Reallocated,
    Unavailable,
    UnavailableReason,
    WrongChannel,
    capturable,
    deadline_for,
    decide,
    is_due,
    line_state,
    next_warehouse,
    nothing_to_ship,
    order_settled,
    refund_due,
    reminder_at,
    takes_unit_off_sale,
    time_out,
)

POSTED = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
DEADLINE = POSTED + timedelta(minutes=20)
CHANNEL = "C0SHOPA"

ONLINE = WarehouseInfo(id=1, is_shop=False, priority=10, sellable_online=True)
SHOP_A = WarehouseInfo(id=2, is_shop=True, priority=10, sellable_online=True)
SHOP_B = WarehouseInfo(id=3, is_shop=True, priority=20, sellable_online=True)
SHOP_C = WarehouseInfo(id=4, is_shop=True, priority=30, sellable_online=True)
RETURNS = WarehouseInfo(id=5, is_shop=False, priority=1, sellable_online=False)
ALL = [SHOP_C, RETURNS, SHOP_B, ONLINE, SHOP_A]


def move(
    free: dict[int, int],
    declined: set[int],
    *,
    quantity: int = 1,
    pickup: int | None = None,
    hops: int = 0,
    max_hops: int = 3,
) -> Reallocated | Unavailable:
    return next_warehouse(
        quantity=quantity,
        warehouses=ALL,
        free=free,
        declined=declined,
        pickup_warehouse_id=pickup,
        hops=hops,
        max_hops=max_hops,
    )


def at_shop(warehouse_id: int, quantity: int = 1) -> Allocation:
    return Allocation(warehouse_id=warehouse_id, quantity=quantity, from_shop=True)


def requested(*, deadline: datetime | None = DEADLINE) -> ConfirmationRequest:
    return ConfirmationRequest(state=ShopConfirmation.REQUESTED, channel=CHANNEL, deadline=deadline)


def click(
    action: Action = Action.CONFIRM,
    *,
    reason: DeclineReason | None = None,
    user: str = "U_ANNA",
    channel: str = CHANNEL,
    at: datetime = POSTED + timedelta(minutes=5),
) -> Click:
    return Click(action=action, reason=reason, user=user, channel=channel, at=at)


# -- decline reasons --------------------------------------------------------------------------


def test_not_found_and_defect_take_the_shops_unit_off_sale_the_others_do_not() -> None:
    assert {r: takes_unit_off_sale(r) for r in DeclineReason} == {
        DeclineReason.NOT_FOUND: True,
        DeclineReason.DEFECT: True,
        DeclineReason.KEPT_FOR_CUSTOMER: False,
        DeclineReason.OTHER: False,
    }


# -- the clock --------------------------------------------------------------------------------


def test_the_deadline_counts_from_the_moment_the_message_was_posted() -> None:
    posted_late = POSTED + timedelta(minutes=7)  # Slack was down for seven minutes
    assert deadline_for(posted_late, 20) == datetime(2025, 3, 1, 12, 27, tzinfo=UTC)


def test_the_reminder_comes_at_half_time() -> None:
    assert reminder_at(POSTED, 20) == datetime(2025, 3, 1, 12, 10, tzinfo=UTC)
    assert reminder_at(POSTED, 5) == datetime(2025, 3, 1, 12, 2, 30, tzinfo=UTC)


def test_a_deadline_is_due_at_its_own_instant_and_not_a_microsecond_before() -> None:
    assert is_due(DEADLINE, DEADLINE) is True
    assert is_due(DEADLINE, DEADLINE - timedelta(microseconds=1)) is False


def test_a_window_of_no_minutes_is_refused() -> None:
    with pytest.raises(DomainError) as error:
        deadline_for(POSTED, 0)
    assert error.value.code is ErrorCode.INVALID


# -- where a declined line goes next ----------------------------------------------------------


def test_a_decline_moves_the_line_to_the_next_shop_by_priority_excluding_the_declined() -> None:
    plan = move({1: 0, 2: 1, 3: 1, 4: 1}, declined={2})
    assert plan == Reallocated(allocations=(at_shop(3),), hop=1)
    assert plan.shops_to_ask == (3,)


def test_every_shop_that_declined_this_line_is_skipped_not_only_the_last() -> None:
    assert move({2: 1, 3: 1, 4: 1}, declined={2, 3}, hops=1) == Reallocated(
        allocations=(at_shop(4),), hop=2
    )


def test_the_online_warehouse_is_preferred_over_shops_and_asks_nobody() -> None:
    plan = move({1: 1, 3: 1, 5: 9}, declined={2})
    online = Allocation(warehouse_id=1, quantity=1, from_shop=False)
    assert plan == Reallocated(allocations=(online,), hop=1)
    assert plan.shops_to_ask == ()


def test_a_warehouse_not_sold_online_never_serves_the_line() -> None:
    assert move({5: 9}, declined={2}) == Unavailable(reason=UnavailableReason.NOWHERE_LEFT)


def test_the_units_are_split_in_rank_order_when_no_warehouse_has_them_all() -> None:
    assert move({1: 1, 3: 1, 4: 5}, declined={2}, quantity=2) == Reallocated(
        allocations=(at_shop(4, 2),), hop=1
    )
    assert move({1: 1, 3: 1, 4: 0}, declined={2}, quantity=2) == Reallocated(
        allocations=(Allocation(warehouse_id=1, quantity=1, from_shop=False), at_shop(3)), hop=1
    )


def test_when_every_shop_declined_the_line_is_unavailable() -> None:
    plan = move({2: 1, 3: 1, 4: 1}, declined={2, 3, 4}, hops=2)
    assert plan == Unavailable(reason=UnavailableReason.NOWHERE_LEFT)


def test_negative_free_figures_count_as_none() -> None:
    assert move({1: -3, 3: -1}, declined={2}) == Unavailable(reason=UnavailableReason.NOWHERE_LEFT)


def test_a_pickup_decline_makes_the_line_unavailable_even_if_others_have_it() -> None:
    plan = move({1: 5, 3: 5}, declined={2}, pickup=2)
    assert plan == Unavailable(reason=UnavailableReason.PICKUP_DECLINED)


def test_the_line_stops_moving_when_it_has_moved_max_hops_times() -> None:
    free = {3: 1, 4: 1}
    assert move(free, declined={2}, hops=2, max_hops=3) == Reallocated(
        allocations=(at_shop(3),), hop=3
    )
    assert move(free, declined={2}, hops=3, max_hops=3) == Unavailable(
        reason=UnavailableReason.MAX_HOPS
    )


def test_moving_no_units_is_refused() -> None:
    with pytest.raises(DomainError) as error:
        move({3: 1}, declined={2}, quantity=0)
    assert (error.value.code, error.value.path) == (ErrorCode.INVALID_QUANTITY, ("quantity",))


# -- a click on Confirm or Decline ------------------------------------------------------------


def test_a_confirm_click_on_a_waiting_request_confirms_it_by_the_clicker_at_the_click() -> None:
    at = POSTED + timedelta(minutes=3)
    assert decide(requested(), click(at=at)) == Decided(
        state=ShopConfirmation.CONFIRMED, by="U_ANNA", at=at
    )


def test_a_decline_click_carries_its_reason() -> None:
    outcome = decide(requested(), click(Action.DECLINE, reason=DeclineReason.DEFECT))
    assert outcome == Decided(
        state=ShopConfirmation.DECLINED,
        by="U_ANNA",
        at=POSTED + timedelta(minutes=5),
        reason=DeclineReason.DEFECT,
    )


def test_a_decline_without_a_reason_is_refused() -> None:
    with pytest.raises(DomainError) as error:
        decide(requested(), click(Action.DECLINE))
    assert (error.value.code, error.value.path) == (ErrorCode.INVALID, ("reason",))


def test_the_first_decision_wins_and_a_second_click_is_told_who_and_when() -> None:
    first_at = POSTED + timedelta(minutes=2)
    confirmed = ConfirmationRequest(
        state=ShopConfirmation.CONFIRMED,
        channel=CHANNEL,
        deadline=DEADLINE,
        decided_by="U_ANNA",
        decided_at=first_at,
    )
    second = click(Action.DECLINE, reason=DeclineReason.OTHER, user="U_BORIS")
    assert decide(confirmed, second) == AlreadyHandled(
        state=ShopConfirmation.CONFIRMED, by="U_ANNA", at=first_at
    )


def test_a_click_after_the_timeout_was_written_is_already_handled_by_nobody() -> None:
    timed_out = ConfirmationRequest(
        state=ShopConfirmation.TIMED_OUT, channel=CHANNEL, deadline=DEADLINE, decided_at=DEADLINE
    )
    late = click(at=DEADLINE + timedelta(minutes=1))
    assert decide(timed_out, late) == AlreadyHandled(
        state=ShopConfirmation.TIMED_OUT, by=None, at=DEADLINE
    )


def test_a_click_past_the_deadline_before_the_sweep_ran_is_already_handled_too() -> None:
    assert decide(requested(), click(at=DEADLINE)) == AlreadyHandled(
        state=ShopConfirmation.TIMED_OUT, by=None, at=DEADLINE
    )


def test_a_click_from_another_channel_is_refused_whatever_the_state() -> None:
    assert decide(requested(), click(channel="C0SHOPB")) == WrongChannel(channel="C0SHOPB")
    confirmed = ConfirmationRequest(
        state=ShopConfirmation.CONFIRMED, channel=CHANNEL, deadline=DEADLINE, decided_by="U_ANNA"
    )
    assert decide(confirmed, click(channel="C0SHOPB")) == WrongChannel(channel="C0SHOPB")


def test_a_click_on_a_request_never_posted_is_refused() -> None:
    unposted = ConfirmationRequest(state=ShopConfirmation.REQUESTED, channel=None, deadline=None)
    assert decide(unposted, click()) == WrongChannel(channel=CHANNEL)


def test_the_deadline_times_out_a_waiting_request_at_the_deadline() -> None:
    later = DEADLINE + timedelta(seconds=40)  # the sweep runs a little late
    assert time_out(requested(), later) == Decided(
        state=ShopConfirmation.TIMED_OUT, by=None, at=DEADLINE
    )


def test_the_deadline_changes_nothing_before_it_is_due_or_once_decided() -> None:
    assert time_out(requested(), DEADLINE - timedelta(seconds=1)) is None
    assert time_out(requested(deadline=None), DEADLINE) is None
    declined = ConfirmationRequest(
        state=ShopConfirmation.DECLINED,
        channel=CHANNEL,
        deadline=DEADLINE,
        decided_by="U_ANNA",
        decided_at=POSTED,
    )
    assert time_out(declined, DEADLINE) == AlreadyHandled(
        state=ShopConfirmation.DECLINED, by="U_ANNA", at=POSTED
    )


# -- what the shopper sees, and when the order goes on ----------------------------------------


def line(
    *confirmations: ShopConfirmation,
    quantity: int = 1,
    unavailable: int = 0,
    moved: bool = False,
    unit_price: int = 10_000,
) -> LineFacts:
    return LineFacts(
        unit_price=unit_price,
        quantity=quantity,
        confirmations=confirmations,
        unavailable=unavailable,
        moved=moved,
    )


def test_each_line_shows_where_it_stands() -> None:
    assert line_state(line(ShopConfirmation.REQUESTED)) is LineState.CONFIRMING
    assert line_state(line(ShopConfirmation.REQUESTED, moved=True)) is LineState.MOVED
    assert line_state(line(moved=True)) is LineState.MOVED  # between release and re-allocation
    assert line_state(line(ShopConfirmation.CONFIRMED, moved=True)) is LineState.CONFIRMED
    assert line_state(line(ShopConfirmation.NOT_NEEDED)) is LineState.READY
    assert line_state(line(unavailable=1, moved=True)) is LineState.UNAVAILABLE


def test_a_split_line_waits_for_its_slowest_part() -> None:
    split = line(ShopConfirmation.NOT_NEEDED, ShopConfirmation.REQUESTED, quantity=2)
    assert line_state(split) is LineState.CONFIRMING
    done = line(ShopConfirmation.NOT_NEEDED, ShopConfirmation.CONFIRMED, quantity=2)
    assert line_state(done) is LineState.CONFIRMED


def test_a_line_missing_one_of_two_units_shows_as_its_served_unit_stands() -> None:
    assert line_state(line(ShopConfirmation.CONFIRMED, quantity=2, unavailable=1)) is (
        LineState.CONFIRMED
    )


def test_the_order_is_settled_when_every_line_is_confirmed_ready_or_unavailable() -> None:
    settled = [LineState.CONFIRMED, LineState.READY, LineState.UNAVAILABLE]
    assert order_settled(settled) is True
    assert order_settled([*settled, LineState.CONFIRMING]) is False
    assert order_settled([*settled, LineState.MOVED]) is False


def test_an_order_with_every_line_unavailable_has_nothing_to_ship() -> None:
    assert nothing_to_ship([LineState.UNAVAILABLE, LineState.UNAVAILABLE]) is True
    assert nothing_to_ship([LineState.UNAVAILABLE, LineState.READY]) is False
    assert nothing_to_ship([]) is False


def test_the_refund_is_the_price_of_the_units_that_became_unavailable() -> None:
    lines = [
        line(unavailable=1, unit_price=799_000),  # a dress nobody had
        line(ShopConfirmation.CONFIRMED, quantity=3, unavailable=2, unit_price=150_000),
        line(ShopConfirmation.NOT_NEEDED, quantity=2, unit_price=45_000),
    ]
    assert refund_due(lines) == 799_000 + 2 * 150_000
    assert capturable(799_000 + 3 * 150_000 + 2 * 45_000, lines) == 150_000 + 2 * 45_000
    assert capturable(100_000, lines) == 0  # never below nothing


def test_nothing_is_refunded_when_every_line_is_served() -> None:
    assert refund_due([line(ShopConfirmation.CONFIRMED), line(ShopConfirmation.NOT_NEEDED)]) == 0
