"""Placements, cancellations, 1C registrations and 1C figures in any order: the books balance.

Hypothesis draws a sequence of events; after every step the database must agree with a model
small enough to be obviously right.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.domain.errors import DomainError, ErrorCode
from app.models.orders import Order
from app.services.checkout import orders
from app.services.inventory.reconciliation import register_order
from app.services.inventory.reservations import buffer_matches_reservations
from app.services.inventory.stock_snapshots import RawStockSnapshot, apply_stock_snapshots
from tests import factories
from tests.conftest import empty_tables

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
DRESS = factories.guid("variant/Dress/M/black")
WAREHOUSES = (factories.ONLINE, factories.SHOP_A)
Step = tuple[Any, ...]


@dataclass
class Unit:
    warehouse: str
    quantity: int
    registered: int | None = None  # minute on 1C's clock
    open: bool = True  # in the buffer


@dataclass
class Model:
    on_hand: dict[str, int] = field(default_factory=lambda: dict.fromkeys(WAREHOUSES, 3))
    as_of: dict[str, int] = field(default_factory=lambda: dict.fromkeys(WAREHOUSES, 0))
    orders: list[tuple[str, list[Unit], bool]] = field(default_factory=list)  # guid, units, live

    def buffer(self, w: str) -> int:
        return sum(
            u.quantity for _, units, _ in self.orders for u in units if u.open and u.warehouse == w
        )

    def free(self) -> int:
        return sum(max(0, self.on_hand[w] - self.buffer(w)) for w in WAREHOUSES)


events = st.lists(
    st.one_of(
        st.tuples(st.just("place"), st.integers(1, 4)),
        st.tuples(st.just("cancel"), st.integers(0, 9)),
        st.tuples(st.just("register"), st.integers(0, 9), st.integers(1, 30)),
        st.tuples(
            st.just("figure"), st.sampled_from(WAREHOUSES), st.integers(0, 6), st.integers(1, 30)
        ),
    ),
    max_size=12,
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=events)
async def test_the_buffer_always_matches_a_simple_model(
    database_url: str, steps: list[Step]
) -> None:
    await empty_tables()
    await factories.warehouses()
    await factories.product("Dress", variants=[factories.variant("Dress", "M", "black")])
    for w in WAREHOUSES:
        await factories.stock(DRESS, w, 3, as_of=factories.T0)
    model = Model()
    for n, step in enumerate(steps):
        await _apply(model, step, n)
        positions = await factories.positions(DRESS)
        assert {w: positions[w] for w in WAREHOUSES} == {
            w: (model.on_hand[w], model.buffer(w)) for w in WAREHOUSES
        }, step
        assert await buffer_matches_reservations() == []


async def _apply(model: Model, step: Step, n: int) -> None:
    kind = step[0]
    if kind == "place":
        await _place(model, step[1], n)
    elif kind == "cancel" and step[1] < len(model.orders):
        await _cancel(model, step[1])
    elif kind == "register" and step[1] < len(model.orders):
        await _register(model, step[1], step[2])
    elif kind == "figure":
        await _figure(model, step[1], step[2], step[3])


async def _place(model: Model, quantity: int, n: int) -> None:
    cart = await factories.cart_with([], now=NOW, email=f"b{n}@example.com")
    from app.services.checkout import carts

    enough = model.free() >= quantity
    try:
        await carts.set_line(cart_token=cart, variant_guid=DRESS, quantity=quantity, now=NOW)
        placed = await factories.place(cart, now=NOW)
    except DomainError as error:
        assert not enough and error.code is ErrorCode.INSUFFICIENT_STOCK
        return
    assert enough
    from app.models.stock import Reservation

    rows = await Reservation.filter(order_line__order_id=placed.order.id).prefetch_related(
        "warehouse"
    )
    model.orders.append(
        (placed.order.guid, [Unit(r.warehouse.guid, r.quantity) for r in rows], True)
    )


async def _cancel(model: Model, index: int) -> None:
    guid, units, live = model.orders[index]
    order = await Order.get(guid=guid)
    cancelled = await orders.cancel_order(order_id=order.id, reason="test", now=NOW)
    assert cancelled is live
    if live:
        for unit in units:
            unit.open = False
        model.orders[index] = (guid, units, False)


async def _register(model: Model, index: int, minute: int) -> None:
    guid, units, live = model.orders[index]
    at = factories.T0 + timedelta(minutes=minute)
    await register_order(order_guid=guid, registered_at=at, onec_number="1", now=NOW)
    for unit in units:
        if unit.open and unit.registered is None and live:
            unit.registered = minute
            if minute <= model.as_of[unit.warehouse]:
                unit.open = False


async def _figure(model: Model, warehouse: str, quantity: int, minute: int) -> None:
    at = factories.T0 + timedelta(minutes=minute)
    await apply_stock_snapshots(
        rows=[RawStockSnapshot(DRESS, warehouse, quantity, factories.iso(at))], max_rows=1
    )
    if minute <= model.as_of[warehouse]:
        return  # stale (or a repeat): nothing changes
    model.on_hand[warehouse], model.as_of[warehouse] = quantity, minute
    for _, units, _ in model.orders:
        for unit in units:
            if (
                unit.open
                and unit.warehouse == warehouse
                and unit.registered is not None
                and unit.registered <= minute
            ):
                unit.open = False
