"""Exact reconciliation with 1C, whatever order the messages arrive in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.domain.reservations import ReservationState
from app.models.stock import Reservation
from app.services.checkout import orders
from app.services.inventory.reconciliation import register_order
from app.services.inventory.reservations import buffer_matches_reservations
from tests import factories

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
DRESS = factories.guid("variant/Dress/M/black")


def at(minutes: int) -> datetime:
    return factories.T0 + timedelta(minutes=minutes)


async def _order_of_two() -> str:
    await factories.warehouses()
    await factories.product("Dress", variants=[factories.variant("Dress", "M", "black")])
    await factories.stock(DRESS, factories.ONLINE, 5, as_of=at(0))
    placed = await factories.place(await factories.cart_with([(DRESS, 2)], now=NOW), now=NOW)
    return placed.order.guid


async def _online() -> tuple[int, int]:
    return (await factories.positions(DRESS))[factories.ONLINE]


async def _register(order_guid: str, minutes: int) -> int:
    return await register_order(
        order_guid=order_guid, registered_at=at(minutes), onec_number="ЗК-1", now=NOW
    )


async def test_a_figure_releases_only_what_1c_registered_before_it(db: str) -> None:
    order = await _order_of_two()
    await factories.stock(
        DRESS, factories.ONLINE, 5, as_of=at(1)
    )  # 1C has not registered the order yet
    assert await _online() == (5, 2)
    assert await _register(order, 2) == 0  # registered after the figure we hold
    assert await _online() == (5, 2)
    await factories.stock(
        DRESS, factories.ONLINE, 3, as_of=at(3)
    )  # 1C's figure now subtracts the order
    assert await _online() == (3, 0)
    assert [r.state for r in await Reservation.all()] == [ReservationState.RECONCILED]


async def test_a_registration_that_arrives_after_a_newer_figure_releases_at_once(
    db: str,
) -> None:
    order = await _order_of_two()
    await factories.stock(
        DRESS, factories.ONLINE, 3, as_of=at(5)
    )  # the figure overtook 1C's answer
    assert await _online() == (3, 2)  # counted twice for a moment: never oversold
    assert await _register(order, 4) == 2
    assert await _online() == (3, 0)


async def test_repeats_and_stale_figures_release_nothing_twice(db: str) -> None:
    order = await _order_of_two()
    await _register(order, 2)
    await factories.stock(DRESS, factories.ONLINE, 3, as_of=at(3))
    assert await _register(order, 2) == 0
    await factories.stock(DRESS, factories.ONLINE, 3, as_of=at(3))  # the same message again
    from app.services.inventory.stock_snapshots import RawStockSnapshot, apply_stock_snapshots

    stale = await apply_stock_snapshots(
        rows=[RawStockSnapshot(DRESS, factories.ONLINE, 9, factories.iso(at(2)))], max_rows=10
    )
    assert stale.stale_rows == [0]
    assert await _online() == (3, 0)
    assert await buffer_matches_reservations() == []


async def test_cancelling_a_reconciled_order_leaves_the_buffer_alone(db: str) -> None:
    order_guid = await _order_of_two()
    await _register(order_guid, 2)
    await factories.stock(DRESS, factories.ONLINE, 3, as_of=at(3))
    from app.models.orders import Order

    order = await Order.get(guid=order_guid)
    assert await orders.cancel_order(order_id=order.id, reason="test", now=NOW)
    assert await _online() == (3, 0)  # 1C gives the units back with its next figure
    assert [r.state for r in await Reservation.all()] == [ReservationState.RECONCILED]


async def test_only_the_registered_warehouse_is_reconciled(db: str) -> None:
    await factories.warehouses()
    await factories.product("Dress", variants=[factories.variant("Dress", "M", "black")])
    await factories.stock(DRESS, factories.ONLINE, 1, as_of=at(0))
    await factories.stock(DRESS, factories.SHOP_A, 1, as_of=at(0))
    placed = await factories.place(await factories.cart_with([(DRESS, 2)], now=NOW), now=NOW)
    await _register(placed.order.guid, 1)
    await factories.stock(DRESS, factories.SHOP_A, 0, as_of=at(2))
    positions = await factories.positions(DRESS)
    assert (positions[factories.ONLINE], positions[factories.SHOP_A]) == ((1, 1), (0, 0))
