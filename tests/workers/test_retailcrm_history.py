"""The history pull job over real HTTP: it applies what managers changed once, a RetailCRM out
of reach changes nothing (the next run catches up), and the housekeeping worker runs it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from app.devtools.simulators.retailcrm import RetailCrmSimulator
from app.devtools.simulators.server import LocalServer
from app.domain.identity import Channel, CustomerSource
from app.integrations.payments.registry import build_providers
from app.models.channels import HistoryCursor
from app.models.identity import ChannelPurchase, IdentityRecord
from app.settings import Settings
from app.workers.retailcrm_history import history_seconds, pull_retailcrm_history
from app.workers.settings import build_worker


@pytest.fixture
async def crm() -> AsyncIterator[tuple[RetailCrmSimulator, LocalServer]]:
    sim = RetailCrmSimulator()
    async with LocalServer(sim.app) as server:
        yield sim, server


@pytest.fixture
async def ctx(
    db: str, settings: Settings, redis_url: str, crm: tuple[RetailCrmSimulator, LocalServer]
) -> AsyncIterator[dict[str, Any]]:
    sim, server = crm
    configured = settings.model_copy(
        update={
            "retailcrm_url": f"{server.url}/api/v5",
            "retailcrm_api_key": sim.api_key,
            "retailcrm_site": sim.site,
        }
    )
    providers = build_providers(configured)
    yield {"settings": configured, "redis_url": redis_url, "payment_providers": providers}
    await providers.aclose()


async def test_the_job_applies_managers_changes_once(
    ctx: dict[str, Any], crm: tuple[RetailCrmSimulator, LocalServer]
) -> None:
    sim, _ = crm
    anna = sim.managers.add_customer("Анна", phones=[{"number": "+79161234567"}])
    sim.managers.take_order(anna, [(None, 1, 2990.0)], method="phone")

    first = await pull_retailcrm_history(ctx)
    second = await pull_retailcrm_history(ctx)

    assert (first, second) == (2, 0)
    assert await IdentityRecord.filter(source=CustomerSource.RETAILCRM).count() == 1
    [purchase] = await ChannelPurchase.all()
    assert (purchase.channel, purchase.amount_kopecks) == (Channel.PHONE, 299000)
    cursors = dict(await HistoryCursor.all().values_list("name", "since_id"))
    assert cursors == {"retailcrm:orders": 2, "retailcrm:customers": 1}


async def test_retailcrm_out_of_reach_changes_nothing_and_the_next_run_catches_up(
    ctx: dict[str, Any], crm: tuple[RetailCrmSimulator, LocalServer]
) -> None:
    sim, _ = crm
    sim.managers.add_customer("Анна")
    sim.down()

    missed = await pull_retailcrm_history(ctx)

    assert missed == 0
    assert await IdentityRecord.all().count() == 0
    assert await HistoryCursor.filter(since_id__gt=0).count() == 0
    sim.up()
    assert await pull_retailcrm_history(ctx) == 1


async def test_without_retailcrm_the_job_does_nothing(db: str, settings: Settings) -> None:
    assert await pull_retailcrm_history({"settings": settings}) == 0


def test_the_housekeeping_worker_pulls_every_n_seconds(settings: Settings, redis_url: str) -> None:
    every_ten = settings.model_copy(update={"retailcrm_history_seconds": 10})

    worker = build_worker(every_ten, redis_url=redis_url, handle_signals=False, manage_db=False)

    [job] = [c for c in worker.cron_jobs if c.name.endswith("pull_retailcrm_history")]
    assert job.second == {5, 15, 25, 35, 45, 55}
    assert history_seconds(settings) == {25, 55}  # the default: every 30 s
