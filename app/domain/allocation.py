"""Which warehouses serve an order line: the online warehouse first, then shops by priority."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.domain.errors import DomainError, ErrorCode


@dataclass(frozen=True, slots=True, kw_only=True)
class WarehouseInfo:
    id: int
    is_shop: bool
    priority: int
    sellable_online: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Candidate:
    warehouse_id: int
    free: int  # on_hand − buffer, at most; never negative
    is_shop: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Allocation:
    warehouse_id: int
    quantity: int
    from_shop: bool  # a shop line waits for the shop's staff to confirm the item


def insufficient_stock(available: int, path: Sequence[str | int] = ()) -> DomainError:
    """Fewer units are free than asked for; the error says how many are."""
    return DomainError(
        ErrorCode.INSUFFICIENT_STOCK, f"only {available} available", tuple(path), available
    )


def rank_warehouses(
    warehouses: Sequence[WarehouseInfo], pickup_warehouse_id: int | None
) -> list[int]:
    """Warehouses to try, in order. A pickup order is served by the chosen shop alone."""
    if pickup_warehouse_id is not None:
        return [w.id for w in warehouses if w.id == pickup_warehouse_id]
    sellable = [w for w in warehouses if w.sellable_online]
    return [w.id for w in sorted(sellable, key=lambda w: (w.is_shop, w.priority, w.id))]


def allocate(quantity: int, candidates: Sequence[Candidate]) -> list[Allocation]:
    """Serve `quantity` from the first warehouse that has it all, else split in rank order."""
    for c in candidates:
        if c.free >= quantity:
            return [Allocation(warehouse_id=c.warehouse_id, quantity=quantity, from_shop=c.is_shop)]
    total = sum(max(0, c.free) for c in candidates)
    if total < quantity:
        raise insufficient_stock(total)
    allocations, remaining = [], quantity
    for c in candidates:
        take = min(max(0, c.free), remaining)
        if take:
            allocations.append(
                Allocation(warehouse_id=c.warehouse_id, quantity=take, from_shop=c.is_shop)
            )
            remaining -= take
    return allocations
