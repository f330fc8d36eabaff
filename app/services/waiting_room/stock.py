"""What admission knows of a drop's stock, from the one stock-change stream.

A tick needs the drop's variants (its shape: read once, kept for SHAPE_SECONDS) and their
figures: the stream's (`StockFeed.latest`), else the figures this process last read live and
the stream kept current since (while it stayed healthy: a change after the read is
published, one before is in the read), else one live read for the rest. So a healthy stream
costs no query per tick, an unhealthy one exactly one (never an old figure)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.domain.waiting_room import DropStock, drop_stock
from app.models.catalog import Collection, Variant
from app.services.stock_stream import StockFeed, VariantStock
from app.services.stock_stream.publisher import FigureReader, database_figures

SHAPE_SECONDS = 10.0  # a drop's products are fixed by its release; a change shows this late


@dataclass(frozen=True, slots=True, kw_only=True)
class DropShape:
    collection_id: int
    release_at: datetime
    variant_ids: tuple[int, ...]  # of its published products


@dataclass(frozen=True, slots=True, kw_only=True)
class DropReading:
    stock: DropStock
    # how late the free units may show a commit made before the reading began: nothing for a
    # live read, the stream's lag for a streamed figure
    lag: timedelta
    queries: int  # database statements this reading took


class DropShapes:
    """A process's drops: release instant and variants, read at most every SHAPE_SECONDS."""

    def __init__(self, ttl: float = SHAPE_SECONDS) -> None:
        self._ttl = ttl
        self._known: dict[int, tuple[float, DropShape | None]] = {}
        self.queries = 0

    async def get(self, collection_id: int) -> DropShape | None:
        found = self._known.get(collection_id)
        if found is not None and time.monotonic() - found[0] < self._ttl:
            return found[1]
        shape = await self._read(collection_id)
        self._known[collection_id] = (time.monotonic(), shape)
        return shape

    async def _read(self, collection_id: int) -> DropShape | None:
        self.queries += 1
        collection = await Collection.get_or_none(id=collection_id)
        if collection is None:
            return None
        self.queries += 1
        ids: list[int] = await Variant.filter(
            product__collection_id=collection_id, product__published=True
        ).values_list("id", flat=True)  # type: ignore[assignment]
        return DropShape(
            collection_id=collection_id,
            release_at=collection.release_at,
            variant_ids=tuple(sorted(ids)),
        )


class DropFigures:
    """The figures admission counts; one per process (with its feed), or one per call."""

    def __init__(
        self,
        feed: StockFeed | None,
        *,
        lag: timedelta = timedelta(seconds=1),
        read: FigureReader = database_figures,
    ) -> None:
        self._feed = feed
        self._lag = lag
        self._read = read if feed is None else feed.read_live
        self._kept: dict[int, VariantStock] = {}  # live reads, kept current by the stream
        self._generation = feed.generation if feed is not None else 0
        self._unsubscribe = feed.on_change(self._offer) if feed is not None else None
        self.queries = 0

    def close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def _offer(self, figure: VariantStock) -> None:
        known = self._kept.get(figure.variant_id)
        if known is not None and figure.version > known.version:
            self._kept[figure.variant_id] = figure

    def _usable(self, variant_id: int, now: datetime) -> VariantStock | None:
        feed = self._feed
        if feed is None or not feed.healthy:
            return None
        if feed.generation != self._generation:  # the stream lost changes: forget ours
            self._kept.clear()
            self._generation = feed.generation
        # at one version, our live read is the newer word on holds (a hold turned into an
        # order writes no stock row, so the stream still names its expiry)
        found = [f for f in (self._kept.get(variant_id), feed.latest(variant_id, now)) if f]
        figure = max(found, key=lambda f: f.version, default=None)
        return figure if figure is not None and figure.is_valid_at(now) else None

    async def reading(self, variant_ids: Sequence[int], now: datetime) -> DropReading:
        """The drop's free and returnable units at `now`: at most one query. Read live: the
        variants the stream cannot vouch for; and, when nothing looks free, those whose figure
        names a live hold (it may have become an order since: sold out or not is decided on
        the holds as they are)."""
        figures = {v: f for v in variant_ids if (f := self._usable(v, now)) is not None}
        streamed = bool(figures)
        missing = [v for v in variant_ids if v not in figures]
        held = [v for v, f in figures.items() if _holds(f, now)]
        nothing_free = sum(max(0, f.available) for f in figures.values()) <= 0
        due = missing + held if missing or nothing_free else []
        if due:
            self.queries += 1
            read = (await self._read(due, now)).figures
            figures.update(read)
            if self._feed is not None and self._feed.healthy:
                self._kept.update(read)
        stock = drop_stock((f.available, _holds(f, now)) for f in figures.values())
        return DropReading(
            stock=stock,
            lag=self._lag if streamed else timedelta(0),
            queries=1 if due else 0,
        )


def _holds(figure: VariantStock, now: datetime) -> bool:
    """The figure counted a cart hold that is live at `now`."""
    return figure.valid_until is not None and now < figure.valid_until


@dataclass(frozen=True, slots=True)
class TickSources:
    """What a tick reads the drop through: a process keeps one (hub.py); a call without one
    reads the shape and the figures from the database each time."""

    shapes: DropShapes
    figures: DropFigures

    @classmethod
    def fresh(cls) -> TickSources:
        return cls(DropShapes(ttl=0.0), DropFigures(None))

    @property
    def queries(self) -> int:
        return self.shapes.queries + self.figures.queries
