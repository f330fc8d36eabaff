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

ONLINE = WarehouseInfo(id=1, is_shop=False, priority=10, sellable_online=True)
SHOP_A = WarehouseInfo(id=2, is_shop=True, priority=30, sellable_online=True)
SHOP_B = WarehouseInfo(id=3, is_shop=True, priority=20, sellable_online=True)
RETURNS = WarehouseInfo(id=4, is_shop=False, priority=5, sellable_online=False)


def online(warehouse_id: int, free: int) -> Candidate:
    return Candidate(warehouse_id=warehouse_id, free=free, is_shop=False)


def shop(warehouse_id: int, free: int) -> Candidate:
    return Candidate(warehouse_id=warehouse_id, free=free, is_shop=True)


def test_online_first_then_shops_by_priority_and_never_unsellable_ones() -> None:
    assert rank_warehouses([SHOP_A, RETURNS, SHOP_B, ONLINE], None) == [1, 3, 2]


def test_a_pickup_order_is_served_by_its_shop_only() -> None:
    assert rank_warehouses([ONLINE, SHOP_A, SHOP_B], 2) == [2]


def test_the_first_warehouse_that_has_it_all_serves_the_whole_line() -> None:
    candidates = [online(1, free=1), shop(3, free=5), shop(2, free=9)]
    assert allocate(3, candidates) == [Allocation(warehouse_id=3, quantity=3, from_shop=True)]


def test_a_line_is_split_in_rank_order_when_no_warehouse_has_it_all() -> None:
    candidates = [online(1, free=2), shop(3, free=0), shop(2, free=2)]
    assert allocate(3, candidates) == [
        Allocation(warehouse_id=1, quantity=2, from_shop=False),
        Allocation(warehouse_id=2, quantity=1, from_shop=True),
    ]


def test_not_enough_anywhere_says_how_many_there_are() -> None:
    with pytest.raises(DomainError) as error:
        allocate(5, [online(1, free=2), shop(2, free=-1), shop(3, free=1)])
    assert (error.value.code, error.value.available) == (ErrorCode.INSUFFICIENT_STOCK, 3)
