"""What a shopper may order: line quantities, what is on sale, drop limits, a cart ready to
become an order, and what the order costs; who the shopper is as far as the limits that keep
a drop fair can tell. Pure: the services feed them what they read."""

from __future__ import annotations

import hashlib
import ipaddress
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from app.domain.catalog import is_visible
from app.domain.errors import DomainError, ErrorCode

MAX_LINE_QUANTITY = 50
# The first hours after a drop's release, when one unpaid order per shopper is the rule.
DROP_RUSH_HOURS = 24

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


# --- fair under bots ----------------------------------------------------------------------


class CheckoutCall(StrEnum):
    """The checkout calls a bot repeats, each throttled per client address and per device."""

    CREATE_CART = "create-cart"
    CHANGE_CART = "change-cart"  # addToCart and setCartLine: both change what a cart holds
    PLACE_ORDER = "place-order"


def too_many_calls(wait_seconds: int) -> DomainError:
    """Refuse a call beyond its throttle; `retry_after` says when another may go."""
    return DomainError(
        ErrorCode.TOO_MANY_ATTEMPTS,
        f"too many requests from this device or network; try again in {wait_seconds} s",
        (),
        retry_after=wait_seconds,
    )


def parse_device_id(raw: str | None) -> str | None:
    """The storefront's device id (a random UUID it keeps), lower case; anything else, or
    nothing, is no device id."""
    if raw is None or len(raw) != 36:
        return None
    try:
        value = str(uuid.UUID(raw))
    except ValueError:
        return None
    return value if value == raw.lower() else None


def address_scope(ip: str) -> str:
    """What of a client address one subscriber holds: an IPv4 address, an IPv6 /64 (a home or
    a phone gets a whole /64, so one address of it is no one in particular)."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def device_key(device_id: str | None, address: str) -> str:
    """The device as the limits count it: its id, or without one the client's address; kept
    as a digest, so neither the id nor the address is stored or logged in full."""
    seen = f"device:{device_id}" if device_id else f"address:{address_scope(address)}"
    return _digest(seen)


class ShopperKind(StrEnum):
    """The identities a shopper is known by, in the order a refusal names them."""

    ACCOUNT = "account"
    EMAIL = "email"
    PHONE = "phone"
    DEVICE = "device"


@dataclass(frozen=True, slots=True, kw_only=True)
class Shopper:
    """Who is buying, as far as checkout can tell; each one known identity counts."""

    account_id: int | None = None
    email: str | None = None  # normalised (app/domain/contact.py)
    phone: str | None = None  # E.164
    device: str | None = None  # device_key()


def shopper_keys(shopper: Shopper) -> dict[str, ShopperKind]:
    """A digest per known identity (the key a claim is stored under) and what it stands for."""
    known = [
        (ShopperKind.ACCOUNT, None if shopper.account_id is None else str(shopper.account_id)),
        (ShopperKind.EMAIL, shopper.email),
        (ShopperKind.PHONE, shopper.phone),
        (ShopperKind.DEVICE, shopper.device),
    ]
    return {_digest(f"{kind.value}:{value}"): kind for kind, value in known if value}


def in_drop_rush(release_at: datetime | None, now: datetime, rush: timedelta) -> bool:
    """Is a collection's drop in its first hours, when the one-unpaid-order rule holds?"""
    return release_at is not None and release_at <= now < release_at + rush


_UNPAID_WITH = {
    ShopperKind.ACCOUNT: "your account",
    ShopperKind.EMAIL: "this e-mail",
    ShopperKind.PHONE: "this phone",
    ShopperKind.DEVICE: "this device",
}


def unpaid_order_exists(kind: ShopperKind, path: Path) -> DomainError:
    """One unpaid order per shopper in a drop: pay or cancel the other one first."""
    return DomainError(
        ErrorCode.UNPAID_ORDER_EXISTS,
        f"an order placed with {_UNPAID_WITH[kind]} is waiting for payment in this drop; "
        "pay or cancel it first",
        path,
    )


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]
