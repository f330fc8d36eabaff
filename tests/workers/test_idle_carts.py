"""Idle carts are deleted by the sweep and their holds go back on sale, the books balanced."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from app.domain.reservations import ReservationState
from app.models.catalog import Collection, HoldMode
from app.models.checkout import Cart, CartLine
from app.models.orders import Order
from app.models.stock import Reservation
from app.services.checkout import carts
from app.services.checkout.idle_carts import clear_idle_carts
from app.services.inventory.reservations import buffer_matches_reservations
from app.settings import Settings
from app.workers.carts import sweep_idle_carts
from app.workers.clock import WorkerClock
from app.workers.settings import build_worker
from tests import factories

DRESS = factories.guid("variant/Dress/M/black")
IDLE = timedelta(hours=1)


async def _given_holding_drop() -> None:
    """A dress (5 online) in a drop that holds units at add-to-cart for 10 hours."""
    await factories.warehouses()
    drop = await factories.collection("Drop", datetime.now(UTC) - timedelta(days=1))
    await Collection.filter(guid=drop).update(hold_mode=HoldMode.AT_CART, hold_minutes=600)
    await factories.product("Dress", collection_guid=drop)
    await factories.stock(DRESS, factories.ONLINE, 5)


async def _holding_cart(units: int, at: datetime) -> str:
    token = (await carts.create_cart()).token
    await carts.add_to_line(cart_token=token, variant_guid=DRESS, quantity=units, now=at)
    return token


def _ctx(settings: Settings, at: datetime) -> dict[str, Any]:
    """A worker's context whose clock reads `at`."""
    return {"settings": settings, "clock": WorkerClock(wall=lambda: at)}


async def test_a_cart_idle_past_the_setting_goes_with_its_holds(
    db: str, settings: Settings
) -> None:
    await _given_holding_drop()
    start = datetime.now(UTC)
    idle = await _holding_cart(2, start)
    busy = await _holding_cart(1, start)
    hours = settings.model_copy(update={"cart_idle_hours": 1})
    assert (await factories.positions(DRESS))[factories.ONLINE] == (5, 3)
    await carts.add_to_line(  # the busy shopper comes back after 50 minutes
        cart_token=busy, variant_guid=DRESS, quantity=1, now=start + timedelta(minutes=50)
    )

    cleared = await sweep_idle_carts(_ctx(hours, start + IDLE + timedelta(minutes=1)))

    assert cleared == 1
    assert [c.token for c in await Cart.all()] == [busy]
    assert await CartLine.filter(cart__token=idle).count() == 0
    assert (await factories.positions(DRESS))[factories.ONLINE] == (5, 2)  # the busy cart's 2
    states = sorted((r.quantity, r.state) for r in await Reservation.all())
    assert states == [
        (1, ReservationState.RELEASED),  # the busy cart's first hold, replaced at its return
        (2, ReservationState.HELD),
        (2, ReservationState.RELEASED),
    ]
    assert await buffer_matches_reservations() == []


async def test_a_cart_touched_within_the_setting_stays(db: str, settings: Settings) -> None:
    await _given_holding_drop()
    start = datetime.now(UTC)
    token = await _holding_cart(1, start)
    hours = settings.model_copy(update={"cart_idle_hours": 1})

    assert await sweep_idle_carts(_ctx(hours, start + IDLE - timedelta(seconds=1))) == 0

    assert await CartLine.filter(cart__token=token).count() == 1
    assert (await factories.positions(DRESS))[factories.ONLINE] == (5, 1)


async def test_a_cart_an_order_came_from_keeps_its_row_and_a_second_run_finds_nothing(
    db: str,
) -> None:
    await _given_holding_drop()
    start = datetime.now(UTC)
    ordered = await factories.cart_with([(DRESS, 1)], now=start)
    placed = await factories.place(ordered, now=start)
    await carts.add_to_line(cart_token=ordered, variant_guid=DRESS, quantity=2, now=start)
    later = start + IDLE + timedelta(minutes=1)

    first = await clear_idle_carts(now=later, idle=IDLE)
    again = await clear_idle_carts(now=later, idle=IDLE)

    assert (first.carts, first.deleted, first.released) == (1, 0, 2)
    assert (again.carts, again.deleted, again.released) == (0, 0, 0)
    # the account's order list proves ownership through the cart: it stays, empty
    assert (await Order.get(id=placed.order.id)).cart_id == (await Cart.get(token=ordered)).id
    assert await CartLine.all().count() == 0
    assert (await factories.positions(DRESS))[factories.ONLINE] == (5, 1)  # the order's unit
    assert await buffer_matches_reservations() == []


async def test_many_idle_carts_go_a_batch_at_a_time(db: str) -> None:
    await _given_holding_drop()
    start = datetime.now(UTC)
    for _ in range(5):
        await _holding_cart(1, start)

    cleared = await clear_idle_carts(now=start + IDLE * 2, idle=IDLE, batch=2)

    assert (cleared.carts, cleared.deleted, cleared.released) == (5, 5, 5)
    assert await Cart.all().count() == 0
    assert (await factories.positions(DRESS))[factories.ONLINE] == (5, 0)
    assert await buffer_matches_reservations() == []


async def test_a_cart_in_use_is_skipped_not_waited_for(db: str) -> None:
    if db.startswith("sqlite"):
        pytest.skip("SQLite has one writer at a time: no cart is in use while the sweep runs")
    await _given_holding_drop()
    start = datetime.now(UTC)
    in_use, idle = await _holding_cart(1, start), await _holding_cart(1, start)
    shopper = await asyncpg.connect(db)
    try:
        async with shopper.transaction():  # as a shopper's addToCart holds its cart
            cart_id = (await Cart.get(token=in_use)).id
            await shopper.execute("SELECT id FROM cart WHERE id = $1 FOR UPDATE", cart_id)
            cleared = await asyncio.wait_for(
                clear_idle_carts(now=start + IDLE * 2, idle=IDLE), timeout=10
            )
    finally:
        await shopper.close()
    assert cleared.carts == 1
    assert [c.token for c in await Cart.all()] == [in_use]
    assert not await Cart.filter(token=idle).exists()
    assert await buffer_matches_reservations() == []


async def test_the_housekeeping_worker_sweeps_idle_carts_every_ten_minutes(
    settings: Settings,
) -> None:
    worker = build_worker(settings, redis_url="redis://127.0.0.1:6379/3", handle_signals=False)
    crons = {job.name: job for job in worker.cron_jobs}
    assert "sweep_idle_carts" in worker.functions
    assert crons["cron:sweep_idle_carts"].minute == {5, 15, 25, 35, 45, 55}
