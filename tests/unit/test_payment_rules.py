"""Payment rules: statuses only move forward, money an order does not need is surplus,
refunds and captures stay within what was paid."""

from __future__ import annotations

import pytest

from app.domain.errors import DomainError, ErrorCode
from app.domain.orders import OrderStatus, handed_over
from app.domain.payments import (
    PaymentStatus,
    Settlement,
    check_capture,
    check_refund,
    next_status,
    reported_status,
    settle,
)

P = PaymentStatus


@pytest.mark.parametrize(
    ("current", "reported", "expected"),
    [
        (P.PENDING, P.SUCCEEDED, P.SUCCEEDED),
        (P.PENDING, P.WAITING_FOR_CAPTURE, P.WAITING_FOR_CAPTURE),
        (P.WAITING_FOR_CAPTURE, P.SUCCEEDED, P.SUCCEEDED),
        (P.WAITING_FOR_CAPTURE, P.CANCELLED, P.CANCELLED),
        (P.SUCCEEDED, P.REFUNDED, P.REFUNDED),
        (P.PENDING, P.PENDING, None),  # a repeat
        (P.SUCCEEDED, P.SUCCEEDED, None),
        (P.SUCCEEDED, P.WAITING_FOR_CAPTURE, None),  # an older notification, late
        (P.SUCCEEDED, P.PENDING, None),
        (P.SUCCEEDED, P.CANCELLED, None),  # captured money is refunded, never canceled
        (P.CANCELLED, P.SUCCEEDED, None),
        (P.REFUNDED, P.SUCCEEDED, None),
    ],
)
def test_a_payment_only_moves_forward(
    current: PaymentStatus, reported: PaymentStatus, expected: PaymentStatus | None
) -> None:
    assert next_status(current, reported) == expected


def test_a_succeeded_payment_refunded_in_full_counts_as_refunded() -> None:
    assert reported_status(P.SUCCEEDED, 1000, 1000) is P.REFUNDED
    assert reported_status(P.SUCCEEDED, 1000, 999) is P.SUCCEEDED
    assert reported_status(P.CANCELLED, 1000, 0) is P.CANCELLED


@pytest.mark.parametrize(
    ("order", "payment", "other_holds", "expected"),
    [
        (OrderStatus.AWAITING_PAYMENT, P.SUCCEEDED, False, Settlement.PAYS_ORDER),
        (OrderStatus.AWAITING_PAYMENT, P.WAITING_FOR_CAPTURE, False, Settlement.PAYS_ORDER),
        (OrderStatus.CANCELLED, P.SUCCEEDED, False, Settlement.SURPLUS),
        (OrderStatus.CANCELLED, P.WAITING_FOR_CAPTURE, False, Settlement.SURPLUS),
        (OrderStatus.PAID, P.SUCCEEDED, True, Settlement.SURPLUS),
        (OrderStatus.AWAITING_PAYMENT, P.SUCCEEDED, True, Settlement.SURPLUS),
        (OrderStatus.AWAITING_PAYMENT, P.PENDING, False, Settlement.NOTHING),
        (OrderStatus.CANCELLED, P.CANCELLED, False, Settlement.NOTHING),
    ],
)
def test_money_pays_a_waiting_order_once_and_is_surplus_otherwise(
    order: OrderStatus, payment: PaymentStatus, other_holds: bool, expected: Settlement
) -> None:
    assert settle(order_status=order, payment=payment, other_holds=other_holds) is expected


def test_a_refund_stays_within_what_is_left() -> None:
    check_refund(400, 1000, 500, 100)
    with pytest.raises(DomainError) as too_much:
        check_refund(401, 1000, 500, 100)
    assert (too_much.value.code, too_much.value.path) == (ErrorCode.REFUND_TOO_LARGE, ("amount",))
    with pytest.raises(DomainError) as nothing:
        check_refund(0, 1000, 0, 0)
    assert (nothing.value.code, nothing.value.path) == (ErrorCode.INVALID, ("amount",))


def test_a_capture_takes_at_most_what_was_authorised() -> None:
    check_capture(None, 1000)
    check_capture(1000, 1000)
    for amount in (0, 1001, -5):
        with pytest.raises(DomainError) as refused:
            check_capture(amount, 1000)
        assert (refused.value.code, refused.value.path) == (ErrorCode.INVALID, ("amount",))


def test_with_nothing_left_to_capture_every_capture_is_refused() -> None:
    for amount in (None, 1):
        with pytest.raises(DomainError) as refused:
            check_capture(amount, 0)
        assert (refused.value.code, refused.value.message) == (
            ErrorCode.INVALID,
            "nothing is left to capture: void the payment",
        )


def test_a_receipt_settles_only_from_shipping_on_before_that_it_prepays() -> None:
    assert [s for s in OrderStatus if handed_over(s)] == [
        OrderStatus.SHIPPED,
        OrderStatus.DELIVERED,
        OrderStatus.PARTLY_RETURNED,
        OrderStatus.RETURNED,
    ]
