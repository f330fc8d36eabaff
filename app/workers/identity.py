"""The identity graph's sweep: site customers without a source record enter it (guests that
checkout created, accounts older than the graph). Idempotent: a second run finds none."""

from __future__ import annotations

from typing import Any

import structlog

from app.services.identity.observe import observe_new_site_customers
from app.workers.clock import clock_of

log = structlog.get_logger(__name__)


async def sweep_site_customers(ctx: dict[str, Any]) -> int:
    """Observe up to a batch of new site customers; how many."""
    observed = await observe_new_site_customers(now=clock_of(ctx).now())
    if observed:
        log.info("identity.site_customers_observed", customers=observed)
    return observed
