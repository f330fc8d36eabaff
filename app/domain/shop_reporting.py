"""How a shop answers its confirmation requests: counts, the median time to answer, the
decline and timeout rates. Pure: the reporting service feeds it the lines it read."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from app.domain.errors import DomainError, ErrorCode
from app.domain.reservations import ShopConfirmation
from app.domain.shop_confirmation import DeclineReason


@dataclass(frozen=True, slots=True, kw_only=True)
class AskedLine:
    """One line a shop was asked about, as stored."""

    state: ShopConfirmation  # REQUESTED, CONFIRMED, DECLINED, TIMED_OUT or WITHDRAWN
    posted_at: datetime | None  # when Slack showed its request; None: never shown
    decided_at: datetime | None
    decided_by: str | None  # the Slack user; None when nobody answered
    reason: DeclineReason | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ShopFigures:
    """One shop's answers over a period.

    The lines partition as confirmed + declined + timed_out + not_shown + withdrawn + waiting.
    Rates are over the lines the shop saw and settled (confirmed + declined + timed_out), None
    when there are none: a request Slack never showed (no channel, Slack down, the channel
    refused) is not the shop's silence, nor is an order cancelled before anyone answered.
    """

    requests: int
    lines: int
    confirmed: int
    declined: tuple[tuple[DeclineReason, int], ...]  # every reason, in the enum's order
    timed_out: int  # shown in Slack, nobody answered before the deadline
    not_shown: int  # moved on because Slack never showed the request
    withdrawn: int  # the order was cancelled before anyone answered
    waiting: int  # nobody has decided yet
    median_answer_seconds: float | None  # decided_at − posted_at over lines a person decided
    decline_rate: float | None
    timeout_rate: float | None
    open_now: int  # requests not closed at the moment of reading, whenever created

    @property
    def declined_total(self) -> int:
        return sum(count for _, count in self.declined)


def shop_figures(*, lines: Iterable[AskedLine], requests: int, open_now: int) -> ShopFigures:
    """Sum up one shop's lines: what happened to each, how fast people answered, the rates."""
    asked = list(lines)
    reasons = Counter(line.reason for line in asked if line.state is ShopConfirmation.DECLINED)
    confirmed = _count(asked, ShopConfirmation.CONFIRMED)
    declined = sum(reasons.values())
    timed_out = sum(1 for line in asked if _timed_out(line) and line.posted_at is not None)
    settled = confirmed + declined + timed_out
    return ShopFigures(
        requests=requests,
        lines=len(asked),
        confirmed=confirmed,
        declined=tuple((reason, reasons[reason]) for reason in DeclineReason),
        timed_out=timed_out,
        not_shown=sum(1 for line in asked if _timed_out(line) and line.posted_at is None),
        withdrawn=_count(asked, ShopConfirmation.WITHDRAWN),
        waiting=_count(asked, ShopConfirmation.REQUESTED),
        median_answer_seconds=median_answer_seconds(asked),
        decline_rate=_share(declined, settled),
        timeout_rate=_share(timed_out, settled),
        open_now=open_now,
    )


def median_answer_seconds(lines: Iterable[AskedLine]) -> float | None:
    """Give the median seconds from the post to a person's decision; None if nobody decided."""
    seconds = [
        max(0.0, (line.decided_at - line.posted_at).total_seconds())
        for line in lines
        if line.decided_by is not None
        and line.decided_at is not None
        and line.posted_at is not None
    ]
    return float(statistics.median(seconds)) if seconds else None


def check_instant(value: datetime, path: tuple[str | int, ...]) -> datetime:
    """Refuse an instant without its offset (INVALID_DATETIME at `path`): whose noon is it?"""
    if value.tzinfo is None or value.utcoffset() is None:
        raise DomainError(
            ErrorCode.INVALID_DATETIME, "give the offset, e.g. 2026-11-20T12:00:00+03:00", path
        )
    return value


def check_period(since: datetime, until: datetime) -> None:
    """Refuse a period whose ends lack an offset or that does not run forwards."""
    check_instant(since, ("since",))
    check_instant(until, ("until",))
    if since >= until:
        raise DomainError(ErrorCode.INVALID, "since must be before until", ("since",))


def _count(lines: list[AskedLine], state: ShopConfirmation) -> int:
    return sum(1 for line in lines if line.state is state)


def _timed_out(line: AskedLine) -> bool:
    return line.state is ShopConfirmation.TIMED_OUT


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None
