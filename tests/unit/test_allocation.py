"""Allocation: one warehouse if one has it all, online first, then shops; split otherwise."""

from __future__ import annotations

import pytest

from app.domain.allocation import (
    Allocation,
    Candidate,
    WarehouseInfo,
    allocate,
    rank_warehouses,
)
from app.domain.errors import DomainError, ErrorCode

ONLINE, SHOP_A, SHOP_B, RETURNS = (
    WarehouseInfo(1, False, 10, True),
    WarehouseInfo(2, True, 30, True),
    WarehouseInfo(3, True, 20, True),
    WarehouseInfo(4, False, 5, False),
)


def test_online_first_then_shops_by_priority_and_never_unsellable_ones() -> None:
    assert rank_warehouses([SHOP_A, RETURNS, SHOP_B, ONLINE], None) == [1, 3, 2]


def test_a_pickup_order_is_served_by_its_shop_only() -> None:
    assert rank_warehouses([ONLINE, SHOP_A, SHOP_B], 2) == [2]


def test_the_first_warehouse_that_has_it_all_serves_the_whole_line() -> None:
    candidates = [Candidate(1, 1, False), Candidate(3, 5, True), Candidate(2, 9, True)]
    assert allocate(3, candidates) == [Allocation(3, 3, True)]


def test_a_line_is_split_in_rank_order_when_no_warehouse_has_it_all() -> None:
    candidates = [Candidate(1, 2, False), Candidate(3, 0, True), Candidate(2, 2, True)]
    assert allocate(3, candidates) == [Allocation(1, 2, False), Allocation(2, 1, True)]


def test_not_enough_anywhere_says_how_many_there_are() -> None:
    with pytest.raises(DomainError) as error:
        allocate(5, [Candidate(1, 2, False), Candidate(2, -1, True), Candidate(3, 1, True)])
    assert (error.value.code, error.value.available) == (ErrorCode.INSUFFICIENT_STOCK, 3)
