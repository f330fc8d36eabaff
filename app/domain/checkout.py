"""What a shopper may order: line quantities, what is on sale, drop limits, a cart ready to
become an order, and what the order costs. Pure: the services feed them what they read."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from app.domain.catalog import is_visible
from app.domain.errors import DomainError, ErrorCode

MAX_LINE_QUANTITY = 50

Path = tuple[str | int, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class LineOnSale:
    """A cart line as readiness sees it: is its product on sale now?"""

    published: bool
    release_at: datetime | None  # the drop's release instant; None: no drop


@dataclass(frozen=True, slots=True, kw_only=True)
class PricedLine:
    unit_price: int  # kopecks
    quantity: int


def check_units_to_add(quantity: int, path: Path = ("quantity",)) -> None:
    """Adding to a line adds at least one unit."""
    if quantity < 1:
        raise DomainError(ErrorCode.INVALID_QUANTITY, "add at least 1", path)


def check_line_quantity(
    quantity: int, *, zero_removes: bool = False, path: Path = ("quantity",)
) -> None:
    """A line holds 1 to MAX_LINE_QUANTITY units; where setting 0 removes it, 0 is allowed."""
    lowest = 0 if zero_removes else 1
    if not lowest <= quantity <= MAX_LINE_QUANTITY:
        raise DomainError(
            ErrorCode.INVALID_QUANTITY, f"quantity must be {lowest}..{MAX_LINE_QUANTITY}", path
        )


def check_on_sale(
    *, published: bool, release_at: datetime | None, now: datetime, path: Path
) -> None:
    """A withdrawn product is not found; a drop that has not started is not released yet."""
    if not published:
        raise DomainError(ErrorCode.NOT_FOUND, "no such variant", path)
    if not is_visible(published=True, release_at=release_at, now=now):
        when = release_at.isoformat() if release_at else ""
        raise DomainError(ErrorCode.NOT_RELEASED, f"on sale from {when}", path)


def check_purchase_limit(
    limit: int | None, already_bought: int, wanted: int, path: Path = ()
) -> None:
    """A drop may cap how many of one variant one shopper buys (account, contact or cart)."""
    if limit is not None and already_bought + wanted > limit:
        left = max(0, limit - already_bought)
        raise DomainError(
            ErrorCode.PURCHASE_LIMIT_EXCEEDED,
            f"at most {limit} per shopper in this drop; {left} left for you",
            path,
        )


def check_ready_to_order(
    *, has_contact: bool, delivery_chosen: bool, lines: Sequence[LineOnSale], now: datetime
) -> None:
    """A cart becomes an order with lines, a way to reach the shopper, a delivery, and every
    line on sale now. `lines` stand in the order the shopper added them (error paths)."""
    if not lines:
        raise DomainError(ErrorCode.EMPTY_CART, "the cart is empty", ("cartToken",))
    if not has_contact:
        raise DomainError(ErrorCode.CONTACT_REQUIRED, "an e-mail or a phone is needed", ("email",))
    if not delivery_chosen:
        raise DomainError(ErrorCode.DELIVERY_REQUIRED, "choose courier or pickup", ("delivery",))
    for index, line in enumerate(lines):
        if not is_visible(published=line.published, release_at=line.release_at, now=now):
            raise DomainError(ErrorCode.NOT_RELEASED, "not on sale now", ("lines", index))


def order_total(lines: Iterable[PricedLine]) -> int:
    """What the lines cost, in kopecks."""
    return sum(line.unit_price * line.quantity for line in lines)
