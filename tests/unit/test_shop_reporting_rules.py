"""A shop's figures: what became of its lines, how fast people answered, decline and timeout
rates over what the shop saw."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from app.domain.errors import DomainError, ErrorCode
from app.domain.reservations import ShopConfirmation
from app.domain.shop_confirmation import DeclineReason
from app.domain.shop_reporting import (
    AskedLine,
    check_instant,
    check_period,
    median_answer_seconds,
    shop_figures,
)

POSTED = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
NO_DECLINES = (
    (DeclineReason.NOT_FOUND, 0),
    (DeclineReason.DEFECT, 0),
    (DeclineReason.KEPT_FOR_CUSTOMER, 0),
    (DeclineReason.OTHER, 0),
)


def confirmed(after_seconds: int, by: str = "U0ANNA") -> AskedLine:
    return AskedLine(
        state=ShopConfirmation.CONFIRMED,
        posted_at=POSTED,
        decided_at=POSTED + timedelta(seconds=after_seconds),
        decided_by=by,
    )


def declined(after_seconds: int, reason: DeclineReason) -> AskedLine:
    return AskedLine(
        state=ShopConfirmation.DECLINED,
        posted_at=POSTED,
        decided_at=POSTED + timedelta(seconds=after_seconds),
        decided_by="U0BORIS",
        reason=reason,
    )


def timed_out(*, shown: bool = True) -> AskedLine:
    return AskedLine(
        state=ShopConfirmation.TIMED_OUT,
        posted_at=POSTED if shown else None,
        decided_at=POSTED + timedelta(minutes=20),
        decided_by=None,
    )


WAITING = AskedLine(
    state=ShopConfirmation.REQUESTED, posted_at=POSTED, decided_at=None, decided_by=None
)
WITHDRAWN = AskedLine(
    state=ShopConfirmation.WITHDRAWN,
    posted_at=POSTED,
    decided_at=POSTED + timedelta(minutes=3),
    decided_by=None,
)


def test_every_line_is_counted_once_and_the_rates_are_over_what_the_shop_saw_and_settled() -> None:
    lines = [
        confirmed(60),
        confirmed(90),
        declined(120, DeclineReason.NOT_FOUND),
        declined(30, DeclineReason.DEFECT),
        declined(45, DeclineReason.NOT_FOUND),
        timed_out(),
        timed_out(shown=False),
        WITHDRAWN,
        WAITING,
    ]

    figures = shop_figures(lines=lines, requests=5, open_now=1)

    assert (figures.requests, figures.lines, figures.open_now) == (5, 9, 1)
    assert (figures.confirmed, figures.declined_total, figures.timed_out) == (2, 3, 1)
    assert (figures.not_shown, figures.withdrawn, figures.waiting) == (1, 1, 1)
    assert figures.declined == (
        (DeclineReason.NOT_FOUND, 2),
        (DeclineReason.DEFECT, 1),
        (DeclineReason.KEPT_FOR_CUSTOMER, 0),
        (DeclineReason.OTHER, 0),
    )
    assert (figures.decline_rate, figures.timeout_rate) == (3 / 6, 1 / 6)
    assert figures.median_answer_seconds == 60.0  # of 30, 45, 60, 90, 120


def test_a_shop_with_nothing_settled_has_no_rates_and_no_median() -> None:
    figures = shop_figures(lines=[WAITING, timed_out(shown=False)], requests=2, open_now=1)

    assert (figures.decline_rate, figures.timeout_rate, figures.median_answer_seconds) == (
        None,
        None,
        None,
    )
    assert figures.declined == NO_DECLINES
    assert (figures.waiting, figures.not_shown, figures.timed_out) == (1, 1, 0)


def test_a_shop_never_asked_has_zeros() -> None:
    figures = shop_figures(lines=[], requests=0, open_now=0)

    assert (figures.lines, figures.confirmed, figures.declined_total, figures.timed_out) == (
        0,
        0,
        0,
        0,
    )
    assert figures.declined == NO_DECLINES
    assert figures.decline_rate is None and figures.median_answer_seconds is None


def test_only_a_persons_decisions_count_towards_the_time_to_answer() -> None:
    lines = [confirmed(10), confirmed(50), timed_out(), WITHDRAWN]

    assert median_answer_seconds(lines) == 30.0  # the middle of an even count
    assert median_answer_seconds([timed_out(), WITHDRAWN, WAITING]) is None


def test_every_silent_line_is_a_timeout_when_nobody_answered_anything() -> None:
    figures = shop_figures(lines=[timed_out(), timed_out()], requests=1, open_now=0)

    assert (figures.decline_rate, figures.timeout_rate) == (0.0, 1.0)


def test_a_period_needs_offsets_and_must_run_forwards() -> None:
    check_period(POSTED, POSTED + timedelta(seconds=1))
    cases = [
        (POSTED.replace(tzinfo=None), POSTED, ErrorCode.INVALID_DATETIME, ("since",)),
        (
            POSTED,
            (POSTED + timedelta(days=1)).replace(tzinfo=None),
            ErrorCode.INVALID_DATETIME,
            ("until",),
        ),
        (POSTED, POSTED, ErrorCode.INVALID, ("since",)),
        (POSTED + timedelta(days=1), POSTED, ErrorCode.INVALID, ("since",)),
    ]
    for since, until, code, path in cases:
        with pytest.raises(DomainError) as refused:
            check_period(since, until)
        assert (refused.value.code, tuple(refused.value.path)) == (code, path)


def test_an_instant_with_an_offset_is_kept_as_given() -> None:
    moscow = datetime(2026, 11, 20, 15, 0, tzinfo=timezone(timedelta(hours=3)))
    assert check_instant(moscow, ("since",)) == POSTED
