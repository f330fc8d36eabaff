"""Nothing lost on the way back: 1C and RetailCRM hear every change, once, in order."""

from __future__ import annotations

import asyncio
import gc
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from app.domain.outbox import EventState
from app.models.outbox import OutboxEvent
from app.models.stock import Reservation
from app.settings import Settings
from tests import factories
from tests.conftest import graphql
from tests.waiting import wait_until
from tests.workers.outbox_stack import Stack, running_stack

DRESS = factories.guid("variant/Dress/M/black")
NOW = datetime.now(UTC)
PLACE = """mutation P($cart: String!, $key: String!) { placeOrder(cartToken: $cart,
  idempotencyKey: $key) { order { id token number } errors { code } } }"""
PAY = """mutation Pay($token: String!) { payOrder(orderToken: $token,
  cardNumber: "4242424242424242", idempotencyKey: "pay-attempt-1") {
  order { status } errors { code } } }"""


@pytest.fixture
async def stack(db: str, settings: Settings, redis_url: str) -> AsyncIterator[Stack]:
    await factories.warehouses()
    await factories.product("Dress", variants=[factories.variant("Dress", "M", "black", "4990.00")])
    await factories.stock(DRESS, factories.ONLINE, 1000)
    async with running_stack(settings, redis_url) as running:
        yield running


async def test_a_paid_order_reaches_both_systems_within_a_second(stack: Stack) -> None:
    cart = await factories.cart_with([(DRESS, 2)], now=NOW)
    placed = (await graphql(stack.api, PLACE, {"cart": cart, "key": "e2e-order-1"}))["data"]
    order = placed["placeOrder"]["order"]
    paid = await graphql(stack.api, PAY, {"token": order["token"]})
    assert paid["data"]["payOrder"]["order"]["status"] == "PAID"
    guid = order["id"]

    def everywhere() -> bool:
        onec_order = stack.onec.state.orders.get(guid)
        crm_order = stack.crm.state.orders.get(guid)
        return (
            onec_order is not None
            and onec_order.status == "paid"
            and any(p["orderGuid"] == guid for p in stack.onec.state.payments.values())
            and crm_order is not None
            and crm_order.get("status") == "prepayed"
            and any(p["order"]["externalId"] == guid for p in stack.crm.state.payments.values())
        )

    took = await wait_until(everywhere, within=1.0, what="delivery to both systems")
    assert took < 1.0
    onec_order = stack.onec.state.orders[guid]
    assert onec_order.body["lines"][0]["quantity"] == 2
    assert onec_order.body["lines"][0]["warehouseGuid"] == factories.ONLINE
    assert len(stack.onec.state.customers) == len(stack.crm.state.customers) == 1
    # 1C's registration time is on the reservation: reconciliation can be exact
    reservation = await Reservation.get()
    assert reservation.registered_at == datetime.fromisoformat(onec_order.registered_at)
    # a row is marked delivered just after the system's answer: the systems may see it first
    await wait_until(_nothing_pending, within=1.0, what="every event marked delivered")


async def _nothing_pending() -> bool:
    return await OutboxEvent.filter(state=EventState.PENDING).count() == 0


# The figure on PostgreSQL; a smaller burst on SQLite keeps the suite quick.
BURST_PG, BURST_SQLITE = 500, 100


@pytest.fixture
def burst(db: str) -> int:
    return int(
        os.environ.get("OUTBOX_BURST", BURST_SQLITE if db.startswith("sqlite") else BURST_PG)
    )


async def _burst(count: int, *, during: Callable[[int], object] | None = None) -> list[str]:
    """Place `count` orders (every 5th paid) through the services, as a drop would."""
    from app.integrations.payments.dummy import SUCCEEDS, DummyProvider
    from app.services.jobs import NoQueue
    from app.services.payments.start import pay_order

    provider, guids = DummyProvider(), []
    for n, cart in enumerate(await _ready_carts(count)):
        order = (await factories.place(cart, now=NOW)).order
        guids.append(order.guid)
        if n % 5 == 0:
            await pay_order(
                order_token=order.token,
                idempotency_key="pay-attempt-1",
                provider=provider,
                card_number=SUCCEEDS,
                return_url="https://shop.example/",
                now=NOW,
                jobs=NoQueue(),
            )
        if during is not None:
            result = during(n)
            if asyncio.iscoroutine(result):
                await result
    return guids


