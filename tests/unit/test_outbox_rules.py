"""Outbox rules: how long retries go on, and what a delivered event keeps."""

from __future__ import annotations

import random
from datetime import timedelta

from app.domain.outbox import SENT, EventKind, RetryPolicy, kept_after_delivery


def test_a_sent_message_keeps_its_recipient_and_template_but_not_its_secret() -> None:
    payload = {
        "guid": "m-1",
        "channel": "email",
        "to": "anna@example.com",
        "template": "password_reset",
        "params": {"link": "https://shop.example/reset-password?token=secret"},
    }
    kept = kept_after_delivery(EventKind.CUSTOMER_MESSAGE, payload)
    assert kept == {**payload, "params": {"link": SENT}}
    assert payload["params"] == {"link": "https://shop.example/reset-password?token=secret"}


def test_events_for_1c_and_retailcrm_are_kept_whole() -> None:
    for kind in (EventKind.ORDER_PLACED, EventKind.CUSTOMER_UPSERTED):
        assert kept_after_delivery(kind, {"guid": "o-1"}) is None


class _Fixed(random.Random):
    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def random(self) -> float:
        return self.value


def _span(policy: RetryPolicy, rng: random.Random) -> timedelta:
    total, attempts = timedelta(), 1
    while (delay := policy.next_delay(attempts, None, rng)) is not None:
        total, attempts = total + delay, attempts + 1
    assert attempts == policy.max_attempts
    return total


def test_the_default_retries_span_13_5_to_27_minutes() -> None:
    policy = RetryPolicy()
    assert _span(policy, _Fixed(0.0)) == timedelta(seconds=1623 / 2)
    assert _span(policy, _Fixed(1.0)) == timedelta(seconds=1623)


def test_a_retry_is_never_sooner_than_retry_after() -> None:
    assert RetryPolicy().next_delay(1, 30, _Fixed(1.0)) == timedelta(seconds=30)
    assert RetryPolicy().next_delay(12, 30, _Fixed(1.0)) is None
