"""Segments for relevant offers: conditions on a profile's purchases, all of which must hold.

Examples the brand asked for, as conditions:
- bought clothes online but shoes only in shops: Bought(SITE, clothes), Bought(SHOP, shoes),
  Bought(every channel but SHOP, shoes, negate=True);
- bought from a given drop: Bought(any channel, collection=<drop>);
- lapsed for N days: Lapsed(N); spend bands: SpendBand(min, max)."""

from __future__ import annotations

from dataclasses import dataclass

from app.domain.errors import DomainError, ErrorCode
from app.domain.identity import Channel

MAX_RULES = 10
MAX_DAYS = 3650


@dataclass(frozen=True, slots=True)
class Bought:
    channels: tuple[Channel, ...] = ()  # empty: any channel
    category: str | None = None  # a category's slug: it and everything under it
    collection: str | None = None  # a drop's slug
    negate: bool = False  # never bought so


@dataclass(frozen=True, slots=True)
class Lapsed:
    days: int  # no purchase in the last `days` days (but one before)


@dataclass(frozen=True, slots=True)
class SpendBand:
    min_kopecks: int | None = None  # inclusive
    max_kopecks: int | None = None  # exclusive


Rule = Bought | Lapsed | SpendBand


@dataclass(frozen=True, slots=True)
class Segment:
    rules: tuple[Rule, ...]


def check_segment(segment: Segment) -> Segment:
    """A segment the database can answer quickly, or a typed error naming the bad rule."""
    if not 1 <= len(segment.rules) <= MAX_RULES:
        raise DomainError(ErrorCode.INVALID, f"1..{MAX_RULES} rules", ("rules",))
    for n, rule in enumerate(segment.rules):
        if isinstance(rule, Lapsed) and not 1 <= rule.days <= MAX_DAYS:
            raise DomainError(ErrorCode.INVALID, f"days: 1..{MAX_DAYS}", ("rules", n, "days"))
        if isinstance(rule, SpendBand):
            low, high = rule.min_kopecks, rule.max_kopecks
            if (
                low is None
                and high is None
                or (low or 0) < 0
                or (high is not None and high <= (low or 0))
            ):
                raise DomainError(ErrorCode.INVALID, "0 ≤ min < max", ("rules", n))
    return segment
