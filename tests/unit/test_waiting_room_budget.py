"""The admission budget from stock figures and pass use, and passes extended while in use."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.errors import DomainError, ErrorCode
from app.domain.waiting_room import (
    AdmissionPass,
    DropStock,
    PassUse,
    Ticket,
    admission_count,
    check_pass_holder,
    drop_stock,
    extended_expiry,
    unserved_passes,
)

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
TICKET = Ticket(collection_id=7, epoch="e1", number=42, device="d" * 32)


def test_a_drops_stock_is_the_sum_of_its_figures_and_held_figures_can_come_back() -> None:
    stock = drop_stock([(3, False), (0, True), (-1, False), (2, True)])

    assert stock == DropStock(free_units=5, returnable_units=2)
    assert not stock.sold_out


def test_a_drop_with_nothing_free_and_nothing_held_is_sold_out() -> None:
    assert drop_stock([(0, False), (0, False)]).sold_out
    assert not drop_stock([(0, False), (0, True)]).sold_out  # a hold may run out


def test_a_pass_whose_hold_the_figures_show_is_served_and_takes_no_more_room() -> None:
    seen = PassUse(held_at=NOW - timedelta(seconds=2), held_until=NOW + timedelta(minutes=5))
    unseen = PassUse(held_at=NOW, held_until=NOW + timedelta(minutes=5))  # after the read began
    ran_out = PassUse(held_at=NOW - timedelta(minutes=20), held_until=NOW)
    idle = PassUse()

    count = unserved_passes(
        [seen, unseen, ran_out, idle],
        spent_unseen=1,
        now=NOW,
        visible_before=NOW - timedelta(seconds=1),
    )

    assert count == 4  # all but `seen`, plus the pass used after the figures were read


@given(
    free=st.integers(-5, 50),
    unserved=st.integers(0, 60),
    waiting=st.integers(0, 100),
    per_tick=st.integers(1, 20),
)
def test_admission_never_gives_more_unserved_passes_than_free_units(
    free: int, unserved: int, waiting: int, per_tick: int
) -> None:
    count = admission_count(free, unserved, waiting=waiting, per_tick=per_tick)

    assert 0 <= count <= min(waiting, per_tick)
    assert count == 0 or unserved + count <= free


def test_a_pass_in_use_lasts_at_least_the_extension_longer() -> None:
    admitted = NOW - timedelta(minutes=8)

    longer = extended_expiry(
        admitted + timedelta(minutes=10),
        admitted_at=admitted,
        now=NOW,
        extend=timedelta(minutes=5),
        cap=timedelta(minutes=30),
    )

    assert longer == NOW + timedelta(minutes=5)


def test_a_pass_is_never_extended_past_its_cap_nor_shortened() -> None:
    admitted = NOW - timedelta(minutes=28)

    def extend(expires_at: datetime) -> datetime:
        return extended_expiry(
            expires_at,
            admitted_at=admitted,
            now=NOW,
            extend=timedelta(minutes=5),
            cap=timedelta(minutes=30),
        )

    capped = extend(NOW + timedelta(seconds=30))
    kept = extend(admitted + timedelta(minutes=40))  # an older, longer pass stays as it was

    assert capped == admitted + timedelta(minutes=30)
    assert kept == admitted + timedelta(minutes=40)


@pytest.mark.parametrize(
    ("collection_id", "device"),
    [(8, "d" * 32), (7, "e" * 32)],
    ids=["another drop", "another device"],
)
def test_a_pass_holder_is_its_own_device_at_its_own_drop(collection_id: int, device: str) -> None:
    admission = AdmissionPass(ticket=TICKET, expires_at=NOW - timedelta(hours=1))
    check_pass_holder(admission, collection_id=7, device="d" * 32, path=("x",))  # time: redis's

    with pytest.raises(DomainError) as refused:
        check_pass_holder(admission, collection_id=collection_id, device=device, path=("x",))

    assert (refused.value.code, refused.value.path) == (ErrorCode.QUEUE_PASS_REQUIRED, ("x",))
