"""Each pytest-xdist worker gets a redis database of its own (tests/infra.py)."""

from __future__ import annotations

import pytest

from tests.infra import worker_redis_url


def _as_worker(monkeypatch: pytest.MonkeyPatch, index: int, count: int) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER", f"gw{index}")
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", str(count))


def test_a_plain_run_uses_the_database_it_is_given_or_the_last(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    monkeypatch.delenv("PYTEST_XDIST_WORKER_COUNT", raising=False)
    assert worker_redis_url("redis://127.0.0.1:6379/8") == "redis://127.0.0.1:6379/8"
    assert worker_redis_url(None) == "redis://127.0.0.1:6379/15"


def test_workers_count_up_from_the_given_database_or_take_the_last_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    urls = []
    for index in (0, 1):
        _as_worker(monkeypatch, index, 2)
        urls.append((worker_redis_url("redis://:secret@redis.test:6380/8"), worker_redis_url(None)))
    assert urls == [
        ("redis://:secret@redis.test:6380/8", "redis://127.0.0.1:6379/14"),
        ("redis://:secret@redis.test:6380/9", "redis://127.0.0.1:6379/15"),
    ]
    _as_worker(monkeypatch, 1, 2)
    assert worker_redis_url("redis://redis.test") == "redis://redis.test/1"  # no number: 0


def test_a_worker_past_database_15_is_refused_not_wrapped(monkeypatch: pytest.MonkeyPatch) -> None:
    _as_worker(monkeypatch, 1, 2)
    with pytest.raises(RuntimeError, match=r"databases 15\.\.16 .* only 0\.\.15"):
        worker_redis_url("redis://127.0.0.1:6379/15")
