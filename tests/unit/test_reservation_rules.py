"""When reservations count, and when 1C's figure already counts them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.domain.contact import normalise_email, normalise_phone
from app.domain.errors import DomainError, ErrorCode
from app.domain.orders import OrderStatus, check_move
from app.domain.reservations import (
    hold_counts,
    reconciled_by_snapshot,
    reconciled_on_registration,
)

T = datetime(2026, 12, 1, 7, tzinfo=UTC)
S = timedelta(seconds=1)


def test_a_hold_stops_counting_at_its_expiry_instant() -> None:
    assert hold_counts(T, T - S) and not hold_counts(T, T) and hold_counts(None, T)


def test_a_figure_counts_reservations_registered_at_or_before_it() -> None:
    assert reconciled_by_snapshot(T, T) and reconciled_by_snapshot(T - S, T)
    assert not reconciled_by_snapshot(T + S, T)
    assert not reconciled_by_snapshot(None, T)  # 1C has not registered it yet


def test_a_late_registration_is_counted_by_a_newer_figure_already_held() -> None:
    assert reconciled_on_registration(T, T + S)
    assert not reconciled_on_registration(T, T - S)
    assert not reconciled_on_registration(T, None)


def test_order_moves() -> None:
    check_move(OrderStatus.AWAITING_PAYMENT, OrderStatus.PAID)
    with pytest.raises(DomainError) as error:
        check_move(OrderStatus.CANCELLED, OrderStatus.PAID)
    assert error.value.code is ErrorCode.INVALID_TRANSITION


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("8 (916) 123-45-67", "+79161234567"),
        ("9161234567", "+79161234567"),
        ("+7 916 123 45 67", "+79161234567"),
        ("+44 20 7946 0958", "+442079460958"),
    ],
)
def test_phones_are_stored_as_e164(raw: str, e164: str) -> None:
    assert normalise_phone(raw) == e164


def test_bad_contacts_are_refused() -> None:
    assert normalise_email(" Anna@Example.COM ") == "anna@example.com"
    for bad in ["anna", "a@b", "a b@c.d"]:
        with pytest.raises(DomainError) as email:
            normalise_email(bad)
        assert (email.value.code, tuple(email.value.path)) == (ErrorCode.INVALID, ("email",))
    with pytest.raises(DomainError) as phone:
        normalise_phone("12")
    assert (phone.value.code, tuple(phone.value.path)) == (ErrorCode.INVALID, ("phone",))
