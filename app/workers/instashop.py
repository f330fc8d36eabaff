"""The Instashop sync job: every INSTAGRAM_SYNC_MINUTES, and when staff press "sync now"."""

from __future__ import annotations

from typing import Any

import structlog

from app.integrations.instagram.client import InstagramClient
from app.services.instashop.account import InstashopConfig, InstashopOff, instashop_enabled
from app.services.instashop.store import build_store
from app.services.instashop.sync import sync_feed
from app.settings import Settings
from app.workers.clock import clock_of

SYNC_NOW_JOB_ID = "instashop-sync-now"
log = structlog.get_logger(__name__)


def instagram_client(settings: Settings) -> InstagramClient:
    return InstagramClient(
        settings.instagram_url,
        settings.instagram_api_version,
        timeout=settings.instagram_timeout_seconds,
        proxy=settings.instagram_proxy,
    )


def sync_minutes(settings: Settings) -> set[int]:
    """The minutes of each hour the sync runs at (at least once an hour)."""
    step = max(1, min(60, settings.instagram_sync_minutes))
    return set(range(0, 60, step))


async def instashop_sync(ctx: dict[str, Any]) -> str:
    """Read the feed, upsert looks, re-host new files (a lease keeps it to one at a time)."""
    settings: Settings = ctx["settings"]
    if not instashop_enabled(settings):
        return "off"
    try:
        async with instagram_client(settings) as client:
            report = await sync_feed(
                client=client,
                store=build_store(settings),
                config=InstashopConfig.of(settings),
                now=clock_of(ctx).now(),
            )
    except InstashopOff as off:
        log.warning("instashop.off", reason=str(off))
        return "off"
    log.info(
        "instashop.synced",
        outcome=report.outcome,
        posts=report.posts,
        created=report.created,
        updated=report.updated,
        deleted=report.deleted,
        slides_stored=report.slides_stored,
        slides_failed=report.slides_failed,
        error=report.error or None,
    )
    return report.outcome
