"""The port through which services schedule background work (arq in production)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

import structlog

log = structlog.get_logger(__name__)


class JobQueue(Protocol):
    async def enqueue(
        self,
        function: str,
        *args: Any,
        job_id: str,
        defer_until: datetime | None = None,
        queue: str | None = None,
    ) -> None: ...


class NoQueue:
    """For callers without a queue (CLI, tests): the periodic sweeps do the work instead."""

    async def enqueue(
        self,
        function: str,
        *args: Any,
        job_id: str,
        defer_until: datetime | None = None,
        queue: str | None = None,
    ) -> None:
        return None


async def enqueue_quietly(
    jobs: JobQueue,
    function: str,
    *args: Any,
    job_id: str,
    defer_until: datetime | None = None,
    queue: str | None = None,
) -> None:
    """Enqueue after commit; if redis is down, log it: the sweep that runs every minute catches
    anything a lost job would have done, so the shopper's request still succeeds."""
    try:
        await jobs.enqueue(function, *args, job_id=job_id, defer_until=defer_until, queue=queue)
    except Exception as error:  # a queue outage must not fail a committed order
        log.warning("enqueue.failed", function=function, job_id=job_id, error=repr(error))
