"""The workers' clock: the wall clock in production; a bench on compressed time runs it faster.

Jobs read `now` from it and hand it to the services. arq's deferred jobs and asyncio's sleeps
keep wall time, so an instant or a pause on this clock is converted before it reaches them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from app.services.jobs import JobQueue


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class WorkerClock:
    """`speed` times the wall clock's pace from `origin` (speed 1: the wall clock itself)."""

    speed: float = 1.0
    origin: datetime = field(default_factory=utc_now)
    wall: Callable[[], datetime] = utc_now

    def __post_init__(self) -> None:
        if self.speed <= 0:
            raise ValueError("the clock's speed must be positive")

    def now(self) -> datetime:
        wall = self.wall()
        if self.speed == 1:
            return wall
        return self.origin + (wall - self.origin) * self.speed

    def wall_instant(self, at: datetime) -> datetime:
        """The wall-clock instant at which this clock shows `at`."""
        if self.speed == 1:
            return at
        return self.origin + (at - self.origin) / self.speed

    def wall_seconds(self, seconds: float) -> float:
        """The wall-clock seconds that `seconds` of this clock take."""
        return seconds / self.speed

    def queue(self, jobs: JobQueue) -> JobQueue:
        """`jobs`, deferring to the wall-clock instant of each `defer_until`."""
        return jobs if self.speed == 1 else _ClockedQueue(jobs, self)


WALL_CLOCK = WorkerClock()


def clock_of(ctx: dict[str, Any]) -> WorkerClock:
    """The clock a worker was built with (the wall clock for a context built by hand)."""
    clock: WorkerClock = ctx.get("clock", WALL_CLOCK)
    return clock


class _ClockedQueue:
    def __init__(self, jobs: JobQueue, clock: WorkerClock) -> None:
        self._jobs = jobs
        self._clock = clock

    async def enqueue(
        self,
        function: str,
        *args: Any,
        job_id: str,
        defer_until: datetime | None = None,
        queue: str | None = None,
    ) -> None:
        wall = None if defer_until is None else self._clock.wall_instant(defer_until)
        await self._jobs.enqueue(function, *args, job_id=job_id, defer_until=wall, queue=queue)
