"""recordShopSales through the real app, as 1C:Розница sends it (the 1C simulator's tills):
a scoped token, per-receipt typed errors, repeats answered as duplicates, thousands of lines."""

from __future__ import annotations

import httpx
import pytest

from app.devtools.simulators.onec_push import OneCPusher, PushRefused, Till
from app.domain.access import Scope
from app.models.channels import ShopReceipt, ShopReceiptLine
from app.models.identity import ChannelPurchase
from app.settings import Settings
from tests import factories

DRESS = factories.guid("variant/Dress/M/black")


@pytest.fixture
async def tills(client: httpx.AsyncClient) -> tuple[OneCPusher, Till]:
    await factories.warehouses()
    await factories.product("Dress")
    token = await factories.token(Scope.SALES_WRITE)
    return OneCPusher(client, token), Till(factories.SHOP_A)


async def test_receipts_land_and_a_repeat_is_a_duplicate(tills: tuple[OneCPusher, Till]) -> None:
    onec, till = tills
    sale = till.sale(factories.guid("r/1"), [(DRESS, 1, "4990.00", "0")], card="7000123")
    back = till.refund(factories.guid("r/2"), sale["guid"], [(DRESS, 1, "4990.00", "0")])

    first = await onec.record_shop_sales([sale, back])
    again = await onec.record_shop_sales([sale])

    assert first == {"recorded": 2, "duplicates": 0, "errors": []}
    assert again == {"recorded": 0, "duplicates": 1, "errors": []}
    assert await ChannelPurchase.all().count() == 2


async def test_a_bad_receipt_is_named_by_path_and_the_others_land(
    tills: tuple[OneCPusher, Till],
) -> None:
    onec, till = tills
    good = till.sale(factories.guid("r/good"), [(DRESS, 1, "4990", "0")])
    nul = till.sale(factories.guid("r/nul"), [(DRESS, 1, "4990", "0")], card="70\x0001")
    long_card = till.sale(factories.guid("r/long"), [(DRESS, 1, "4990", "0")], card="7" * 65)
    bad_guid = till.sale("not-a-guid", [(DRESS, 1, "4990", "0")])

    answer = await onec.record_shop_sales([nul, good, long_card, bad_guid])

    assert answer["recorded"] == 1
    assert [(e["code"], e["path"]) for e in answer["errors"]] == [
        ("INVALID", ["receipts", "0", "customer", "loyaltyCard"]),
        ("INVALID", ["receipts", "2", "customer", "loyaltyCard"]),
        ("INVALID_GUID", ["receipts", "3", "guid"]),
    ]
    assert await ShopReceipt.all().values_list("guid", flat=True) == [good["guid"]]


async def test_the_token_needs_the_sales_scope(client: httpx.AsyncClient) -> None:
    await factories.warehouses()
    stock_only = OneCPusher(client, await factories.token(Scope.STOCK_WRITE))
    nobody = OneCPusher(client, "vit_wrong")
    sale = Till(factories.SHOP_A).sale(factories.guid("r/1"), [(DRESS, 1, "4990", "0")])

    with pytest.raises(PushRefused) as forbidden:
        await stock_only.record_shop_sales([sale])
    with pytest.raises(PushRefused) as unknown:
        await nobody.record_shop_sales([sale])

    assert forbidden.value.errors[0]["extensions"]["code"] == "FORBIDDEN"
    assert unknown.value.errors[0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert await ShopReceipt.all().count() == 0


async def test_five_thousand_lines_land_in_one_call(tills: tuple[OneCPusher, Till]) -> None:
    onec, till = tills
    receipts = [
        till.sale(
            factories.guid(f"r/{n}"),
            [(DRESS, 1, "4990.00", "100.00")] * 25,
            phone=f"+7 916 {n:03d}-00-00",
        )
        for n in range(200)
    ]

    answer = await onec.record_shop_sales(receipts)

    assert (answer["recorded"], answer["errors"]) == (200, [])
    assert await ShopReceiptLine.all().count() == 5000


async def test_a_call_over_the_limit_records_nothing(
    tills: tuple[OneCPusher, Till], settings: Settings
) -> None:
    onec, till = tills
    settings.max_shop_receipts = 3  # the app reads its limits per request
    receipts = [till.sale(factories.guid(f"r/{n}"), [(DRESS, 1, "1", "0")]) for n in range(4)]

    answer = await onec.record_shop_sales(receipts)

    assert answer["recorded"] == 0
    assert [(e["code"], e["path"]) for e in answer["errors"]] == [("BATCH_TOO_LARGE", ["receipts"])]
    assert await ShopReceipt.all().count() == 0
