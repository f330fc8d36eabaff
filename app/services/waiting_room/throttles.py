"""The waiting room's throttles, in the same token buckets as checkout's: joining per client
address and per device, asking per device (a poll far faster than `pollAfter` is a bot)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import structlog
from redis.asyncio import Redis

from app.domain.checkout import address_scope, device_key
from app.services.throttles import Bucket, spend_or_refuse
from app.settings import Settings

_KEY = "vitrina:queue-throttle:"
log = structlog.get_logger(__name__)


class QueueCall(StrEnum):
    JOIN = "join"
    STATUS = "status"


def buckets(
    settings: Settings, call: QueueCall, *, address: str, device_id: str | None
) -> list[Bucket]:
    """Each bucket holds a minute's calls and refills steadily; 0 turns one off."""
    if call is QueueCall.JOIN:
        per_address = settings.throttle_join_queue_per_address
        per_device = settings.throttle_join_queue_per_device
    else:
        per_address, per_device = 0, settings.throttle_queue_status_per_device
    found = []
    if per_address:
        key = f"{_KEY}{call.value}:address:{address_scope(address)}"
        found.append(Bucket(key, capacity=per_address, per_second=per_address / 60))
    if per_device:  # without an id, the address is the device (as checkout counts)
        key = f"{_KEY}{call.value}:device:{device_key(device_id, address)}"
        found.append(Bucket(key, capacity=per_device, per_second=per_device / 60))
    return found


async def admit(
    *,
    redis: Redis,
    settings: Settings,
    call: QueueCall,
    address: str,
    device_id: str | None,
    now: datetime,
) -> None:
    """Count the call, or refuse it (TOO_MANY_ATTEMPTS with `retry_after`). CHECKOUT_THROTTLES
    switches these too. A redis that cannot answer lets the call through: the queue itself
    then answers CLOSED."""
    chosen = buckets(settings, call, address=address, device_id=device_id)
    if settings.checkout_throttles_on:
        await spend_or_refuse(
            redis=redis,
            buckets=chosen,
            now=now,
            outage_event="queue.throttle_unavailable",
            call=call.value,
        )
