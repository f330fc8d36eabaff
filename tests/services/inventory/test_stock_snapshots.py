"""Stock snapshots from 1C: newest wins, repeats change nothing, bad rows are named."""

from __future__ import annotations

import asyncio

from app.domain.errors import ErrorCode
from app.models.stock import StockLevel
from app.services.inventory.stock_snapshots import RawStockSnapshot, apply_stock_snapshots
from tests import factories


async def _given_one_variant() -> str:
    await factories.warehouses()
    await factories.product("dress", variants=[factories.variant("dress", "M", "black")])
    return factories.guid("variant/dress/M/black")


async def _on_hand(variant_guid: str, warehouse_guid: str) -> int | None:
    level = await StockLevel.get_or_none(variant__guid=variant_guid, warehouse__guid=warehouse_guid)
    return None if level is None else level.on_hand


def _row(
    variant: str, qty: int, minutes: int, warehouse: str = factories.ONLINE
) -> RawStockSnapshot:
    return RawStockSnapshot(variant, warehouse, qty, factories.iso(factories.later(minutes)))


async def test_a_newer_figure_replaces_the_stored_one(db: str) -> None:
    v = await _given_one_variant()
    await apply_stock_snapshots(rows=[_row(v, 5, 0)], max_rows=10)
    report = await apply_stock_snapshots(rows=[_row(v, 3, 1)], max_rows=10)
    assert (report.applied, report.stale_rows, report.problems) == (1, [], [])
    assert await _on_hand(v, factories.ONLINE) == 3


async def test_an_older_figure_is_ignored_and_reported_stale(db: str) -> None:
    v = await _given_one_variant()
    await apply_stock_snapshots(rows=[_row(v, 3, 10)], max_rows=10)
    report = await apply_stock_snapshots(rows=[_row(v, 9, 5)], max_rows=10)
    assert (report.applied, report.stale_rows) == (0, [0])
    assert await _on_hand(v, factories.ONLINE) == 3


async def test_the_same_message_twice_changes_nothing(db: str) -> None:
    v = await _given_one_variant()
    first = await apply_stock_snapshots(rows=[_row(v, 4, 1)], max_rows=10)
    level = await StockLevel.get(variant__guid=v)
    again = await apply_stock_snapshots(rows=[_row(v, 4, 1)], max_rows=10)
    assert (first.applied, again.applied, again.duplicates, again.stale_rows) == (1, 0, 1, [])
    after = await StockLevel.get(variant__guid=v)
    assert (after.on_hand, after.as_of, after.updated_at) == (4, level.as_of, level.updated_at)


async def test_within_a_batch_the_newest_figure_wins_whatever_the_order(db: str) -> None:
    v = await _given_one_variant()
    report = await apply_stock_snapshots(
        rows=[_row(v, 7, 3), _row(v, 1, 9), _row(v, 5, 6)], max_rows=10
    )
    assert (report.applied, report.stale_rows) == (1, [0, 2])
    assert await _on_hand(v, factories.ONLINE) == 1


async def test_bad_rows_are_named_and_good_rows_still_land(db: str) -> None:
    v = await _given_one_variant()
    rows = [
        _row(v, 2, 1),
        _row(factories.guid("nope"), 1, 1),
        _row(v, 1, 1, warehouse=factories.guid("no-such-warehouse")),
        _row(v, -1, 1, warehouse=factories.SHOP_A),
        RawStockSnapshot("not-a-guid", factories.ONLINE, 1, factories.iso(factories.T0)),
        RawStockSnapshot(v, factories.SHOP_B, 1, "2026-11-01T09:00:00"),  # no offset
        RawStockSnapshot(v, factories.SHOP_B, 1, "yesterday"),
    ]
    report = await apply_stock_snapshots(rows=rows, max_rows=10)
    assert report.applied == 1
    assert [(p.code, p.path) for p in report.problems] == [
        (ErrorCode.UNKNOWN_VARIANT, ("rows", 1, "variantGuid")),
        (ErrorCode.UNKNOWN_WAREHOUSE, ("rows", 2, "warehouseGuid")),
        (ErrorCode.NEGATIVE_QUANTITY, ("rows", 3, "quantity")),
        (ErrorCode.INVALID_GUID, ("rows", 4, "variantGuid")),
        (ErrorCode.INVALID_DATETIME, ("rows", 5, "asOf")),
        (ErrorCode.INVALID_DATETIME, ("rows", 6, "asOf")),
    ]
    assert await StockLevel.all().count() == 1


async def test_offsets_are_compared_as_instants(db: str) -> None:
    v = await _given_one_variant()
    await apply_stock_snapshots(
        rows=[RawStockSnapshot(v, factories.ONLINE, 5, "2026-11-01T12:00:00+03:00")], max_rows=10
    )
    # 09:30 UTC is later than 12:00 Moscow (09:00 UTC) even though "09:30" < "12:00" as text
    report = await apply_stock_snapshots(
        rows=[RawStockSnapshot(v, factories.ONLINE, 2, "2026-11-01T09:30:00Z")], max_rows=10
    )
    assert report.applied == 1
    assert await _on_hand(v, factories.ONLINE) == 2


async def test_a_batch_over_the_limit_is_refused_whole(db: str) -> None:
    v = await _given_one_variant()
    try:
        await apply_stock_snapshots(rows=[_row(v, 1, i) for i in range(3)], max_rows=2)
    except Exception as error:
        assert getattr(error, "code", None) == ErrorCode.BATCH_TOO_LARGE
    else:
        raise AssertionError("expected BATCH_TOO_LARGE")
    assert await StockLevel.all().count() == 0


async def test_racing_messages_leave_the_newest_figure(db: str) -> None:
    v = await _given_one_variant()
    batches = [[_row(v, minute, minute)] for minute in range(1, 21)]
    await asyncio.gather(*(apply_stock_snapshots(rows=b, max_rows=10) for b in reversed(batches)))
    assert await _on_hand(v, factories.ONLINE) == 20
