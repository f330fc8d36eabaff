"""The arq worker's settings: database lifecycle, jobs and cron."""

from __future__ import annotations

from typing import Any

from arq import cron
from arq.worker import Worker

from app.db import close_db, init_db
from app.redis_setup import arq_settings
from app.settings import Settings
from app.workers.jobs import expire_order, heartbeat, sweep


def build_worker(
    settings: Settings, *, redis_url: str, handle_signals: bool = True, manage_db: bool = True
) -> Worker:
    """A worker bound to our database and redis; the API and the CLI share this factory."""

    async def on_startup(ctx: dict[str, Any]) -> None:
        ctx["settings"] = settings
        if manage_db:
            await init_db(settings.resolved_database_url)

    async def on_shutdown(ctx: dict[str, Any]) -> None:
        if manage_db:
            await close_db()

    return Worker(
        functions=[heartbeat, expire_order, sweep],
        cron_jobs=[
            cron(heartbeat, second={0, 30}, run_at_startup=True),
            cron(sweep, second=15, run_at_startup=True),
        ],
        redis_settings=arq_settings(redis_url),
        on_startup=on_startup,
        on_shutdown=on_shutdown,
        handle_signals=handle_signals,
    )
