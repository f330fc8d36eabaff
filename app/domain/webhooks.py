"""Partners' webhooks: which events exist, who may hear them, where they may go, how they are
signed, and when a failing subscription is paused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from app.domain.access import Scope
from app.domain.errors import DomainError, ErrorCode
from app.domain.outbox import EventKind

# The shape of `data` in every event; a breaking change of any payload gets a new version.
API_VERSION = "2026-11-01"
SIGNATURE_SCHEME = "v1"
SECRET_PREFIX = "whsec_"
MAX_URL_LENGTH = 2000
SIGNATURE_TOLERANCE = timedelta(minutes=5)  # what the partner guide tells receivers to accept
# A variant's stock changes within this window reach a partner as one event, its figure read
# when it is sent; the margin keeps a change from joining an event about to be read.
STOCK_WINDOW = timedelta(seconds=5)
STOCK_JOIN_MARGIN = timedelta(seconds=1)

# Every event a partner may subscribe to, and the scope its subscriber's token must carry.
EVENT_SCOPES: dict[EventKind, Scope] = {
    EventKind.ORDER_PLACED: Scope.ORDERS_READ,
    EventKind.ORDER_PAID: Scope.ORDERS_READ,
    EventKind.ORDER_STATUS_CHANGED: Scope.ORDERS_READ,
    EventKind.ORDER_CANCELLED: Scope.ORDERS_READ,
    EventKind.STOCK_CHANGED: Scope.STOCK_READ,
    EventKind.PRODUCT_CREATED: Scope.CATALOG_READ,
    EventKind.PRODUCT_UPDATED: Scope.CATALOG_READ,
    EventKind.PRODUCT_WITHDRAWN: Scope.CATALOG_READ,
    EventKind.COLLECTION_RELEASED: Scope.CATALOG_READ,
    EventKind.LOOK_PUBLISHED: Scope.CATALOG_READ,
}
PARTNER_EVENTS = tuple(EVENT_SCOPES)
ORDER_EVENTS = frozenset(k for k, s in EVENT_SCOPES.items() if s is Scope.ORDERS_READ)


# What a partner's token may carry: reading, and its own subscriptions; never writes or admin.
PARTNER_SCOPES = frozenset(
    {Scope.CATALOG_READ, Scope.STOCK_READ, Scope.ORDERS_READ, Scope.WEBHOOKS_MANAGE}
)
MAX_PARTNER_NAME = 200


def check_partner_scopes(scopes: Iterable[Scope]) -> list[Scope]:
    """A partner token's scopes: at least one, each one partners may hold."""
    chosen = sorted(set(scopes))
    if not chosen:
        raise DomainError(ErrorCode.INVALID, "give a partner token at least one scope", ("scopes",))
    foreign = [s.value for s in chosen if s not in PARTNER_SCOPES]
    if foreign:
        allowed = ", ".join(sorted(s.value for s in PARTNER_SCOPES))
        raise DomainError(
            ErrorCode.INVALID,
            f"not for partners: {', '.join(foreign)} (allowed: {allowed})",
            ("scopes",),
        )
    return chosen


def check_partner_name(name: str) -> str:
    clean = name.strip()
    if not clean or len(clean) > MAX_PARTNER_NAME:
        raise DomainError(ErrorCode.INVALID, f"1..{MAX_PARTNER_NAME} characters", ("name",))
    return clean


