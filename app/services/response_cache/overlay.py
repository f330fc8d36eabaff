"""The live stock overlay: entries keep their availability current from the stock feed instead
of being flushed by every sale.

While an entry is filled, the availability resolvers tell the request's `StockReads` where
they put a figure (`Context.read_stock`). The entry keeps those slots and each variant's figure
as shown. On a hit, a variant the feed announced since the last check is looked up: a newer
figure is written into its slots (the body re-encoded and stored again, so the next hit is
plain bytes). When the figures cannot be vouched for (feed unhealthy or restarted since, a
changed variant the feed no longer knows, a counted hold expired) the entry is not served.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

from graphql import FieldNode, FragmentSpreadNode, InlineFragmentNode, SelectionSetNode

from app.domain.availability import StockPosition, availability_by_warehouse, available
from app.domain.reservations import ReservationState
from app.domain.response_cache import needs_overlay, overlaid_quantities
from app.models.stock import Reservation
from app.services.response_cache.entries import (
    Entry,
    Figure,
    Path,
    SlotKind,
    StockShown,
    StockSlot,
    etag_of,
)
from app.services.stock_stream import VariantStock

Positions = Callable[[int], Awaitable[list[StockPosition]]]
Encode = Callable[[Any], bytes]


class Feed(Protocol):
    @property
    def healthy(self) -> bool: ...
    @property
    def generation(self) -> int: ...
    def latest(self, variant_id: int, now: datetime) -> VariantStock | None: ...
    def on_change(self, callback: Callable[[VariantStock], None]) -> Callable[[], None]: ...
    def track(self, variant_ids: Iterable[int]) -> None: ...


class StockWatch:
    """What this process heard from the feed: a sequence number per announced variant, and
    since when the feed has been healthy without interruption."""

    def __init__(self, feed: Feed) -> None:
        self.feed = feed
        self.sequence = 0
        self.changed: dict[int, int] = {}
        self._generation: int | None = None
        self.healthy_since: datetime | None = None
        self._unsubscribe = feed.on_change(self._heard)

    def _heard(self, figure: VariantStock) -> None:
        self.sequence += 1
        self.changed[figure.variant_id] = self.sequence

    def usable(self, now: datetime) -> bool:
        """Whether the feed vouches for figures now (noting when it became so)."""
        if not self.feed.healthy:
            self.healthy_since = None
            return False
        if self.healthy_since is None or self._generation != self.feed.generation:
            self._generation, self.healthy_since = self.feed.generation, now
        return True

    @property
    def generation(self) -> int | None:
        return self._generation

    def close(self) -> None:
        self._unsubscribe()


@dataclass
class _Read:
    path: Path
    kind: SlotKind
    variants: tuple[int, ...]
    quantity_keys: tuple[str, ...]


@dataclass
class StockReads:
    """The availability an entry being filled shows (one per filling request)."""

    reads: list[_Read] = field(default_factory=list)

    def add(self, info: Any, variant_ids: Iterable[int]) -> None:
        raw = getattr(info, "_raw_info", info)  # strawberry's Info wraps graphql-core's
        kind: SlotKind = "by_warehouse" if raw.field_name == "availability" else "total"
        keys = _quantity_keys(raw.field_nodes, raw.fragments) if kind == "by_warehouse" else ()
        path = tuple(raw.path.as_list())
        self.reads.append(_Read(path, kind, tuple(variant_ids), keys))


def _quantity_keys(nodes: Iterable[FieldNode], fragments: Mapping[str, Any]) -> tuple[str, ...]:
    keys: list[str] = []

    def visit(selections: SelectionSetNode | None) -> None:
        for s in selections.selections if selections else ():
            if isinstance(s, FieldNode) and s.name.value == "quantity":
                keys.append(s.alias.value if s.alias else "quantity")
            elif isinstance(s, InlineFragmentNode):
                visit(s.selection_set)
            elif isinstance(s, FragmentSpreadNode):
                visit(fragments[s.name.value].selection_set)

    for node in nodes:
        visit(node.selection_set)
    return tuple(keys)


def figure_of(positions: list[StockPosition]) -> Figure:
    per = availability_by_warehouse(positions)
    return Figure(available(positions), tuple(per), tuple(per.values()), None)


async def stock_shown(
    reads: StockReads,
    data: Mapping[str, Any],
    positions: Positions,
    *,
    watch: StockWatch,
    since: int,
    now: datetime,
) -> StockShown | None:
    """The slots and figures of a filled answer (None: it cannot be overlaid, do not store).

    `since`: the watch's sequence before the fill ran. A variant the feed announced during the
    fill may show an older figure than the feed's: it is marked as of no version."""
    figures: dict[int, Figure] = {}
    unknown: list[int] = []
    for v in {v for r in reads.reads for v in r.variants}:
        figure = figure_of(await positions(v))
        known = watch.feed.latest(v, now)
        if known is not None and watch.changed.get(v, 0) <= since:
            figure.version = known.version
        elif known is None:
            unknown.append(v)
        figures[v] = figure
    watch.feed.track(unknown)  # the feed reads them once, so a lost publish of theirs shows
    slots = [StockSlot(r.path, r.kind, r.variants, r.quantity_keys) for r in reads.reads]
    if not all(_shows(data, slot, figures) for slot in slots):
        return None  # the answer is not what the rule gives: never patch what we cannot see
    deadline = await _next_hold_expiry(list(figures), now)
    return StockShown(slots=slots, figures=figures, deadline=deadline)


