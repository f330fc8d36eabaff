"""The one home of the availability rule: available = Σ max(0, on_hand − buffer)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True, kw_only=True)
class StockPosition:
    """What we know of one variant in one warehouse."""

    warehouse_id: int
    on_hand: int
    buffer: int
    sellable: bool = True


def sellable_quantity(position: StockPosition) -> int:
    """Units of this position a shopper may still buy (0 for a warehouse that does not sell)."""
    if not position.sellable:
        return 0
    return max(0, position.on_hand - position.buffer)


def available(positions: Iterable[StockPosition]) -> int:
    """Units of a variant a shopper may buy, across every sellable warehouse."""
    return sum(sellable_quantity(p) for p in positions)


def availability_by_warehouse(positions: Iterable[StockPosition]) -> dict[int, int]:
    """Sellable units per sellable warehouse, zeros included (the dress is *not* in shop X)."""
    return {p.warehouse_id: sellable_quantity(p) for p in positions if p.sellable}


def available_from(positions: Iterable[StockPosition], warehouse_ids: Iterable[int]) -> int:
    """Units a shopper may buy from the given warehouses only (e.g. the chosen pickup shop)."""
    allowed = set(warehouse_ids)
    return sum(sellable_quantity(p) for p in positions if p.warehouse_id in allowed)


def available_to_holder(
    positions: Iterable[StockPosition], warehouse_ids: Iterable[int], own_holds: dict[int, int]
) -> int:
    """What a cart line may be set to: what others may buy plus what the line already holds."""
    mine = [replace(p, buffer=p.buffer - own_holds.get(p.warehouse_id, 0)) for p in positions]
    return available_from(mine, warehouse_ids)
