"""Outbound records survive the outbox's JSON, including rows an older release wrote."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from app.domain.outbound import PaymentRecord
from app.domain.outbound_json import payment_from_json, to_json
from app.domain.payments import PaymentStatus

CANCELLED = PaymentRecord(
    guid="00000000-0000-4000-8000-000000000001",
    order_guid="7c9e6679-7425-40de-944b-e07fc1f90ae7",
    provider="yookassa",
    provider_payment_id="2d9c3c5e-000f-5000-9000-1a2b3c4d5e6f",
    status=PaymentStatus.CANCELLED,
    amount_kopecks=4990_00,
)


def test_a_payment_record_comes_back_as_it_went_in() -> None:
    paid_at = datetime(2026, 11, 20, 10, tzinfo=UTC)
    paid = replace(CANCELLED, status=PaymentStatus.SUCCEEDED, paid_at=paid_at)

    assert payment_from_json(to_json(paid)) == paid
    assert to_json(CANCELLED)["status"] == "cancelled"


def test_a_payment_written_as_canceled_before_0006_reads_as_cancelled() -> None:
    old_row = to_json(CANCELLED) | {"status": "canceled"}

    assert payment_from_json(old_row) == CANCELLED
