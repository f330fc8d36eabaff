"""Partners' receivers (the simulator, real HTTP on 127.0.0.1) and the partners' worker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field

from redis.asyncio import Redis

from app.devtools.simulators.partner import PartnerReceiver
from app.devtools.simulators.server import LocalServer
from app.settings import Settings
from app.workers.partners import build_partner_worker
from app.workers.settings import WorkerGroup
from tests import factories


@dataclass
class Receiver:
    subscription_id: int
    simulator: PartnerReceiver
    server: LocalServer


@dataclass
class PartnerStand:
    settings: Settings
    redis_url: str
    receivers: dict[str, Receiver] = field(default_factory=dict)
    workers: WorkerGroup | None = None

    async def start_worker(self) -> None:
        self.workers = WorkerGroup([build_partner_worker(self.settings, redis_url=self.redis_url)])
        self.workers.start()

    async def stop_worker(self) -> None:
        if self.workers is not None:
            await self.workers.close(grace=5)
        self.workers = None


def stand_settings(base: Settings) -> Settings:
    """Retries a tenth of a second apart (the defaults' backoff is for real outages)."""
    return base.model_copy(
        update={"outbox_backoff_base_seconds": 0.05, "partner_backoff_cap_seconds": 0.2}
    )


@asynccontextmanager
async def partner_stand(
    settings: Settings, redis_url: str, *, start: bool = True, **subscriptions: list[str]
) -> AsyncIterator[PartnerStand]:
    """One receiver and subscription per keyword (its events), one partner each, and the
    partners' worker running (with `start`; else the test starts it)."""
    redis = Redis.from_url(redis_url)
    await redis.flushdb()
    await redis.aclose()
    stand = PartnerStand(stand_settings(settings), redis_url)
    async with AsyncExitStack() as stack:
        for name, events in subscriptions.items():
            simulator = PartnerReceiver()
            server = await stack.enter_async_context(LocalServer(simulator.app))
            partner = await factories.partner(name, f"{name}@partner.example")
            number, secret = await factories.subscription(partner, f"{server.url}/{name}", *events)
            simulator.secret = secret
            stand.receivers[name] = Receiver(number, simulator, server)
        if start:
            await stand.start_worker()
        try:
            yield stand
        finally:
            await stand.stop_worker()
