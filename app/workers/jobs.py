"""Jobs run by the arq worker."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

HEARTBEAT_KEY = "vitrina:worker:heartbeat"


async def heartbeat(ctx: dict[str, Any]) -> None:
    """Record that a worker is alive (readiness of the async side, seen from redis)."""
    await ctx["redis"].set(HEARTBEAT_KEY, datetime.now(UTC).isoformat(), ex=120)
