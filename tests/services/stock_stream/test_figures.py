"""A variant's figure in one read: the availability rule, per warehouse, version, valid_until."""

from __future__ import annotations

from datetime import timedelta

from tortoise.transactions import in_transaction

from app.db import connection
from app.domain.reservations import ReservationState
from app.models.catalog import Variant, Warehouse
from app.services.inventory.reservations import Claim, reserve
from app.services.stock_stream import VariantStock, read_figures
from tests import factories
from tests.conftest import QueryCounter

DRESS = factories.guid("variant/Dress/M/black")
T = factories.T0 + timedelta(days=1)


async def _given_stock() -> tuple[int, dict[str, int]]:
    await factories.warehouses()
    await factories.product("Dress")
    for warehouse, qty in ((factories.ONLINE, 5), (factories.SHOP_A, 2), (factories.CLOSED, 7)):
        await factories.stock(DRESS, warehouse, qty)
    ids = dict(await Warehouse.all().values_list("guid", "id"))
    return (await Variant.get(guid=DRESS)).id, ids


async def _hold(variant_id: int, warehouse_id: int, qty: int, minutes: int) -> None:
    claim = Claim(ReservationState.HELD, expires_at=T + timedelta(minutes=minutes))
    async with in_transaction() as conn:
        await reserve(
            conn,
            variant_id=variant_id,
            quantity=qty,
            ranked=[warehouse_id],
            shops=set(),
            claim=claim,
            now=T,
        )


async def test_a_figure_sums_sellable_warehouses_and_carries_its_rows_versions(db: str) -> None:
    variant_id, w = await _given_stock()

    found = await read_figures(connection(), [variant_id], now=T)

    assert found.figures == {
        variant_id: VariantStock(
            variant_id=variant_id,
            available=7,  # the returns warehouse's 7 are not sold online
            by_warehouse={w[factories.ONLINE]: 5, w[factories.SHOP_A]: 2, w[factories.SHOP_B]: 0},
            version=3,  # three rows written once each
            valid_until=None,
        )
    }
    assert found.row_versions == {
        (variant_id, w[factories.ONLINE]): 1,
        (variant_id, w[factories.SHOP_A]): 1,
        (variant_id, w[factories.SHOP_B]): 0,  # no row: nothing written
        (variant_id, w[factories.CLOSED]): 1,
    }


async def test_a_live_hold_counts_until_its_expiry_which_the_figure_names(db: str) -> None:
    variant_id, w = await _given_stock()
    await _hold(variant_id, w[factories.ONLINE], 2, minutes=10)
    await _hold(variant_id, w[factories.SHOP_A], 1, minutes=4)

    now = await read_figures(connection(), [variant_id], now=T)
    later = await read_figures(connection(), [variant_id], now=T + timedelta(minutes=4))
    past = await read_figures(connection(), [variant_id], now=T + timedelta(minutes=10))

    assert (now.figures[variant_id].available, now.figures[variant_id].version) == (4, 5)
    assert now.figures[variant_id].valid_until == T + timedelta(minutes=4)
    assert not now.figures[variant_id].is_valid_at(T + timedelta(minutes=4))
    assert later.figures[variant_id].available == 5  # the 4-minute hold no longer counts
    assert later.figures[variant_id].valid_until == T + timedelta(minutes=10)
    assert (past.figures[variant_id].available, past.figures[variant_id].valid_until) == (7, None)
    assert past.figures[variant_id].version == 5  # expiry is not a write


async def test_many_variants_are_read_in_one_statement(db: str, sql_counter: QueryCounter) -> None:
    await factories.warehouses()
    await factories.product(
        "Dress", variants=[factories.variant("Dress", size, "black") for size in "SMLX"]
    )
    ids = [v for (v,) in await Variant.all().values_list("id")]
    sql_counter.statements.clear()

    found = await read_figures(connection(), ids, now=T)

    assert sorted(found.figures) == sorted(ids)
    assert {f.available for f in found.figures.values()} == {0}
    assert len(sql_counter.statements) == 1


def test_a_figure_survives_the_stream_encoding() -> None:
    figure = VariantStock(
        variant_id=3, available=4, by_warehouse={1: 3, 2: 1}, version=9, valid_until=T
    )

    assert VariantStock.decode(figure.encode()) == figure
