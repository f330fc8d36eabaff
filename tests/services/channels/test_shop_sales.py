"""Shop till receipts from 1C:Розница: recorded once, in the customer's history, in one
transaction per batch; a bad receipt is named and leaves nothing."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from asyncpg.exceptions import DeadlockDetectedError

from app.db import is_sqlite
from app.domain.errors import DomainError, ErrorCode
from app.domain.identity import Channel, CustomerSource
from app.domain.shop_sales import RawReceipt, RawReceiptLine, ReceiptKind
from app.models.channels import ShopReceipt, ShopReceiptLine
from app.models.identity import ChannelPurchase, IdentityRecord
from app.services.channels import shop_sales
from app.services.channels.shop_sales import ShopSalesReport, record_shop_sales
from tests import factories

DRESS = factories.guid("variant/Dress/M/black")
SHOP_ONLY = factories.guid("variant/shop-only-socks")  # sold in shops, not in our catalog
NOW = factories.later(60)
SOLD = factories.iso(factories.later(30))


def sale(name: str, *, card: str | None = "7000123", phone: str | None = None) -> RawReceipt:
    return RawReceipt(
        guid=factories.guid(f"receipt/{name}"),
        shop_guid=factories.SHOP_A,
        sold_at=SOLD,
        lines=[RawReceiptLine(DRESS, 2, "4990.00", "990.00"), RawReceiptLine(SHOP_ONLY, 1, "300")],
        phone=phone,
        loyalty_card=card,
    )


async def record(*receipts: RawReceipt) -> ShopSalesReport:
    return await record_shop_sales(
        receipts=list(receipts), max_receipts=100, max_lines=1000, now=NOW
    )


@pytest.fixture
async def catalog(db: str) -> None:
    await factories.warehouses()
    await factories.product("Dress")


async def test_a_receipt_lands_with_its_lines_in_the_cards_history(catalog: None) -> None:
    report = await record(sale("r1"))

    assert (report.recorded, report.duplicates, report.problems) == (1, 0, [])
    receipt = await ShopReceipt.get(guid=factories.guid("receipt/r1"))
    assert (receipt.kind, receipt.total, receipt.customer_key) == (
        ReceiptKind.SALE,
        2 * 499000 - 99000 + 30000,
        "card:7000123",
    )
    lines = await ShopReceiptLine.filter(receipt_id=receipt.id).order_by("id")
    assert [(ln.variant_guid, ln.variant_id is not None, ln.amount) for ln in lines] == [
        (DRESS, True, 899000),
        (SHOP_ONLY, False, 30000),
    ]
    record_row = await IdentityRecord.get(source=CustomerSource.SHOP_TILL)
    assert (record_row.external_id, record_row.id) == ("card:7000123", receipt.identity_record_id)
    purchase = await ChannelPurchase.get(channel=Channel.SHOP)
    assert (purchase.external_ref, purchase.amount_kopecks, purchase.is_return) == (
        receipt.guid,
        929000,
        False,
    )


async def test_a_repeat_changes_nothing_and_another_body_is_a_conflict(catalog: None) -> None:
    await record(sale("r1"))

    again = await record(sale("r1"))
    edited = await record(sale("r1", card="7000999"))

    assert (again.recorded, again.duplicates, again.problems) == (0, 1, [])
    assert (edited.recorded, edited.duplicates) == (0, 0)
    assert [(p.code, list(p.path)) for p in edited.problems] == [
        (ErrorCode.CONFLICT, ["receipts", 0, "guid"])
    ]
    assert await ShopReceipt.all().count() == 1
    assert await ChannelPurchase.all().count() == 1
    assert (await ShopReceipt.get()).loyalty_card == "7000123"


async def test_bad_receipts_are_named_and_the_good_ones_land(catalog: None) -> None:
    bad_price = RawReceipt(
        guid=factories.guid("receipt/bad-price"),
        shop_guid=factories.SHOP_A,
        sold_at=SOLD,
        lines=[RawReceiptLine(DRESS, 1, "4 990,00")],
    )
    online = RawReceipt(
        guid=factories.guid("receipt/online"),
        shop_guid=factories.ONLINE,
        sold_at=SOLD,
        lines=[RawReceiptLine(DRESS, 1, "4990")],
    )
    naive = RawReceipt(
        guid=factories.guid("receipt/naive"),
        shop_guid=factories.SHOP_A,
        sold_at="2026-11-01T09:30:00",
        lines=[RawReceiptLine(DRESS, 1, "4990")],
    )

    report = await record(bad_price, sale("good"), online, naive)

    assert report.recorded == 1
    assert [(p.code, list(p.path)) for p in report.problems] == [
        (ErrorCode.INVALID_PRICE, ["receipts", 0, "lines", 0, "price"]),
        (ErrorCode.INVALID, ["receipts", 2, "shopGuid"]),
        (ErrorCode.INVALID_DATETIME, ["receipts", 3, "soldAt"]),
    ]
    assert [r.guid for r in await ShopReceipt.all()] == [factories.guid("receipt/good")]
    assert await ChannelPurchase.all().count() == 1


async def test_a_return_without_a_card_goes_to_the_sales_customer(catalog: None) -> None:
    await record(sale("r1"))
    back = RawReceipt(
        guid=factories.guid("receipt/r1-back"),
        shop_guid=factories.SHOP_A,
        sold_at=factories.iso(factories.later(40)),
        lines=[RawReceiptLine(DRESS, 1, "4990.00", "495.00")],
        kind=ReceiptKind.RETURN,
        sale_guid=factories.guid("receipt/r1"),
    )

    report = await record(back)

    assert (report.recorded, report.problems) == (1, [])
    stored = await ShopReceipt.get(guid=back.guid)
    assert (stored.customer_key, stored.total) == ("card:7000123", 449500)
    purchase = await ChannelPurchase.get(external_ref=back.guid)
    assert (purchase.is_return, purchase.amount_kopecks) == (True, -449500)
    assert await IdentityRecord.filter(source=CustomerSource.SHOP_TILL).count() == 1


async def test_a_return_must_name_its_sale(catalog: None) -> None:
    orphan = RawReceipt(
        guid=factories.guid("receipt/orphan"),
        shop_guid=factories.SHOP_A,
        sold_at=SOLD,
        lines=[RawReceiptLine(DRESS, 1, "4990")],
        kind=ReceiptKind.RETURN,
    )

    report = await record(orphan)

    assert [(p.code, list(p.path)) for p in report.problems] == [
        (ErrorCode.INVALID, ["receipts", 0, "saleGuid"])
    ]
    assert await ShopReceipt.all().count() == 0


async def test_the_same_receipt_twice_in_one_call_is_recorded_once(catalog: None) -> None:
    report = await record(sale("r1"), sale("r1"), sale("r1", card="other"))

    assert (report.recorded, report.duplicates) == (1, 1)
    assert [(p.code, list(p.path)) for p in report.problems] == [
        (ErrorCode.CONFLICT, ["receipts", 2, "guid"])
    ]


async def test_a_batch_over_the_limit_records_nothing(catalog: None) -> None:
    receipts = [sale(f"r{i}") for i in range(3)]

    with pytest.raises(DomainError) as refused:
        await record_shop_sales(receipts=receipts, max_receipts=2, max_lines=1000, now=NOW)

    assert refused.value.code is ErrorCode.BATCH_TOO_LARGE
    assert await ShopReceipt.all().count() == 0


async def test_a_failure_inside_the_batch_writes_nothing_at_all(
    catalog: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.services.channels import shop_sales

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(shop_sales, "record_purchase", broken)

    with pytest.raises(RuntimeError):
        await record(sale("r1"), sale("r2", card="7000456"))

    assert await ShopReceipt.all().count() == 0
    assert await ShopReceiptLine.all().count() == 0
    assert await IdentityRecord.all().count() == 0


async def test_a_receipt_from_the_future_is_refused(catalog: None) -> None:
    ahead = RawReceipt(
        guid=factories.guid("receipt/ahead"),
        shop_guid=factories.SHOP_A,
        sold_at=factories.iso(NOW + timedelta(hours=1)),
        lines=[RawReceiptLine(DRESS, 1, "4990")],
    )

    report = await record(ahead)

    assert [(p.code, list(p.path)) for p in report.problems] == [
        (ErrorCode.INVALID_DATETIME, ["receipts", 0, "soldAt"])
    ]


async def test_two_calls_with_the_same_receipts_at_once_record_each_once(catalog: None) -> None:
    if is_sqlite():
        pytest.skip("concurrency is tested on PostgreSQL")
    batch = [sale(f"r{i}", card=f"70{i % 3}") for i in range(20)]

    reports = await asyncio.gather(*[record(*batch) for _ in range(4)])

    assert sorted(r.recorded for r in reports) == [0, 0, 0, 20]
    assert sum(r.duplicates for r in reports) == 60
    assert [r.problems for r in reports] == [[], [], [], []]
    assert await ShopReceipt.all().count() == 20
    assert await ChannelPurchase.all().count() == 20
    assert await IdentityRecord.filter(source=CustomerSource.SHOP_TILL).count() == 3


async def test_a_customers_receipts_in_one_call_leave_what_each_field_said_last(
    catalog: None,
) -> None:
    older = sale("r1", card="7000123", phone="+7 916 111-11-11")
    newer = RawReceipt(
        guid=factories.guid("receipt/r2"),
        shop_guid=factories.SHOP_A,
        sold_at=factories.iso(factories.later(45)),
        lines=[RawReceiptLine(DRESS, 1, "4990")],
        loyalty_card="7000123",
        email="anna@example.ru",
    )

    await record(newer, older)

    record_row = await IdentityRecord.get(source=CustomerSource.SHOP_TILL)
    assert (record_row.phone_raw, record_row.email, record_row.loyalty_card) == (
        "+7 916 111-11-11",
        "anna@example.ru",
        "7000123",
    )


async def test_a_batch_postgresql_chose_to_break_a_deadlock_is_written_again(
    catalog: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a batch whose first transaction PostgreSQL aborts to break a deadlock (two batches
    # whose customers' records cross), which it rolls back whole
    write = shop_sales._write
    attempts: list[int] = []

    async def deadlocked_once(*args: Any) -> ShopSalesReport:
        attempts.append(len(attempts))
        if len(attempts) == 1:
            raise DeadlockDetectedError("deadlock detected")
        return await write(*args)

    monkeypatch.setattr(shop_sales, "_write", deadlocked_once)
    # when 1C sends it
    report = await record(sale("r1"))
    # then it is written by the second attempt, once
    assert (attempts, report.recorded, report.problems) == ([0, 1], 1, [])
    assert await ShopReceipt.filter(guid=factories.guid("receipt/r1")).count() == 1
