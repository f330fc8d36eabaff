"""Checkout throttles in redis: the calls bots repeat, per client address and per device.

The device id is the storefront's and untrusted, so the address is the floor: every call
counts against the client's address (an IPv6 /64), and also against its device when it sent
a valid id. A call without one counts against the address alone.
"""

from __future__ import annotations

from datetime import datetime

import structlog
from redis.asyncio import Redis

from app.domain.checkout import CheckoutCall, address_scope, device_key
from app.services.throttles import Bucket, spend_or_refuse
from app.settings import Settings

_KEY = "vitrina:checkout:"
log = structlog.get_logger(__name__)


def buckets(
    settings: Settings, call: CheckoutCall, *, address: str, device_id: str | None
) -> list[Bucket]:
    """The buckets a call takes from: each holds a minute's calls and refills steadily."""
    per_address, per_device = _per_minute(settings)[call]
    found = []
    if per_address:
        key = f"{_KEY}{call.value}:address:{address_scope(address)}"
        found.append(Bucket(key, capacity=per_address, per_second=per_address / 60))
    if per_device and device_id:
        key = f"{_KEY}{call.value}:device:{device_key(device_id, address)}"
        found.append(Bucket(key, capacity=per_device, per_second=per_device / 60))
    return found


def _per_minute(settings: Settings) -> dict[CheckoutCall, tuple[int, int]]:
    """(per address, per device) for each call."""
    s = settings
    return {
        CheckoutCall.CREATE_CART: (
            s.throttle_create_cart_per_address,
            s.throttle_create_cart_per_device,
        ),
        CheckoutCall.CHANGE_CART: (
            s.throttle_change_cart_per_address,
            s.throttle_change_cart_per_device,
        ),
        CheckoutCall.PLACE_ORDER: (
            s.throttle_place_order_per_address,
            s.throttle_place_order_per_device,
        ),
    }


async def admit(
    *,
    redis: Redis,
    settings: Settings,
    call: CheckoutCall,
    address: str,
    device_id: str | None,
    now: datetime,
) -> None:
    """Count this call against the client's address and device, or refuse it
    (TOO_MANY_ATTEMPTS with `retry_after`) when either has had its minute's worth.

    When redis cannot answer the call goes through (logged): reservation stays atomic in the
    database, so a throttle outage costs fairness for a while, never stock."""
    chosen = buckets(settings, call, address=address, device_id=device_id)
    if settings.checkout_throttles_on:
        await spend_or_refuse(
            redis=redis,
            buckets=chosen,
            now=now,
            outage_event="checkout.throttle_unavailable",
            call=call.value,
        )
