"""Customer 360: one person's purchases across channels summed up (pure: the facts come in).

A fact is one line of a purchase or a return, from a site order or from another channel.
Spend is net of returns; an order is counted once however many lines it had; a return is
counted as returns, never as an order."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Fact:
    channel: str
    purchase: str  # one order or receipt
    at: datetime
    category: str | None  # the top-level category's name (clothes, shoes…)
    size: str | None
    quantity: int  # negative on a return
    amount_kopecks: int  # negative on a return
    is_return: bool


@dataclass(slots=True)
class ChannelFigures:
    channel: str
    orders: int = 0
    spend_kopecks: int = 0
    returns: int = 0
    first_at: datetime | None = None
    last_at: datetime | None = None


@dataclass(slots=True)
class CategoryFigures:
    category: str
    channel: str
    first_at: datetime | None = None
    last_at: datetime | None = None
    units: int = 0
    sizes: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True, slots=True)
class Summary:
    channels: list[ChannelFigures]
    categories: list[CategoryFigures]
    returns: int
    returned_kopecks: int
    spend_kopecks: int


def _span(first: datetime | None, last: datetime | None, at: datetime) -> tuple[datetime, datetime]:
    return (min(first, at) if first else at, max(last, at) if last else at)


def summarise(facts: Iterable[Fact]) -> Summary:
    """Figures per channel and per (category, channel), in a stable order."""
    channels: dict[str, ChannelFigures] = {}
    categories: dict[tuple[str, str], CategoryFigures] = {}
    seen: set[tuple[str, str, bool]] = set()
    returns, returned = 0, 0
    for fact in sorted(facts, key=lambda f: (f.at, f.purchase)):
        figures = channels.setdefault(fact.channel, ChannelFigures(fact.channel))
        figures.spend_kopecks += fact.amount_kopecks
        first_time = (fact.channel, fact.purchase, fact.is_return) not in seen
        seen.add((fact.channel, fact.purchase, fact.is_return))
        if fact.is_return:
            returned -= fact.amount_kopecks
            returns += first_time
            figures.returns += first_time
            continue
        figures.orders += first_time
        figures.first_at, figures.last_at = _span(figures.first_at, figures.last_at, fact.at)
        if fact.category is not None:
            key = (fact.category, fact.channel)
            cat = categories.setdefault(key, CategoryFigures(fact.category, fact.channel))
            cat.first_at, cat.last_at = _span(cat.first_at, cat.last_at, fact.at)
            cat.units += fact.quantity
            if fact.size:
                cat.sizes[fact.size] += fact.quantity
    return Summary(
        channels=[channels[c] for c in sorted(channels)],
        categories=[categories[k] for k in sorted(categories)],
        returns=returns,
        returned_kopecks=returned,
        spend_kopecks=sum(c.spend_kopecks for c in channels.values()),
    )
