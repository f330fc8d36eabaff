"""Jobs run by the arq worker: they take ids, re-read state and may safely run twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from app.services.checkout import orders
from app.services.jobs import NoQueue
from app.services.payments import watch as payment_watch
from app.workers.clock import clock_of

HEARTBEAT_KEY = "vitrina:worker:heartbeat"
log = structlog.get_logger(__name__)


async def heartbeat(ctx: dict[str, Any]) -> None:
    """Record that a worker is alive (readiness of the async side, seen from redis)."""
    await ctx["redis"].set(HEARTBEAT_KEY, datetime.now(UTC).isoformat(), ex=120)


async def expire_order(ctx: dict[str, Any], order_id: int) -> bool:
    """Cancel one order whose payment time is over (enqueued for its deadline); its payments
    are re-read first, so money that has just arrived still pays it."""
    cancelled = await _expire(ctx, order_id)
    if cancelled:
        log.info("order.expired", order_id=order_id)
    return cancelled


async def _expire(ctx: dict[str, Any], order_id: int) -> bool:
    return await payment_watch.expire_after_last_look(
        order_id=order_id,
        providers=ctx["payment_providers"].polled(),
        now=clock_of(ctx).now(),
        jobs=NoQueue(),  # the per-second outbox sweeps deliver what changed
    )


async def sweep(ctx: dict[str, Any]) -> None:
    """Every minute: cancel overdue unpaid orders and give back expired cart holds."""
    now = clock_of(ctx).now()
    cancelled = 0
    for order_id in await orders.overdue_orders(now=now):
        cancelled += await _expire(ctx, order_id)  # one line for the sweep, not one per order
    released = await orders.release_expired_holds(now=now)
    if cancelled or released:
        log.info("sweep", cancelled_orders=cancelled, released_hold_units=released)


async def poll_payments(ctx: dict[str, Any]) -> int:
    """Re-read unfinished payments (lost notifications), finish refunds and give back surplus.

    Deliveries of what changed are woken by the per-second outbox sweeps."""
    settings = ctx["settings"]
    return await payment_watch.poll(
        providers=ctx["payment_providers"].polled(),
        now=clock_of(ctx).now(),
        every=timedelta(seconds=settings.payment_poll_seconds),
        jobs=NoQueue(),
    )