async def _next_hold_expiry(variant_ids: list[int], now: datetime) -> datetime | None:
    if not variant_ids:
        return None
    found = (
        await Reservation.filter(
            variant_id__in=variant_ids, state=ReservationState.HELD, expires_at__gt=now
        )
        .order_by("expires_at")
        .first()
        .values_list("expires_at", flat=True)
    )
    return found if isinstance(found, datetime) else None


def _at(data: Mapping[str, Any], path: Path) -> Any:
    node: Any = data.get("data")
    for step in path:
        node = node[step]
    return node


def _shows(data: Mapping[str, Any], slot: StockSlot, figures: Mapping[int, Figure]) -> bool:
    try:
        value = _at(data, slot.path)
    except (KeyError, IndexError, TypeError):
        return False
    if slot.kind == "total":
        return bool(value == sum(figures[v].available for v in slot.variants))
    [variant] = slot.variants
    quantities = list(figures[variant].quantities)
    return (
        isinstance(value, list)
        and len(value) == len(quantities)
        and all(
            item.get(k) == q
            for item, q in zip(value, quantities, strict=True)
            for k in slot.quantity_keys
        )
    )


class Refill(Exception):
    """The entry's figures cannot be vouched for: compute the answer again."""


def current(entry: Entry, watch: StockWatch, now: datetime, encode: Encode) -> Entry:
    """The entry with the feed's newest figures written in (itself when nothing moved), or
    Refill."""
    stock = entry.stock
    if stock is None:
        return entry
    if not watch.usable(now):
        raise Refill("the stock feed is not healthy")
    if stock.deadline is not None and now >= stock.deadline:
        raise Refill("a counted hold expired")
    if entry.generation != watch.generation:
        if entry.filled_at <= (watch.healthy_since or now):
            raise Refill("filled before the feed knew every change")
        entry.checked_stock, entry.generation = -1, watch.generation
    if entry.checked_stock == watch.sequence:
        return entry
    newer = _newer_figures(entry, stock, watch, now)
    entry.checked_stock = watch.sequence
    if not newer:
        return entry
    return _patched(entry, stock, newer, encode)


def _newer_figures(
    entry: Entry, stock: StockShown, watch: StockWatch, now: datetime
) -> dict[int, VariantStock]:
    newer: dict[int, VariantStock] = {}
    for v, figure in stock.figures.items():
        announced = watch.changed.get(v)
        if announced is None or announced <= entry.checked_stock:
            continue  # nothing announced since the figures were last checked
        known = watch.feed.latest(v, now)
        if known is None:
            raise Refill(f"variant {v} changed and its figure is unknown")
        if needs_overlay(figure.version, known.version):
            newer[v] = known
    return newer


def _patched(
    entry: Entry, stock: StockShown, newer: Mapping[int, VariantStock], encode: Encode
) -> Entry:
    figures = dict(stock.figures)
    for v, known in newer.items():
        quantities = overlaid_quantities(figures[v].warehouses, known.by_warehouse)
        if quantities is None:
            raise Refill(f"variant {v} is sold from other warehouses now")
        order = figures[v].warehouses
        figures[v] = Figure(known.available, order, tuple(quantities), known.version)
    shown = replace(stock, figures=figures, deadline=_earliest(stock.deadline, newer.values()))
    if all(_same(stock.figures[v], figures[v]) for v in newer):
        entry.stock = shown  # the same numbers, a newer version: nothing to re-encode
        return entry
    data = entry.data if entry.data is not None else json.loads(entry.body)
    for slot in stock.slots:
        if any(v in newer for v in slot.variants):
            _write(data, slot, figures)
    body = encode(data)
    return replace(entry, body=body, etag=etag_of(body), stock=shown, data=data)


def _same(before: Figure, after: Figure) -> bool:
    return before.available == after.available and before.quantities == after.quantities


def _write(data: Mapping[str, Any], slot: StockSlot, figures: Mapping[int, Figure]) -> None:
    *parents, last = slot.path
    holder = _at(data, tuple(parents))
    if slot.kind == "total":
        holder[last] = sum(figures[v].available for v in slot.variants)
        return
    [variant] = slot.variants
    for item, quantity in zip(holder[last], figures[variant].quantities, strict=True):
        for key in slot.quantity_keys:
            item[key] = quantity


def _earliest(deadline: datetime | None, figures: Iterable[VariantStock]) -> datetime | None:
    instants = [f.valid_until for f in figures if f.valid_until is not None]
    if deadline is not None:
        instants.append(deadline)
    return min(instants) if instants else None
