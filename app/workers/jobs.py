"""Jobs run by the arq worker: they take ids, re-read state and may safely run twice."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import structlog

from app.services import orders

HEARTBEAT_KEY = "vitrina:worker:heartbeat"
log = structlog.get_logger(__name__)


async def heartbeat(ctx: dict[str, Any]) -> None:
    """Record that a worker is alive (readiness of the async side, seen from redis)."""
    await ctx["redis"].set(HEARTBEAT_KEY, datetime.now(UTC).isoformat(), ex=120)


async def expire_order(ctx: dict[str, Any], order_id: int) -> bool:
    """Cancel one order whose payment time is over (enqueued for its deadline)."""
    return await orders.expire_order(order_id=order_id, now=datetime.now(UTC))


async def sweep(ctx: dict[str, Any]) -> None:
    """Every minute: cancel overdue unpaid orders and give back expired cart holds."""
    now = datetime.now(UTC)
    cancelled = await orders.expire_overdue(now=now)
    released = await orders.release_expired_holds(now=now)
    if cancelled or released:
        log.info("sweep", cancelled_orders=cancelled, released_hold_units=released)
