"""The housekeeping worker brings site customers without a source record into the identity
graph every minute; a second run finds none."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from app.domain.identity import CustomerSource
from app.models.customers import Customer
from app.models.identity import IdentityRecord
from app.settings import Settings
from app.workers.clock import WorkerClock
from app.workers.identity import sweep_site_customers
from app.workers.settings import build_worker

pytestmark = pytest.mark.usefixtures("db")
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _ctx() -> dict[str, Any]:
    return {"clock": WorkerClock(wall=lambda: NOW)}


async def test_guests_enter_the_graph_once(settings: Settings) -> None:
    for n in range(3):
        await Customer.create(guid=str(uuid.uuid4()), email=f"g{n}@mail.ru", phone=None)

    first = await sweep_site_customers(_ctx())
    again = await sweep_site_customers(_ctx())

    assert (first, again) == (3, 0)
    records = await IdentityRecord.filter(source=CustomerSource.SITE).order_by("id")
    assert [(r.email, r.email_verified, r.actor) for r in records] == [
        (f"g{n}@mail.ru", False, "sweep") for n in range(3)
    ]
    worker = build_worker(settings, redis_url="redis://127.0.0.1:6379/9", handle_signals=False)
    assert "cron:sweep_site_customers" in {job.name for job in worker.cron_jobs}
