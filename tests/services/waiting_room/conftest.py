"""A queued drop and its shoppers, through the services (the same ones the API calls)."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis

from app.domain.checkout import device_key
from app.domain.orders import DeliveryKind
from app.models.catalog import Collection
from app.services import waiting_room
from app.services.catalog import intake as catalog
from app.services.checkout import carts, orders
from app.services.jobs import NoQueue
from app.services.waiting_room import QueueGate, RoomConfig, WaiterView
from app.services.waiting_room.stock import TickSources
from app.services.waiting_room.store import Keys
from tests import factories

RELEASE = datetime(2026, 12, 1, 10, tzinfo=UTC)
KEY = b"queue-test-key"
CONFIG = RoomConfig(
    key=KEY,
    pass_duration=timedelta(minutes=10),
    opens_before=timedelta(minutes=60),
    tick=timedelta(seconds=1),
    admit_per_tick=100,
)
DROP = factories.guid("collection/Queued")
PLAIN = factories.guid("collection/Plain")


def variant_guid(n: int) -> str:
    return factories.guid(f"variant/Tee{n}/M/black")


def device(n: int) -> str:
    return device_key(f"00000000-0000-4000-8000-{n:012d}", "203.0.113.7")


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    await client.flushdb()  # an earlier test's queue must not count here
    yield client
    await client.aclose()


async def given_drop(
    redis: Redis | None,
    units: list[int],
    *,
    hold: str = "at_order",
    queue: str = "lottery",
    guid: str = DROP,
) -> int:
    """A drop released at RELEASE with one product per entry of `units` (that many online).
    With `redis`, the test runs the ticks itself (`tick`): no poll takes the tick lock."""
    await factories.warehouses()
    name = "Queued" if guid == DROP else "Plain"
    data = catalog.CollectionData(
        guid, name, factories.iso(RELEASE), hold_mode=hold, queue_mode=queue
    )
    report = await catalog.upsert_collections(items=[data])
    assert not report.problems, report.problems
    base = 0 if guid == DROP else 100
    for n, quantity in enumerate(units, start=base):
        await factories.product(
            f"Tee{n}", variants=[factories.variant(f"Tee{n}", "M", "black")], collection_guid=guid
        )
        await factories.stock(variant_guid(n), factories.ONLINE, quantity)
    collection_id = (await Collection.get(guid=guid)).id
    if redis is not None:
        await redis.set(Keys(collection_id).tick, "test-fence")
    return collection_id


@dataclass
class Shopper:
    """One device in the room: its place, what it was told last, its cart."""

    redis: Redis
    device: str
    token: str = ""
    view: WaiterView | None = None
    cart: str = ""

    async def join(self, now: datetime) -> WaiterView:
        self.view = await waiting_room.join_queue(
            redis=self.redis, config=CONFIG, collection_guid=DROP, device=self.device, now=now
        )
        self.token = self.view.token or ""
        return self.view

    async def ask(self, now: datetime) -> WaiterView:
        self.view = await waiting_room.queue_status(
            redis=self.redis, config=CONFIG, token=self.token, device=self.device, now=now
        )
        return self.view

    def gate(self) -> QueueGate:
        presented = self.view.queue_pass if self.view else None
        return QueueGate(presented, KEY, self.redis)

    async def add(self, variant: str, now: datetime, quantity: int = 1) -> None:
        if not self.cart:
            self.cart = (await carts.create_cart(device=self.device)).token
        await carts.add_to_line(
            cart_token=self.cart,
            variant_guid=variant,
            quantity=quantity,
            now=now,
            device=self.device,
            queue_gate=self.gate(),
        )

    async def order(self, now: datetime, key: str = "") -> orders.PlacedOrder:
        await carts.set_contact(
            cart_token=self.cart,
            email=f"{self.device}@example.com",
            phone=None,
            first_name="Анна",
            last_name="",
        )
        await carts.set_delivery(
            cart_token=self.cart,
            kind=DeliveryKind.COURIER,
            address="Москва",
            shop_guid=None,
            now=now,
        )
        return await orders.place_order(
            cart_token=self.cart,
            idempotency_key=key or f"key-{self.cart}",
            now=now,
            payment_timeout=timedelta(minutes=15),
            jobs=NoQueue(),
            device=self.device,
            queue_gate=self.gate(),
        )


async def tick(
    redis: Redis,
    collection_id: int,
    now: datetime,
    seed: int = 1,
    sources: TickSources | None = None,
) -> int:
    """One admission tick, as the process holding the lock runs it (through `sources`: a
    process's stream-fed figures; without, read from the database)."""
    await redis.set(Keys(collection_id).tick, "test-fence")
    return await waiting_room.tick(
        redis=redis,
        config=CONFIG,
        collection_id=collection_id,
        fence="test-fence",
        now=now,
        rng=random.Random(seed),
        sources=sources,
    )