class SubscriptionState(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"  # nothing is sent (events are still recorded) until it is resumed


class Entity(StrEnum):
    """What an event is about: its events reach a subscription in order."""

    ORDER = "order"
    VARIANT = "variant"
    PRODUCT = "product"
    COLLECTION = "collection"
    LOOK = "look"


def check_events(
    events: Sequence[EventKind], may: frozenset[Scope], path: tuple[str | int, ...] = ("events",)
) -> list[EventKind]:
    """The events a subscription asks for, each allowed by the caller's scopes (admin: all)."""
    if not events:
        raise DomainError(ErrorCode.INVALID, "subscribe to at least one event", path)
    for index, kind in enumerate(events):
        scope = EVENT_SCOPES.get(kind)
        if scope is None:
            raise DomainError(ErrorCode.INVALID, f"{kind.value} is not a partner event", path)
        if scope not in may and Scope.ADMIN not in may:
            raise DomainError(
                ErrorCode.INVALID,
                f"{kind.value} needs a token with the {scope.value} scope",
                (*path, index),
            )
    return sorted(set(events), key=PARTNER_EVENTS.index)


def product_event(was_visible: bool | None, visible: bool) -> EventKind | None:
    """What partners hear of a product written by 1C: only what shoppers can see (a product of
    a drop that has not started is nobody's business yet). `was_visible` None: it is new."""
    if visible:
        return EventKind.PRODUCT_UPDATED if was_visible else EventKind.PRODUCT_CREATED
    return EventKind.PRODUCT_WITHDRAWN if was_visible else None


def matches_filter(collection_guid: str | None, about: Iterable[str | None]) -> bool:
    """A subscription filtered by a collection hears only of what belongs to it (an order: if
    one of its lines does)."""
    return collection_guid is None or collection_guid in set(about)


def status_events(paid: bool, cancelled: bool) -> list[EventKind]:
    """What partners hear of an order's status change: always the change, and its meaning."""
    kinds = [EventKind.ORDER_STATUS_CHANGED]
    if paid:
        kinds.append(EventKind.ORDER_PAID)
    if cancelled:
        kinds.append(EventKind.ORDER_CANCELLED)
    return kinds


# --- where an event may be sent ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TargetUrl:
    url: str
    https: bool
    host: str  # lower case, without brackets for IPv6
    port: int


IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def check_target_url(
    url: str, *, require_https: bool, allow_loopback: bool, path: tuple[str | int, ...] = ("url",)
) -> TargetUrl:
    """An absolute http(s) URL with a host, no credentials and no fragment; an address written
    in it must be one the address rule allows (a name is checked once resolved)."""
    text = url.strip()
    refused = DomainError(ErrorCode.INVALID, "the URL must be https://host/path", path)
    if not text or len(text) > MAX_URL_LENGTH:
        raise DomainError(ErrorCode.INVALID, f"1..{MAX_URL_LENGTH} characters", path)
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise refused from None
    scheme = parts.scheme.lower()
    if scheme not in {"http", "https"} or not parts.hostname:
        raise refused
    if scheme == "http" and require_https:
        raise DomainError(ErrorCode.INVALID, "the URL must use https", path)
    if parts.username is not None or parts.password is not None or parts.fragment:
        raise DomainError(ErrorCode.INVALID, "no credentials or #fragment in the URL", path)
    host = parts.hostname.lower()
    literal = ip_literal(host)
    if literal is not None and (reason := address_refusal(literal, allow_loopback)):
        raise DomainError(ErrorCode.INVALID, f"the URL points at {reason}", path)
    return TargetUrl(text, scheme == "https", host, port or (443 if scheme == "https" else 80))


def ip_literal(host: str) -> IpAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def address_refusal(address: IpAddress, allow_loopback: bool) -> str | None:
    """Why an address is not one a webhook may be sent to (our own network), or None.

    Only global unicast addresses are allowed: loopback, private, shared (CGNAT), link-local
    (cloud metadata), multicast, reserved and unspecified ones are refused, also when an IPv6
    address carries an IPv4 one. `allow_loopback` (dev and tests) lets 127.0.0.0/8 and ::1 in.
    """
    if isinstance(address, ipaddress.IPv6Address):
        carried = address.ipv4_mapped or address.sixtofour or _carried(address)
        if carried is not None:
            return address_refusal(carried, allow_loopback)
    if address.is_loopback:
        return None if allow_loopback else "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if not address.is_global:
        return "a private or reserved address"
    return None


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # a NAT64 gateway reaches the IPv4 inside


def _carried(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    teredo = address.teredo
    return teredo[1] if teredo else None


def refused_among(addresses: Iterable[IpAddress], allow_loopback: bool) -> str | None:
    """The first reason any of a name's addresses is refused: every one must be allowed, or
    a name with a public and a private address would let the connection pick the private."""
    for address in addresses:
        if (reason := address_refusal(address, allow_loopback)) is not None:
            return f"{reason} ({address})"
    return None


# --- the request -------------------------------------------------------------------------------


def envelope(
    *, event_id: str, kind: EventKind, created_at: datetime, api_version: str, data: Any
) -> dict[str, Any]:
    """The body every event is sent as."""
    return {
        "id": event_id,
        "type": kind.value,
        "createdAt": created_at.isoformat(),
        "apiVersion": api_version,
        "data": data,
    }


def body_bytes(document: dict[str, Any]) -> bytes:
    """The exact bytes sent and signed: compact JSON in UTF-8."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """`v1=` and the hex HMAC-SHA256 of `{timestamp}.{body}` under the subscription's secret."""
    signed = str(timestamp).encode() + b"." + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_SCHEME}={digest}"


def signature_is_valid(
    secret: str, timestamp: str, header: str, body: bytes, now: datetime
) -> bool:
    """What a receiver checks: a fresh timestamp and one matching `v1=` signature (constant
    time). Several signatures may be sent, comma-separated."""
    if not timestamp.isdecimal() or not timestamp.isascii() or len(timestamp) > 12:
        return False
    if abs(now.timestamp() - int(timestamp)) > SIGNATURE_TOLERANCE.total_seconds():
        return False
    expected = signature(secret, int(timestamp), body)
    given = [part.strip() for part in header.split(",")]
    return any(hmac.compare_digest(expected, candidate) for candidate in given)


def subscription_secret(key: str, subscription_id: int, salt: str) -> str:
    """A subscription's signing secret, derived from the server's key and the subscription's
    salt: the database holds the salt, never the secret, and a new salt rotates it."""
    if not key:
        raise ValueError("PARTNER_SECRET_KEY is not set")
    mac = hmac.new(key.encode(), f"{subscription_id}:{salt}".encode(), hashlib.sha256)
    return SECRET_PREFIX + base64.urlsafe_b64encode(mac.digest()).decode().rstrip("=")


# --- order per aggregate -----------------------------------------------------------------------


def partner_aggregate(subscription_id: int, entity: Entity, guid: str) -> str:
    """Events about one thing reach one subscription in order; other subscriptions and other
    things never wait for them."""
    return f"{subscription_prefix(subscription_id)}{entity.value}:{guid}"


def subscription_prefix(subscription_id: int) -> str:
    return f"partner:{subscription_id}:"


def subscription_of(aggregate: str) -> int | None:
    """The subscription a partner aggregate belongs to."""
    head, _, rest = aggregate.partition(":")
    number, _, _ = rest.partition(":")
    if head != "partner" or not number.isdecimal() or not number.isascii():
        return None
    return int(number)


# --- failing receivers -------------------------------------------------------------------------


def should_pause(failing_since: datetime, now: datetime, pause_after: timedelta) -> bool:
    """A subscription whose receiver has not accepted one event for `pause_after` is paused
    and its owner told, instead of being retried forever."""
    return now - failing_since >= pause_after


def rest_after(retry_after: float | None, step: timedelta | None, cap: timedelta) -> timedelta:
    """How long nothing more is tried on a failing receiver: one probe per step, not one
    request per waiting event. `step` is the retry policy's delay for the failure streak."""
    rest = min(step or cap, cap)
    if retry_after is not None:
        rest = max(rest, timedelta(seconds=retry_after))
    return rest
