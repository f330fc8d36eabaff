"""The order's life: states, the moves between them, and what a shopper may order."""

from __future__ import annotations

from enum import StrEnum

from app.domain.errors import DomainError, ErrorCode

MAX_LINE_QUANTITY = 50


class DeliveryKind(StrEnum):
    COURIER = "courier"
    PICKUP = "pickup"


class OrderStatus(StrEnum):
    AWAITING_PAYMENT = "awaiting_payment"
    PAID = "paid"
    CANCELLED = "cancelled"


_MOVES: dict[OrderStatus, set[OrderStatus]] = {
    OrderStatus.AWAITING_PAYMENT: {OrderStatus.PAID, OrderStatus.CANCELLED},
    OrderStatus.PAID: {OrderStatus.CANCELLED},  # only when the money that paid it is given back
    OrderStatus.CANCELLED: set(),
}


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


def check_line_quantity(quantity: int, path: tuple[str | int, ...] = ("quantity",)) -> None:
    if not 1 <= quantity <= MAX_LINE_QUANTITY:
        raise DomainError(
            ErrorCode.INVALID_QUANTITY, f"quantity must be 1..{MAX_LINE_QUANTITY}", path
        )


def check_purchase_limit(
    limit: int | None, already_bought: int, wanted: int, path: tuple[str | int, ...] = ()
) -> None:
    """A drop may cap how many of one variant one shopper buys (account, contact or cart)."""
    if limit is not None and already_bought + wanted > limit:
        left = max(0, limit - already_bought)
        raise DomainError(
            ErrorCode.PURCHASE_LIMIT_EXCEEDED,
            f"at most {limit} per shopper in this drop; {left} left for you",
            path,
        )
