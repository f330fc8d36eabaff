"""The workers' clock: the wall clock by default; a faster one (a bench on compressed time) is
what the jobs act on, and its instants and pauses reach arq and asyncio in wall time."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from app.domain.outbox import EventState, Target
from app.domain.reservations import ShopConfirmation
from app.models.outbox import OutboxEvent
from app.models.shops import ShopRequestLine
from app.services.jobs import NoQueue
from app.services.shops.slack_calls import ShopSlack
from app.settings import Settings
from app.workers.clock import WALL_CLOCK, WorkerClock
from app.workers.outbox import build_senders, close_senders, deliver_outbox
from app.workers.shops import shop_request_deadline
from tests.services.shops.test_shop_confirmation import (
    NOW,
    RULES,
    FakeSlack,
    _given,
    _open_request,
    _paid_order,
)
from tests.workers.test_notify_delivery import NOW as MESSAGE_DUE
from tests.workers.test_notify_delivery import _message


def showing(moment: datetime) -> WorkerClock:
    """A clock stopped at `moment` (a wall clock that does not move)."""
    return WorkerClock(wall=lambda: moment)


class Recorded:
    def __init__(self) -> None:
        self.calls: list[tuple[str, datetime | None]] = []

    async def enqueue(
        self,
        function: str,
        *args: Any,
        job_id: str,
        defer_until: datetime | None = None,
        queue: str | None = None,
    ) -> None:
        self.calls.append((job_id, defer_until))


def test_a_clock_sixty_times_faster_runs_an_hour_in_a_minute() -> None:
    clock = WorkerClock(speed=60, origin=NOW, wall=lambda: NOW + timedelta(minutes=1))

    assert clock.now() == NOW + timedelta(hours=1)
    assert clock.wall_instant(NOW + timedelta(minutes=20)) == NOW + timedelta(seconds=20)
    assert clock.wall_seconds(1.0) == pytest.approx(1 / 60)


def test_the_default_clock_is_the_wall_clock_and_changes_nothing() -> None:
    clock, jobs = showing(NOW), Recorded()

    assert (clock.now(), clock.wall_instant(NOW), clock.wall_seconds(1.0)) == (NOW, NOW, 1.0)
    assert clock.queue(jobs) is jobs
    assert WALL_CLOCK.speed == 1
    with pytest.raises(ValueError):
        WorkerClock(speed=0)


async def test_a_faster_clock_defers_jobs_to_the_wall_instant_of_their_time() -> None:
    jobs = Recorded()
    queue = WorkerClock(speed=60, origin=NOW).queue(jobs)

    await queue.enqueue("f", 1, job_id="later", defer_until=NOW + timedelta(minutes=20))
    await queue.enqueue("f", 1, job_id="now")

    assert jobs.calls == [("later", NOW + timedelta(seconds=20)), ("now", None)]


async def test_the_deadline_job_acts_on_the_workers_clock(db: str, settings: Settings) -> None:
    await _given(shop_a=1, shop_b=1)
    await _paid_order()
    request, line = await _open_request(FakeSlack())
    assert request.deadline == NOW + RULES.window

    early = {"settings": settings, "clock": showing(request.deadline - timedelta(seconds=1))}
    assert not await shop_request_deadline(early, request.id)
    assert (await ShopRequestLine.get(id=line.id)).state is ShopConfirmation.REQUESTED

    due = {"settings": settings, "clock": showing(request.deadline)}
    assert await shop_request_deadline(due, request.id)
    assert (await ShopRequestLine.get(id=line.id)).state is ShopConfirmation.TIMED_OUT


async def test_delivery_acts_on_the_workers_clock(db: str, settings: Settings) -> None:
    event = await _message()  # due at MESSAGE_DUE
    senders = build_senders(settings)
    ctx: dict[str, Any] = {"settings": settings, "senders": senders, "paused": {}, "failures": {}}

    early = ctx | {"clock": showing(MESSAGE_DUE - timedelta(seconds=1))}
    assert await deliver_outbox(early, Target.NOTIFY.value, event.aggregate) == 0
    assert (await OutboxEvent.get(id=event.id)).state is EventState.PENDING

    due = ctx | {"clock": showing(MESSAGE_DUE)}
    assert await deliver_outbox(due, Target.NOTIFY.value, event.aggregate) == 1
    assert (await OutboxEvent.get(id=event.id)).state is EventState.DELIVERED


async def test_the_slack_sender_paces_a_channel_on_the_workers_clock(settings: Settings) -> None:
    slack = settings.model_copy(update={"slack_bot_token": "xoxb-1"})
    wall = build_senders(slack, NoQueue())
    faster = build_senders(slack, NoQueue(), WorkerClock(speed=60))
    try:
        assert isinstance(wall.slack, ShopSlack) and isinstance(faster.slack, ShopSlack)
        assert wall.slack.per_channel_seconds == 1.0
        assert faster.slack.per_channel_seconds == pytest.approx(1 / 60)
    finally:
        await close_senders(wall)
        await close_senders(faster)
