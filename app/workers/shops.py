"""Shop confirmation deadlines: deferred jobs at each request's instants, and a sweep.

The sweep runs every 5 seconds and finds every request whose time is over, so a killed
worker or a flushed redis (lost deferred jobs) still settles each within seconds of its
deadline. Both paths call the same services, whose conditional updates make them run once.
"""

from __future__ import annotations

from typing import Any

import structlog

from app.services.shops import deciding
from app.workers.clock import clock_of

log = structlog.get_logger(__name__)


async def shop_request_deadline(ctx: dict[str, Any], request_id: int) -> bool:
    """Move on the lines a shop left unanswered (enqueued for the request's deadline)."""
    rules = ctx["settings"].shop_rules
    now = clock_of(ctx).now()
    return await deciding.time_out_request(request_id=request_id, rules=rules, now=now)


async def shop_request_remind(ctx: dict[str, Any], request_id: int) -> bool:
    """Remind the shop at half time (enqueued for that instant)."""
    return await deciding.remind(request_id=request_id, now=clock_of(ctx).now())


async def sweep_shop_requests(ctx: dict[str, Any]) -> int:
    """Settle every request whose time is over, and send every reminder that is due."""
    rules, now = ctx["settings"].shop_rules, clock_of(ctx).now()
    settled = 0
    for request_id in await deciding.due_requests(rules=rules, now=now):
        try:
            settled += await deciding.time_out_request(request_id=request_id, rules=rules, now=now)
        except Exception:  # one broken request must not stop the others from settling
            log.exception("shop_confirmation.sweep_failed", request=request_id)
    for request_id in await deciding.due_reminders(now=now):
        await deciding.remind(request_id=request_id, now=now)
    if settled:
        log.info("shop_confirmation.sweep", settled=settled)
    return settled
