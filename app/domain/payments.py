"""Payment rules: how a provider's report moves our payment, what an order does with the
money, and how much may still be refunded. Pure: the services feed them what they read."""

from __future__ import annotations

from enum import StrEnum

from app.domain.errors import DomainError, ErrorCode
from app.domain.orders import OrderStatus


class PaymentStatus(StrEnum):
    PENDING = "pending"
    WAITING_FOR_CAPTURE = "waiting_for_capture"
    SUCCEEDED = "succeeded"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"


class RefundStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    CANCELLED = "cancelled"


# Where a payment may go from where it is. Nothing goes back: a late or repeated report of an
# earlier state (notifications arrive in any order) changes nothing.
_MOVES: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    PaymentStatus.PENDING: frozenset(
        {
            PaymentStatus.WAITING_FOR_CAPTURE,
            PaymentStatus.SUCCEEDED,
            PaymentStatus.CANCELLED,
            PaymentStatus.REFUNDED,
        }
    ),
    PaymentStatus.WAITING_FOR_CAPTURE: frozenset(
        {PaymentStatus.SUCCEEDED, PaymentStatus.CANCELLED, PaymentStatus.REFUNDED}
    ),
    PaymentStatus.SUCCEEDED: frozenset({PaymentStatus.REFUNDED}),
    PaymentStatus.CANCELLED: frozenset(),
    PaymentStatus.REFUNDED: frozenset(),
}

HOLDING = frozenset({PaymentStatus.WAITING_FOR_CAPTURE, PaymentStatus.SUCCEEDED})


def reported_status(reported: PaymentStatus, amount: int, refunded: int) -> PaymentStatus:
    """Our status for what the provider reports: a succeeded payment refunded in full is
    `refunded` (providers keep calling it succeeded)."""
    if reported is PaymentStatus.SUCCEEDED and amount > 0 and refunded >= amount:
        return PaymentStatus.REFUNDED
    return reported


def next_status(current: PaymentStatus, reported: PaymentStatus) -> PaymentStatus | None:
    """The status to move to, or None when the report is old news or a repeat."""
    return reported if reported in _MOVES[current] else None


class Settlement(StrEnum):
    PAYS_ORDER = "pays_order"  # the order was waiting for this money
    SURPLUS = "surplus"  # cancelled order or already paid: give the money back by itself
    NOTHING = "nothing"


def settle(*, order_status: OrderStatus, payment: PaymentStatus, other_holds: bool) -> Settlement:
    """What a payment that has just come to hold money means for its order.

    `other_holds`: another payment of the order already holds money for it.
    """
    if payment not in HOLDING:
        return Settlement.NOTHING
    if order_status is OrderStatus.AWAITING_PAYMENT and not other_holds:
        return Settlement.PAYS_ORDER
    return Settlement.SURPLUS


def check_capture(amount: int | None, capturable: int) -> None:
    """A capture takes all that may be captured or less, never more; with nothing left to take
    (every unit became unavailable) there is nothing to capture: the payment is voided instead."""
    if capturable <= 0:
        raise DomainError(
            ErrorCode.INVALID, "nothing is left to capture: void the payment", ("amount",)
        )
    if amount is not None and not 0 < amount <= capturable:
        raise DomainError(
            ErrorCode.INVALID, f"capture 1..{capturable} kopecks (all when omitted)", ("amount",)
        )


def check_refund(amount: int, paid: int, refunded: int, in_flight: int) -> None:
    """A refund is positive and, with the refunds already made or under way, at most what was
    paid."""
    left = paid - refunded - in_flight
    if amount <= 0:
        raise DomainError(ErrorCode.INVALID, "a refund is a positive amount", ("amount",))
    if amount > left:
        raise DomainError(
            ErrorCode.REFUND_TOO_LARGE,
            f"at most {left} kopecks can still be refunded on this payment",
            ("amount",),
        )
