"""What a delivered event keeps: a message's secret does not outlive its sending."""

from __future__ import annotations

from app.domain.outbox import SENT, EventKind, kept_after_delivery


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
