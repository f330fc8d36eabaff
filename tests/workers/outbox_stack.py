"""A warm stack for outbox tests: 1C and RetailCRM simulators, a running worker, the API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from redis.asyncio import Redis

from app.devtools.simulators.onec import OneCSimulator
from app.devtools.simulators.retailcrm import RetailCrmSimulator
from app.devtools.simulators.server import LocalServer
from app.main import create_app
from app.settings import Settings
from app.workers.settings import WorkerGroup, build_workers


@dataclass
class Stack:
    settings: Settings
    redis_url: str
    onec: OneCSimulator
    crm: RetailCrmSimulator
    onec_server: LocalServer
    crm_server: LocalServer
    api: httpx.AsyncClient
    workers: WorkerGroup | None = None

    async def start_worker(self) -> None:
        self.workers = build_workers(self.settings, redis_url=self.redis_url)
        self.workers.start()

    async def stop_worker(self, grace: float = 10.0) -> None:
        """Stop the workers as a deploy would: the jobs in flight finish first."""
        if self.workers is not None:
            await self.workers.close(grace=grace)
        self.workers = None

    async def kill_worker(self) -> None:
        """Stop the workers the hard way: jobs in flight are cut off mid-delivery."""
        await self.stop_worker(grace=0)


def stack_settings(base: Settings, onec: LocalServer, crm: LocalServer) -> Settings:
    return base.model_copy(
        update={
            "onec_url": f"{onec.url}/hs/vitrina",
            "onec_username": "vitrina",
            "onec_password": "secret",
            "retailcrm_url": f"{crm.url}/api/v5",
            "retailcrm_api_key": "test-key",
            "retailcrm_site": "vitrina",
            "retailcrm_max_rps": 10_000,  # the simulator does not limit; the real API does
            "outbox_backoff_base_seconds": 0.05,
            "outbox_backoff_cap_seconds": 1.0,
            "outbox_max_attempts": 10_000,  # outages in these tests outlast 12 quick retries
        }
    )


@asynccontextmanager
async def running_stack(settings: Settings, redis_url: str) -> AsyncIterator[Stack]:
    redis = Redis.from_url(redis_url)
    await redis.flushdb()
    await redis.aclose()
    onec, crm = OneCSimulator(), RetailCrmSimulator()
    async with LocalServer(onec.app) as onec_server, LocalServer(crm.app) as crm_server:
        configured = stack_settings(settings, onec_server, crm_server)
        app = create_app(configured, redis_url=redis_url, manage_db=False)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as api:
                stack = Stack(configured, redis_url, onec, crm, onec_server, crm_server, api)
                await stack.start_worker()
                try:
                    yield stack
                finally:
                    await stack.stop_worker()
