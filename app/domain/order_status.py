"""Order status reported back by 1C and RetailCRM: forward only, repeats change nothing.

What the other systems report (shipped, delivered, returned, cancelled by the brand) is judged
here against where the order stands. The order's life itself (which moves exist) is
`app/domain/orders.py`; this module decides what one report means: a move, a repeat (nothing
to do), or a refusal (backward, or a move the order's life has not got).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from app.domain.errors import DomainError, ErrorCode
from app.domain.orders import OrderStatus, can_move


class Reported(StrEnum):
    """What 1C (or a manager in RetailCRM) says happened to an order."""

    SHIPPED = "shipped"
    DELIVERED = "delivered"
    RETURNED = "returned"  # in part or in full: the lines say which units
    CANCELLED = "cancelled"  # by the brand, with a reason


# How far along its life an order is: a report of a status at or behind this is old news.
_RANK: dict[OrderStatus, int] = {
    OrderStatus.AWAITING_PAYMENT: 0,
    OrderStatus.PAID: 1,
    OrderStatus.READY_FOR_SHIPPING: 2,
    OrderStatus.SHIPPED: 3,
    OrderStatus.DELIVERED: 4,
    OrderStatus.PARTLY_RETURNED: 5,
    OrderStatus.RETURNED: 6,
    OrderStatus.CANCELLED: 7,
}


class Verdict(StrEnum):
    MOVE = "move"  # the order moves to the reported status
    REPEAT = "repeat"  # it is there already: nothing changes


def judge(current: OrderStatus, target: OrderStatus) -> Verdict:
    """A reported status against the order's: a move, a repeat, or a typed refusal
    (INVALID_TRANSITION) for a move backward or one the order's life has not got."""
    if current is target:
        return Verdict.REPEAT
    if can_move(current, target):
        return Verdict.MOVE
    way = "back" if _RANK[target] < _RANK[current] else "on"
    raise DomainError(
        ErrorCode.INVALID_TRANSITION,
        f"an order {current.value} cannot move {way} to {target.value}",
        ("status",),
    )


def judge_return(current: OrderStatus) -> None:
    """Units come back only from an order that went out (shipped, delivered, partly returned)."""
    if current not in (OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.PARTLY_RETURNED):
        raise DomainError(
            ErrorCode.INVALID_TRANSITION,
            f"an order {current.value} has not been shipped: nothing can come back",
            ("status",),
        )


@dataclass(frozen=True, slots=True)
class ReturnOutcome:
    status: OrderStatus  # PARTLY_RETURNED or RETURNED
    refund_kopecks: int  # what the returned units were sold for


def settle_return(
    *,
    sold: Mapping[int, tuple[int, int]],
    returned_before: Mapping[int, int],
    returning: Mapping[int, int] | None,
) -> tuple[dict[int, int], ReturnOutcome]:
    """Which units come back and what that means: `sold` is (units served, unit price) per
    variant id, `returned_before` the units already back, `returning` this return's units per
    variant (None: everything still out). Returns the units of this return and the outcome;
    a variant the order has not got, or more units than are still out, is refused at
    `returnLines`."""
    out = {v: units - returned_before.get(v, 0) for v, (units, _) in sold.items()}
    wanted = {v: n for v, n in out.items() if n > 0} if returning is None else dict(returning)
    for variant, units in wanted.items():
        if units <= 0 or units > out.get(variant, 0):
            raise DomainError(
                ErrorCode.INVALID_QUANTITY,
                f"{units} units of a variant of which {out.get(variant, 0)} are out",
                ("returnLines",),
            )
    if not wanted:
        raise DomainError(ErrorCode.INVALID_QUANTITY, "nothing is left to return", ("returnLines",))
    everything = all(wanted.get(v, 0) == n for v, n in out.items())
    refund = sum(units * sold[v][1] for v, units in wanted.items())
    status = OrderStatus.RETURNED if everything else OrderStatus.PARTLY_RETURNED
    return wanted, ReturnOutcome(status, refund)


SHOPPER_TEMPLATES: Mapping[OrderStatus, str] = {
    # the changes a shopper is told of (a message through the outbox), by template
    OrderStatus.SHIPPED: "order_shipped",
    OrderStatus.DELIVERED: "order_delivered",
    OrderStatus.PARTLY_RETURNED: "order_refunded",
    OrderStatus.RETURNED: "order_refunded",
    OrderStatus.CANCELLED: "order_cancelled_by_brand",
}
