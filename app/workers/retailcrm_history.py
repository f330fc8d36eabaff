"""The RetailCRM history pull: every RETAILCRM_HISTORY_SECONDS, orders' then customers'."""

from __future__ import annotations

from typing import Any

import structlog

from app.integrations.errors import IntegrationError
from app.integrations.retailcrm.budget import RedisBudget
from app.integrations.retailcrm.client import RetailCrmClient
from app.services.channels import order_status
from app.services.channels.retailcrm_history import ENTITIES, pull_history
from app.services.jobs import NoQueue
from app.settings import Settings
from app.workers.clock import clock_of

log = structlog.get_logger(__name__)


def history_seconds(settings: Settings) -> set[int]:
    """The seconds of each minute the pull runs at (at least once a minute)."""
    step = max(1, min(60, settings.retailcrm_history_seconds))
    return set(range(25 % step, 60, step))


def history_client(settings: Settings, redis_url: str | None) -> RetailCrmClient:
    """A client whose every request takes its turn of the API key's budget in redis, the one
    the outbox's pushes take theirs from (10 requests a second per key, all told)."""
    key = settings.retailcrm_api_key
    budget = RedisBudget(redis_url, key, settings.retailcrm_max_rps) if redis_url else None
    return RetailCrmClient(
        settings.retailcrm_url or "",
        key,
        settings.retailcrm_site,
        max_rps=settings.retailcrm_max_rps,
        budget=budget,
    )


async def pull_retailcrm_history(ctx: dict[str, Any]) -> int:
    """Apply what managers changed since the stored cursors; idempotent (a page applies once,
    a failed page is read again next time). Returns how many changes were applied."""
    settings: Settings = ctx["settings"]
    if not settings.retailcrm_url:
        return 0
    now, applied = clock_of(ctx).now(), 0
    async with history_client(settings, ctx.get("redis_url")) as client:
        for entity in ENTITIES:
            try:
                report = await pull_history(
                    crm=client,
                    entity=entity,
                    status_map=settings.retailcrm_status_map,
                    now=now,
                    max_pages=settings.retailcrm_history_pages,
                    item_returns=settings.retailcrm_item_return_statuses,
                )
            except IntegrationError as error:  # RetailCRM out of reach or refusing: next run
                log.warning("retailcrm.history_failed", entity=entity, error=str(error))
                continue
            await order_status.after_commit(
                report.statuses, providers=ctx["payment_providers"].get, jobs=NoQueue(), now=now
            )
            applied += report.changes
            if report.changes:
                log.info(
                    "retailcrm.history", entity=entity, pages=report.pages, changes=report.changes
                )
    return applied
