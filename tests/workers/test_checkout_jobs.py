"""Unpaid orders and stale cart holds go back on sale: by deferred job, or by the sweep."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from redis.asyncio import Redis

from app.domain.orders import OrderStatus
from app.domain.reservations import ReservationState
from app.integrations.payments.dummy import DummyProvider
from app.integrations.payments.registry import PaymentProviders
from app.main import create_app
from app.models.catalog import Collection, HoldMode
from app.models.orders import Order
from app.models.stock import Reservation
from app.settings import Settings
from app.workers.jobs import sweep
from app.workers.settings import build_worker
from tests import factories
from tests.conftest import graphql

DRESS = factories.guid("variant/Dress/M/black")
PLACE = """mutation P($cart: String!) { placeOrder(cartToken: $cart, idempotencyKey: "job-test-1")
  { order { number status } errors { code } } }"""


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    await client.flushdb()  # order ids restart per test; so would job ids
    yield client
    await client.aclose()


async def _given_dress() -> None:
    await factories.warehouses()
    await factories.product("Dress", variants=[factories.variant("Dress", "M", "black")])
    await factories.stock(DRESS, factories.ONLINE, 2)


async def test_an_order_left_unpaid_is_cancelled_by_its_deferred_job(
    db: str, settings: Settings, redis_url: str, redis: Redis
) -> None:
    await _given_dress()
    now = datetime.now(UTC)
    cart = await factories.cart_with([(DRESS, 2)], now=now)
    instant = settings.model_copy(update={"payment_timeout_minutes": 0})
    app = create_app(instant, redis_url=redis_url, manage_db=False)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as client:
            body = await graphql(client, PLACE, {"cart": cart})
    assert body["data"]["placeOrder"]["order"]["status"] == "AWAITING_PAYMENT"
    order = await Order.get()
    assert await redis.exists(f"arq:job:expire-order:{order.id}") == 1
    worker = build_worker(
        settings, redis_url=redis_url, handle_signals=False, manage_db=False, burst=True
    )
    try:
        await worker.async_run()
    finally:
        await worker.close()
    assert (await Order.get(id=order.id)).status is OrderStatus.CANCELLED
    assert (await factories.positions(DRESS))[factories.ONLINE] == (2, 0)


async def test_the_sweep_catches_what_lost_jobs_would_have_done(db: str, redis: Redis) -> None:
    await _given_dress()
    long_ago = datetime.now(UTC) - timedelta(hours=1)
    placed = await factories.place(
        await factories.cart_with([(DRESS, 1)], now=long_ago), now=long_ago
    )
    await sweep(
        {"redis": redis, "payment_providers": PaymentProviders(DummyProvider())}
    )  # no job was ever enqueued (NoQueue)
    assert (await Order.get(id=placed.order.id)).status is OrderStatus.CANCELLED
    assert (await factories.positions(DRESS))[factories.ONLINE] == (2, 0)


async def test_the_sweep_gives_back_expired_holds(db: str, redis: Redis) -> None:
    await factories.warehouses()
    drop = await factories.collection("Drop", factories.T0)
    await Collection.filter(guid=drop).update(hold_mode=HoldMode.AT_CART, hold_minutes=10)
    await factories.product("Dress", collection_guid=drop)
    await factories.stock(DRESS, factories.ONLINE, 2)
    long_ago = datetime.now(UTC) - timedelta(minutes=11)
    await factories.cart_with([(DRESS, 2)], now=long_ago)
    assert (await factories.positions(DRESS))[factories.ONLINE] == (2, 2)
    await sweep({"redis": redis, "payment_providers": PaymentProviders(DummyProvider())})
    assert (await factories.positions(DRESS))[factories.ONLINE] == (2, 0)
    assert [r.state for r in await Reservation.all()] == [ReservationState.RELEASED]
