"""Shared plumbing: Retry-After in both forms, and calls spaced to the rate limit."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
import pytest

from app.integrations.http import RateLimiter, retry_after, retryable_answer

NOW = datetime(2025, 12, 1, 12, 0, tzinfo=UTC)


def _answer(status: int, headers: dict[str, str] | None = None) -> httpx.Response:
    request = httpx.Request("POST", "http://crm.test/api/v5/orders/create")
    return httpx.Response(status, headers=headers, text="busy", request=request)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("7", 7.0),
        ("1.5", 1.5),
        ("Mon, 01 Dec 2025 12:00:30 GMT", 30.0),
        ("Mon, 01 Dec 2025 11:00:00 GMT", 0.0),
        ("soon", None),
    ],
)
def test_retry_after_is_read_as_seconds_or_a_date(header: str, seconds: float | None) -> None:
    assert retry_after(_answer(503, {"Retry-After": header}), now=NOW) == seconds


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_busy_and_failing_answers_are_retryable(status: int) -> None:
    error = retryable_answer(_answer(status, {"Retry-After": "2"}))
    assert error is not None and error.retry_after == 2.0


@pytest.mark.parametrize("status", [200, 400, 401, 404, 409, 422])
def test_other_answers_are_not(status: int) -> None:
    assert retryable_answer(_answer(status)) is None


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds


async def test_calls_are_spaced_evenly_in_arrival_order() -> None:
    time = FakeTime()
    limiter = RateLimiter(10, clock=time.clock, sleep=time.sleep)
    done: list[int] = []

    async def call(n: int) -> None:
        await limiter.acquire()
        done.append(n)

    await asyncio.gather(*(call(n) for n in range(5)))
    assert (done, time.sleeps) == ([0, 1, 2, 3, 4], [0.1, 0.1, 0.1, 0.1])


async def test_a_call_after_a_pause_goes_at_once() -> None:
    time = FakeTime()
    limiter = RateLimiter(10, clock=time.clock, sleep=time.sleep)
    await limiter.acquire()
    time.now += 5
    await limiter.acquire()
    assert time.sleeps == []


def test_a_rate_must_be_positive() -> None:
    with pytest.raises(ValueError):
        RateLimiter(0)
