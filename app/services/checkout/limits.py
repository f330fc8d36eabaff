"""A drop's limits per shopper, counted by every identity checkout knows them by.

A shopper is their cart, their account (and the contacts it has verified), the e-mail and phone
they typed and their device (`app/domain/checkout.py` `device_key`): a limit counts what any of
these already has, so a new cart, a new e-mail or a new tab does not start it again.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import reduce
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q

from app.domain import checkout
from app.domain.orders import OrderStatus
from app.domain.reservations import ReservationState
from app.models.catalog import HoldMode, Variant
from app.models.checkout import Cart, CartLine
from app.models.customers import Customer
from app.models.orders import OrderLine, claim_drops
from app.models.stock import Reservation


async def check_within_purchase_limit(
    variant: Variant,
    cart: Cart,
    wanted: int,
    *,
    device: str | None,
    now: datetime,
    already_ordered: int = 0,
    path: tuple[str | int, ...],
) -> None:
    """Refuse more units of a drop's variant than its per-shopper limit leaves this shopper.

    `already_ordered`: units of the order being placed, which the count already includes.
    The count is made only when the drop has a limit.
    """
    collection = variant.product.collection
    limit = collection.purchase_limit if collection else None
    if limit is None or collection is None:
        return
    who = await _shopper_filters(cart, device)
    bought = await _ordered(variant.id, who) - already_ordered
    if collection.hold_mode == HoldMode.AT_CART:
        bought += await _held_elsewhere(variant.id, cart.id, who, now)
    checkout.check_purchase_limit(limit, bought, wanted, path)


async def _shopper_filters(cart: Cart, device: str | None) -> list[tuple[str, object]]:
    """The shopper's identities as (column, value): a row matching any one is theirs."""
    who: list[tuple[str, object]] = [("cart_id", cart.id)]
    if cart.customer_id is not None:  # signed in: every cart of the account, whatever contact
        who.append(("customer_id", cart.customer_id))
        account = await Customer.get_or_none(id=cart.customer_id)
        if account and account.email and account.email_verified_at is not None:
            who.append(("email", account.email))
        if account and account.phone and account.phone_verified_at is not None:
            who.append(("phone", account.phone))
    if cart.email:
        who.append(("email", cart.email))
    if cart.phone:
        who.append(("phone", cart.phone))
    if device := device or cart.device:
        who.append(("device", device))
    return who


def _any_of(who: list[tuple[str, object]], prefix: str, fields: dict[str, str]) -> Q:
    """Rows (through `prefix`) that match one of the shopper's identities; `fields` renames
    the identities whose column is named otherwise there."""
    matches: list[dict[str, Any]] = [{prefix + fields.get(w, w): value} for w, value in who]
    return reduce(operator.or_, (Q(**match) for match in matches))


# The order's own columns, except for the account: an order is the account's when its cart was.
_ORDER_FIELDS = {"cart_id": "cart_id", "customer_id": "cart__customer_id"}


async def _ordered(variant_id: int, who: list[tuple[str, object]]) -> int:
    """Units of a variant in the shopper's live orders (paid or waiting for payment)."""
    lines = OrderLine.filter(_any_of(who, "order__", _ORDER_FIELDS), variant_id=variant_id)
    lines = lines.exclude(order__status=OrderStatus.CANCELLED)
    return sum(quantity for (quantity,) in await lines.values_list("quantity"))


async def _held_elsewhere(
    variant_id: int, cart_id: int, who: list[tuple[str, object]], now: datetime
) -> int:
    """Units of a variant the shopper's other carts hold now (an AT_CART drop)."""
    holds = Reservation.filter(
        _any_of(who, "cart_line__cart__", {"cart_id": "id"}),
        variant_id=variant_id,
        state=ReservationState.HELD,
        expires_at__gt=now,
    ).exclude(cart_line__cart_id=cart_id)
    return sum(quantity for (quantity,) in await holds.values_list("quantity"))


async def claim_unpaid_order(
    conn: BaseDBAsyncClient,
    *,
    order_id: int,
    cart: Cart,
    lines: Sequence[CartLine],
    device: str | None,
    now: datetime,
    rush: timedelta,
) -> None:
    """Make this order the shopper's one unpaid order in each drop in its rush that its lines
    come from, or refuse (UNPAID_ORDER_EXISTS at the drop's first line) when an order with
    one of the shopper's identities is still waiting for payment there."""
    drops: dict[int, int] = {}  # collection id -> index of its first line, as the cart lists
    for index, line in enumerate(sorted(lines, key=lambda x: x.id)):
        collection = line.variant.product.collection
        if collection and checkout.in_drop_rush(collection.release_at, now, rush):
            drops.setdefault(collection.id, index)
    shopper = checkout.Shopper(
        account_id=cart.customer_id, email=cart.email, phone=cart.phone, device=device
    )
    keys = checkout.shopper_keys(shopper)
    if not drops or not keys:
        return
    wanted = sorted((collection_id, key) for collection_id in drops for key in keys)
    won = await claim_drops(conn, wanted, order_id=order_id, now=now)
    for collection_id, index in sorted(drops.items(), key=lambda d: d[1]):
        for key, kind in keys.items():
            if (collection_id, key) not in won:
                raise checkout.unpaid_order_exists(kind, ("lines", index))