async def _ready_carts(count: int) -> list[str]:
    """Carts as `factories.cart_with` leaves them (one dress, contact, courier), written in
    bulk: the burst is about placing orders while systems fail, and building 500 carts through
    four services each would double its time. The dress holds nothing at cart time (no drop
    rules)."""
    from app.domain.orders import DeliveryKind
    from app.models.catalog import Variant
    from app.models.checkout import Cart, CartLine

    variant = await Variant.get(guid=DRESS)
    tokens = [f"burst-{uuid.uuid4().hex}" for _ in range(count)]
    await Cart.bulk_create(
        [
            Cart(
                token=token,
                email=f"buyer{n}@example.com",
                first_name="Анна",
                delivery_kind=DeliveryKind.COURIER,
                delivery_address="Москва, Тверская, 7",
            )
            for n, token in enumerate(tokens)
        ]
    )
    ids = {c.token: c.id for c in await Cart.filter(token__in=tokens)}
    await CartLine.bulk_create(
        [CartLine(cart_id=ids[t], variant_id=variant.id, quantity=1) for t in tokens]
    )
    return tokens


async def _all_delivered(seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while await OutboxEvent.filter(state=EventState.PENDING).exists():
        if time.monotonic() > deadline:
            left = await OutboxEvent.filter(state=EventState.PENDING).order_by("id").limit(3)
            sample = [(e.target, e.kind, e.attempts, e.last_error) for e in left]
            raise AssertionError(f"still pending, e.g. {sample}")
        await asyncio.sleep(0.1)
    assert await OutboxEvent.filter(state=EventState.DEAD).count() == 0


async def _assert_exactly_once_in_order(stack: Stack, guids: list[str]) -> None:
    onec_events = await OutboxEvent.filter(target="onec").values_list("event_id", flat=True)
    applied = stack.onec.state.applied
    assert len(applied) == len(set(applied)) == len(onec_events)  # each event applied once
    assert set(stack.onec.state.orders) == set(guids)
    assert set(stack.crm.state.orders) == set(guids)
    paid = guids[::5]
    assert {g for g, o in stack.onec.state.orders.items() if o.status == "paid"} == set(paid)
    assert {g for g, o in stack.crm.state.orders.items() if o.get("status") == "prepayed"} == set(
        paid
    )
    for guid in paid:  # per order: created, then paid, then its payment, as they happened
        paths = [
            r.path
            for r in stack.onec.requests
            if r.status == 200 and not r.replayed and guid in r.path
        ]
        assert paths[0].endswith(f"/orders/{guid}"), paths
        assert any(p.endswith("/status") for p in paths[1:]), paths


async def test_a_1c_outage_for_the_whole_burst_loses_nothing(stack: Stack, burst: int) -> None:
    await stack.onec_server.stop()
    guids = await _burst(burst)
    assert stack.onec.state.orders == {}
    await stack.onec_server.start()
    await _all_delivered(90)
    await _assert_exactly_once_in_order(stack, guids)


async def test_redis_flushed_in_the_middle_loses_nothing(stack: Stack, burst: int) -> None:
    from redis.asyncio import Redis

    redis = Redis.from_url(stack.redis_url)

    async def flush_halfway(n: int) -> None:
        if n == burst // 2:
            await redis.flushdb()

    try:
        guids = await _burst(burst, during=flush_halfway)
    finally:
        await redis.aclose()
    await _all_delivered(90)
    await _assert_exactly_once_in_order(stack, guids)


# A worker killed mid-job drops what its jobs held (arq finishes a cut-off job's bookkeeping in
# a task of its own, which the pool closes under), as a crashed process would.
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
async def test_a_worker_killed_mid_delivery_and_restarted_loses_nothing(
    stack: Stack, burst: int
) -> None:
    stack.onec.slow(0.02)  # keep deliveries in flight when the worker dies
    await stack.stop_worker()
    guids = await _burst(burst)
    await stack.start_worker()

    async def half_delivered() -> bool:
        return await OutboxEvent.filter(state=EventState.DELIVERED).count() >= burst // 2

    await wait_until(half_delivered, within=90, every=0.05, what="half the burst delivered")
    await stack.kill_worker()  # cut off mid-delivery
    # arq's orphaned bookkeeping fails on the closed pool: let it, before the garbage is counted
    await wait_until(lambda: not _arq_bookkeeping(), within=10, what="arq's bookkeeping ended")
    gc.collect()  # the dropped sockets are reported here, not in a later test
    stack.onec.slow(0)
    await stack.start_worker()
    await _all_delivered(90)
    await _assert_exactly_once_in_order(stack, guids)


def _arq_bookkeeping() -> list[asyncio.Task[Any]]:
    """arq's tasks still running with no worker left: its shielded writes of job outcomes
    (`Worker.finish_job`) outlive a killed worker."""
    return [
        task
        for task in asyncio.all_tasks()
        if not task.done() and getattr(task.get_coro(), "__qualname__", "").startswith("Worker.")
    ]
