"""The waiting room's rules: joining, the lottery, the admission budget, passes, what a waiter
is told, and the signed tokens."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.errors import DomainError, ErrorCode
from app.domain.waiting_room import (
    AdmissionPass,
    DropStock,
    LivePasses,
    Ticket,
    TicketStatus,
    WaiterState,
    admission_budget,
    check_may_join,
    check_pass,
    draw_lots,
    estimate_wait,
    joins_pre_queue,
    open_pass,
    open_ticket,
    pass_expiry,
    poll_after,
    seal_pass,
    seal_ticket,
    waiter_state,
)

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
KEY = b"test-key"
TICK = timedelta(seconds=1)
TICKET = Ticket(collection_id=7, epoch="e1", number=42, device="d" * 32)


def _stock(free: int, returnable: int = 0) -> DropStock:
    return DropStock(free_units=free, returnable_units=returnable)


# --- joining and the lottery ---------------------------------------------------------------


def test_the_pre_queue_opens_a_set_time_before_the_release() -> None:
    release = NOW + timedelta(minutes=60)
    check_may_join(release_at=release, opens_before=timedelta(minutes=60), now=NOW)
    with pytest.raises(DomainError) as refused:
        check_may_join(release_at=release, opens_before=timedelta(minutes=59), now=NOW)
    assert refused.value.code is ErrorCode.NOT_RELEASED
    assert refused.value.path == ("collectionId",)


def test_before_the_release_a_shopper_joins_the_pre_queue_after_it_the_line() -> None:
    assert joins_pre_queue(release_at=NOW + timedelta(seconds=1), now=NOW)
    assert not joins_pre_queue(release_at=NOW, now=NOW)


def test_the_draw_is_a_shuffle_of_the_whole_pre_queue_by_the_random_source_given() -> None:
    tickets = list(range(1, 11))
    drawn = draw_lots(tickets, random.Random(3))
    assert sorted(drawn) == tickets
    assert drawn == draw_lots(tickets, random.Random(3))  # the source decides, nothing else
    assert drawn != tickets
    assert tickets == list(range(1, 11))  # the pre-queue itself is left as it was


def test_every_early_arrival_has_the_same_chance_of_the_first_place() -> None:
    rng = random.Random(11)
    firsts = [draw_lots([1, 2, 3, 4], rng)[0] for _ in range(4000)]
    counts = [firsts.count(t) for t in (1, 2, 3, 4)]
    assert all(900 <= c <= 1100 for c in counts), counts


# --- admission budget ----------------------------------------------------------------------


def test_admission_fills_the_free_units_less_the_passes_that_have_not_taken_theirs() -> None:
    passes = LivePasses(live=5, served=2)  # 3 may still take a unit each
    assert admission_budget(_stock(10), passes, waiting=100, per_tick=100) == 7


def test_admission_stops_at_those_waiting_and_at_the_tick_cap() -> None:
    none_live = LivePasses(live=0, served=0)
    assert admission_budget(_stock(10), none_live, waiting=4, per_tick=100) == 4
    assert admission_budget(_stock(10), none_live, waiting=100, per_tick=3) == 3


def test_nobody_is_admitted_when_the_live_passes_already_cover_the_free_units() -> None:
    assert admission_budget(_stock(3), LivePasses(live=5, served=0), waiting=9, per_tick=9) == 0
    assert admission_budget(_stock(0), LivePasses(live=0, served=0), waiting=9, per_tick=9) == 0


@given(
    free=st.integers(min_value=-5, max_value=500),
    live=st.integers(min_value=0, max_value=500),
    served_share=st.floats(min_value=0, max_value=1),
    waiting=st.integers(min_value=0, max_value=10_000),
    per_tick=st.integers(min_value=0, max_value=1000),
)
def test_admission_never_gives_more_unserved_passes_than_free_units(
    free: int, live: int, served_share: float, waiting: int, per_tick: int
) -> None:
    passes = LivePasses(live=live, served=int(live * served_share))
    admitted = admission_budget(_stock(free), passes, waiting=waiting, per_tick=per_tick)
    assert 0 <= admitted <= min(waiting, per_tick)
    # after admitting: the passes that may still take a unit never outnumber the free units,
    # unless they already did before this tick (then nobody was admitted)
    assert passes.unserved + admitted <= max(free, passes.unserved)
    if passes.unserved >= free:
        assert admitted == 0


@given(
    units=st.integers(min_value=0, max_value=60),
    shoppers=st.integers(min_value=0, max_value=200),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_ticks_over_a_whole_drop_never_admit_beyond_the_units(
    units: int, shoppers: int, seed: int
) -> None:
    """Each tick admits by the budget; each admitted shopper then buys one unit or lets the
    pass run out. At no tick do unserved live passes exceed the free units."""
    rng = random.Random(seed)
    free, waiting, live = units, shoppers, 0
    admitted_total = 0
    while waiting or live:
        count = admission_budget(
            _stock(free), LivePasses(live=live, served=0), waiting=waiting, per_tick=7
        )
        waiting, live, admitted_total = waiting - count, live + count, admitted_total + count
        assert live <= free
        if live == 0:
            break
        if rng.random() < 0.8 and free > 0:  # one live pass buys (its unit leaves free)
            free, live = free - 1, live - 1
        else:  # one pass runs out unused
            live -= 1
    assert admitted_total <= shoppers


# --- sold out and passes -------------------------------------------------------------------


def test_sold_out_means_nothing_free_and_no_hold_that_could_come_back() -> None:
    assert _stock(0).sold_out
    assert not _stock(0, returnable=1).sold_out
    assert not _stock(1).sold_out


def test_a_pass_admits_its_own_device_to_its_own_drop_until_it_expires() -> None:
    admission = AdmissionPass(ticket=TICKET, expires_at=pass_expiry(NOW, timedelta(minutes=10)))
    live = NOW + timedelta(minutes=9, seconds=59)
    check_pass(admission, collection_id=7, device=TICKET.device, now=live, path=("x",))
    for collection_id, device, now in [
        (8, TICKET.device, NOW),  # another drop
        (7, "e" * 32, NOW),  # another device
        (7, TICKET.device, NOW + timedelta(minutes=10)),  # out of time
    ]:
        with pytest.raises(DomainError) as refused:
            check_pass(admission, collection_id=collection_id, device=device, now=now, path=("x",))
        assert refused.value.code is ErrorCode.QUEUE_PASS_REQUIRED
        assert refused.value.path == ("x",)
    with pytest.raises(DomainError):
        check_pass(None, collection_id=7, device=TICKET.device, now=NOW, path=())


# --- what a waiter is told -----------------------------------------------------------------


def test_a_waiter_hears_sold_out_and_keeps_the_place() -> None:
    def state(status: TicketStatus | None, sold_out: bool, expires: datetime | None) -> str:
        return waiter_state(status, sold_out=sold_out, pass_expires_at=expires, now=NOW).value

    later, earlier = NOW + timedelta(minutes=1), NOW - timedelta(seconds=1)
    assert state(TicketStatus.WAITING, False, None) == "waiting"
    assert state(TicketStatus.WAITING, True, None) == "sold_out"
    assert state(TicketStatus.ADMITTED, True, later) == "admitted"  # a pass outlives sell-out
    assert state(TicketStatus.ADMITTED, False, earlier) == "expired"  # before the tick sees it
    assert state(TicketStatus.EXPIRED, False, None) == "expired"
    assert state(TicketStatus.USED, False, None) == "used"
    assert state(None, False, None) == "closed"


def test_the_estimate_goes_by_the_last_minutes_admissions() -> None:
    assert estimate_wait(120, admitted_in_window=60) == timedelta(seconds=120)
    assert estimate_wait(1, admitted_in_window=600) == timedelta(seconds=1)
    assert estimate_wait(5, admitted_in_window=0) is None


def test_waiters_in_line_ask_often_enough_to_hear_of_a_sell_out_within_five_seconds() -> None:
    in_line = poll_after(WaiterState.WAITING, tick=TICK)
    assert in_line == 3
    assert in_line + TICK.total_seconds() < 5  # the tick that notices, then the poll
    assert poll_after(WaiterState.WAITING, tick=TICK, until_release=timedelta(seconds=7.2)) == 8
    assert poll_after(WaiterState.WAITING, tick=TICK, until_release=timedelta(hours=1)) == 30
    assert poll_after(WaiterState.SOLD_OUT, tick=TICK) == 15
    assert poll_after(WaiterState.CLOSED, tick=TICK) == 5
    expiry = timedelta(seconds=90)
    assert poll_after(WaiterState.ADMITTED, tick=TICK, until_pass_expiry=expiry) == 30


# --- tokens --------------------------------------------------------------------------------


def test_a_ticket_and_a_pass_come_back_as_signed() -> None:
    assert open_ticket(seal_ticket(TICKET, KEY), KEY) == TICKET
    admission = AdmissionPass(ticket=TICKET, expires_at=NOW)
    assert open_pass(seal_pass(admission, KEY), KEY) == admission


def test_a_token_signed_otherwise_or_changed_is_nothing() -> None:
    sealed = seal_ticket(TICKET, KEY)
    kind, body, signature = sealed.split(".")
    other = Ticket(collection_id=7, epoch="e1", number=1, device=TICKET.device)
    forged_body = seal_ticket(other, b"another key").split(".")[1]
    assert open_ticket(sealed, b"another key") is None
    assert open_ticket(f"{kind}.{forged_body}.{signature}", KEY) is None
    assert open_ticket("q1.!!!.???", KEY) is None
    assert open_ticket("", KEY) is None
    assert open_ticket(sealed + "x" * 600, KEY) is None


def test_a_ticket_never_passes_for_a_pass() -> None:
    sealed = seal_ticket(TICKET, KEY)
    assert open_pass(sealed, KEY) is None
    assert open_pass("p1." + sealed.split(".", 1)[1], KEY) is None


@given(raw=st.text(max_size=600))
def test_any_text_as_a_token_is_refused_without_a_crash(raw: str) -> None:
    assert open_ticket(raw, KEY) is None
    assert open_pass(raw, KEY) is None
    assert open_ticket("q1." + raw, KEY) is None
