"""After an order commits, the delivery jobs of its subscribers are queued at once."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from app.services.partners.subscriptions import pause
from app.services.partners.waking import wake_order_subscribers
from tests import factories

HOOK = "http://127.0.0.1:9/hook"


class Jobs:
    """A JobQueue that keeps what it was asked to queue."""

    def __init__(self) -> None:
        self.queued: list[tuple[str, tuple[Any, ...], str, str | None]] = []

    async def enqueue(
        self,
        function: str,
        *args: Any,
        job_id: str,
        defer_until: datetime | None = None,
        queue: str | None = None,
    ) -> None:
        self.queued.append((function, args, job_id, queue))


async def test_only_active_subscribers_of_order_events_are_woken(db: str) -> None:
    partner = await factories.partner()
    orders, _ = await factories.subscription(partner, HOOK, "order.paid")
    await factories.subscription(partner, HOOK, "product.created")
    paused, _ = await factories.subscription(partner, HOOK, "order.placed")
    await pause(partner_id=None, subscription_id=str(paused), now=datetime.now(UTC))
    jobs = Jobs()

    await wake_order_subscribers(jobs)

    assert jobs.queued == [
        ("deliver_partner", (orders,), f"partner:{orders}", "vitrina:deliver:partner")
    ]
