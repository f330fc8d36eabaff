"""The order's life: its states, how it is delivered, and the moves between them."""

from __future__ import annotations

from enum import StrEnum

from app.domain.errors import DomainError, ErrorCode


class DeliveryKind(StrEnum):
    COURIER = "courier"
    PICKUP = "pickup"


class OrderStatus(StrEnum):
    AWAITING_PAYMENT = "awaiting_payment"
    PAID = "paid"
    # every shop asked to confirm a line has answered (or the line moved on): ship it. An order
    # served only from the online warehouse is ready as soon as it is paid and stays PAID.
    READY_FOR_SHIPPING = "ready_for_shipping"
    CANCELLED = "cancelled"
    # reported back by 1C or RetailCRM (app/domain/order_status.py): forward only
    SHIPPED = "shipped"  # handed to the carrier (or to the shopper at a pickup shop)
    DELIVERED = "delivered"
    PARTLY_RETURNED = "partly_returned"  # some units came back (and were refunded)
    RETURNED = "returned"  # every unit came back


_MOVES: dict[OrderStatus, set[OrderStatus]] = {
    OrderStatus.AWAITING_PAYMENT: {OrderStatus.PAID, OrderStatus.CANCELLED},
    # cancelled only when the money that paid it is given back, or nothing is left to ship
    OrderStatus.PAID: {
        OrderStatus.READY_FOR_SHIPPING,
        OrderStatus.CANCELLED,
        OrderStatus.SHIPPED,
    },
    OrderStatus.READY_FOR_SHIPPING: {OrderStatus.CANCELLED, OrderStatus.SHIPPED},
    OrderStatus.CANCELLED: set(),
    # a courier's try-on may end in a partial buyout or a refusal without a "delivered" first
    OrderStatus.SHIPPED: {
        OrderStatus.DELIVERED,
        OrderStatus.PARTLY_RETURNED,
        OrderStatus.RETURNED,
    },
    OrderStatus.DELIVERED: {OrderStatus.PARTLY_RETURNED, OrderStatus.RETURNED},
    OrderStatus.PARTLY_RETURNED: {OrderStatus.RETURNED},
    OrderStatus.RETURNED: set(),
}

# The goods left us (the closing receipt goes when the order ships): from here a receipt is a
# settlement, a full payment; before, the money the shopper paid is a prepayment (54-FZ).
_HANDED_OVER = frozenset(
    {OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.PARTLY_RETURNED, OrderStatus.RETURNED}
)


def handed_over(status: OrderStatus) -> bool:
    """Whether an order in `status` has been handed over (its receipts settle, not prepay)."""
    return status in _HANDED_OVER


def can_move(current: OrderStatus, target: OrderStatus) -> bool:
    return target in _MOVES[current]


def check_move(current: OrderStatus, target: OrderStatus) -> None:
    """Refuse a status change the order's life does not allow."""
    if not can_move(current, target):
        raise DomainError(
            ErrorCode.INVALID_TRANSITION, f"an order {current.value} cannot become {target.value}"
        )


def check_shopper_may_cancel(current: OrderStatus) -> None:
    """A shopper cancels an order only before paying; a paid order is the shop's to cancel."""
    if current is not OrderStatus.AWAITING_PAYMENT:
        raise DomainError(
            ErrorCode.INVALID_TRANSITION, f"an order {current.value} cannot become cancelled"
        )
