"""The idle-cart sweep: carts untouched for CART_IDLE_HOURS go, their holds back on sale."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import structlog

from app.services.checkout.idle_carts import clear_idle_carts
from app.settings import Settings
from app.workers.clock import clock_of

log = structlog.get_logger(__name__)


async def sweep_idle_carts(ctx: dict[str, Any]) -> int:
    """Clear idle carts (idempotent: a second run finds nothing); the number cleared."""
    settings: Settings = ctx["settings"]
    cleared = await clear_idle_carts(
        now=clock_of(ctx).now(), idle=timedelta(hours=settings.cart_idle_hours)
    )
    if cleared.carts:
        log.info(
            "carts.idle_cleared",
            carts=cleared.carts,
            deleted=cleared.deleted,
            released_hold_units=cleared.released,
        )
    return cleared.carts
