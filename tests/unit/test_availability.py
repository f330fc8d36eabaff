"""The availability rule: Σ over sellable warehouses of max(0, on_hand − buffer)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.domain.availability import (
    StockPosition,
    availability_by_warehouse,
    available,
    sellable_quantity,
)


def at(warehouse_id: int, *, on_hand: int, buffer: int, sellable: bool = True) -> StockPosition:
    return StockPosition(
        warehouse_id=warehouse_id, on_hand=on_hand, buffer=buffer, sellable=sellable
    )


def test_the_buffer_is_taken_from_on_hand() -> None:
    assert sellable_quantity(at(1, on_hand=5, buffer=2)) == 3


def test_a_buffer_larger_than_on_hand_never_makes_stock_negative() -> None:
    assert sellable_quantity(at(1, on_hand=1, buffer=3)) == 0


def test_one_warehouse_short_does_not_eat_another_warehouses_stock() -> None:
    positions = [at(1, on_hand=1, buffer=3), at(2, on_hand=4, buffer=0)]
    assert available(positions) == 4


def test_warehouses_that_do_not_sell_online_are_not_counted_or_listed() -> None:
    positions = [at(1, on_hand=4, buffer=0), at(2, on_hand=9, buffer=0, sellable=False)]
    assert available(positions) == 4
    assert availability_by_warehouse(positions) == {1: 4}


def test_per_warehouse_figures_include_zeros() -> None:
    assert availability_by_warehouse([at(1, on_hand=0, buffer=0), at(2, on_hand=2, buffer=1)]) == {
        1: 0,
        2: 1,
    }


@given(st.lists(st.tuples(st.integers(0, 50), st.integers(0, 50), st.booleans()), max_size=6))
def test_total_is_the_sum_of_the_per_warehouse_figures(rows: list[tuple[int, int, bool]]) -> None:
    positions = [
        at(i, on_hand=on, buffer=buf, sellable=sell) for i, (on, buf, sell) in enumerate(rows)
    ]
    assert available(positions) == sum(availability_by_warehouse(positions).values()) >= 0
