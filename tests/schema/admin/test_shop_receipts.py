"""The admin list of shop receipts through the real API: customers:read, newest first in keyset
pages, filters (shop, sale instant, profile, kind), lines, a page limit, and a logged read for
every customer shown."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.domain.access import Scope
from app.domain.shop_sales import RawReceipt, RawReceiptLine, ReceiptKind
from app.models.channels import ShopReceipt
from app.models.identity import IdentityRecord, ProfileAccess
from app.services.channels.shop_sales import record_shop_sales
from tests import factories
from tests.conftest import Clock, graphql

RECEIPTS = """query R($first: Int, $after: String, $shop: String, $from: DateTime,
  $until: DateTime, $profile: ID, $kind: ShopReceiptKind) {
  shopReceipts(first: $first, after: $after, shopGuid: $shop, soldFrom: $from,
    soldUntil: $until, profileId: $profile, kind: $kind) {
    nodes { guid kind shopGuid soldAt saleGuid phone email loyaltyCard profileId totalKopecks
      lines { variantGuid quantity priceKopecks discountKopecks amountKopecks } }
    hasNextPage endCursor } }"""
DRESS = factories.guid("variant/Dress/M/black")
SALE_ANN = factories.guid("receipt/ann-sale")
BACK_ANN = factories.guid("receipt/ann-back")
SALE_BOB = factories.guid("receipt/bob-sale")
ANONYMOUS = factories.guid("receipt/nobody")


def _receipt(guid: str, shop: str, at: str, **extra: Any) -> RawReceipt:
    line = RawReceiptLine(DRESS, 1, "4990.00", "500.00")
    return RawReceipt(guid=guid, shop_guid=shop, sold_at=at, lines=[line], **extra)


@pytest.fixture
async def receipts(db: str, clock: Clock) -> None:
    """Ann buys in shop A and brings it back; Bob buys in shop B; a sale with no customer."""
    await factories.warehouses()
    await factories.product("Dress", variants=[factories.variant("Dress", "M", "black")])
    report = await record_shop_sales(
        receipts=[
            _receipt(
                SALE_ANN, factories.SHOP_A, "2026-11-10T10:00:00+03:00", phone="8 916 111-22-33"
            ),
            _receipt(
                BACK_ANN,
                factories.SHOP_A,
                "2026-11-12T10:00:00+03:00",
                kind=ReceiptKind.RETURN,
                sale_guid=SALE_ANN,
                phone="8 916 111-22-33",
            ),
            _receipt(SALE_BOB, factories.SHOP_B, "2026-11-11T10:00:00+03:00", email="bob@mail.ru"),
            _receipt(ANONYMOUS, factories.SHOP_B, "2026-11-09T10:00:00+03:00"),
        ],
        max_receipts=10,
        max_lines=10,
        now=clock(),
    )
    assert not report.problems, report.problems


async def _profile_of(guid: str) -> int:
    receipt = await ShopReceipt.get(guid=guid)
    return (await IdentityRecord.get(id=receipt.identity_record_id)).profile_id


async def _list(client: httpx.AsyncClient, token: str, **variables: Any) -> dict[str, Any]:
    body = await graphql(client, RECEIPTS, variables, token)
    assert "errors" not in body, body
    page: dict[str, Any] = body["data"]["shopReceipts"]
    return page


@pytest.mark.usefixtures("receipts")
async def test_receipts_come_newest_first_with_their_lines_and_customer(
    client: httpx.AsyncClient,
) -> None:
    reader = await factories.token(Scope.CUSTOMERS_READ)

    page = await _list(client, reader)

    assert [n["guid"] for n in page["nodes"]] == [BACK_ANN, SALE_BOB, SALE_ANN, ANONYMOUS]
    back = page["nodes"][0]
    assert (back["kind"], back["saleGuid"], back["shopGuid"], back["phone"]) == (
        "RETURN",
        SALE_ANN,
        factories.SHOP_A,
        "8 916 111-22-33",
    )
    assert back["profileId"] == str(await _profile_of(BACK_ANN))
    assert back["lines"] == [
        {
            "variantGuid": DRESS,
            "quantity": 1,
            "priceKopecks": 499000,
            "discountKopecks": 50000,
            "amountKopecks": 449000,
        }
    ]
    assert page["nodes"][3]["profileId"] is None
    assert (page["hasNextPage"], page["endCursor"] is not None) == (False, True)


@pytest.mark.usefixtures("receipts")
async def test_pages_follow_the_cursor_without_gaps_or_repeats(client: httpx.AsyncClient) -> None:
    reader = await factories.token(Scope.CUSTOMERS_READ)

    first = await _list(client, reader, first=3)
    rest = await _list(client, reader, first=3, after=first["endCursor"])

    assert [n["guid"] for n in first["nodes"]] == [BACK_ANN, SALE_BOB, SALE_ANN]
    assert first["hasNextPage"] is True
    assert ([n["guid"] for n in rest["nodes"]], rest["hasNextPage"]) == ([ANONYMOUS], False)


@pytest.mark.usefixtures("receipts")
async def test_filters_by_shop_instant_profile_and_kind(client: httpx.AsyncClient) -> None:
    reader = await factories.token(Scope.CUSTOMERS_READ)
    ann = str(await _profile_of(SALE_ANN))

    by_shop = await _list(client, reader, shop=factories.SHOP_B)
    by_time = await _list(
        client, reader, **{"from": "2026-11-10T07:00:00Z", "until": "2026-11-12T07:00:00Z"}
    )
    by_profile = await _list(client, reader, profile=ann)
    returns = await _list(client, reader, kind="RETURN")

    assert [n["guid"] for n in by_shop["nodes"]] == [SALE_BOB, ANONYMOUS]
    assert [n["guid"] for n in by_time["nodes"]] == [SALE_BOB, SALE_ANN]  # until is exclusive
    assert [n["guid"] for n in by_profile["nodes"]] == [BACK_ANN, SALE_ANN]
    assert [n["guid"] for n in returns["nodes"]] == [BACK_ANN]


@pytest.mark.usefixtures("receipts")
async def test_each_customer_shown_is_logged_once_per_page_with_the_receipts(
    client: httpx.AsyncClient,
) -> None:
    reader = await factories.token(Scope.CUSTOMERS_READ)

    await _list(client, reader)

    log = await ProfileAccess.filter(action="shop_receipts").order_by("id")
    ann, bob = await _profile_of(SALE_ANN), await _profile_of(SALE_BOB)
    assert [(e.profile_id, e.detail) for e in log] == [
        (ann, f"receipts {BACK_ANN},{SALE_ANN}"),
        (bob, f"receipts {SALE_BOB}"),
    ]
    assert len({e.actor for e in log}) == 1 and log[0].actor.startswith("token:")


@pytest.mark.usefixtures("receipts")
async def test_a_search_by_profile_is_logged_even_when_it_finds_nothing(
    client: httpx.AsyncClient,
) -> None:
    reader = await factories.token(Scope.CUSTOMERS_READ)
    bob = await _profile_of(SALE_BOB)

    page = await _list(client, reader, profile=str(bob), kind="RETURN")

    assert page["nodes"] == []
    log = await ProfileAccess.filter(action="shop_receipts")
    assert [(e.profile_id, e.detail) for e in log] == [(bob, "receipts: none")]


@pytest.mark.usefixtures("receipts")
async def test_scope_page_size_and_cursor_are_checked_and_nothing_is_logged(
    client: httpx.AsyncClient,
) -> None:
    reader = await factories.token(Scope.CUSTOMERS_READ)
    other = await factories.token(Scope.SHOPS_READ)

    refused = await graphql(client, RECEIPTS, {}, other)
    too_many = await graphql(client, RECEIPTS, {"first": 101}, reader)
    forged = await graphql(client, RECEIPTS, {"after": "bm90LWEtY3Vyc29y"}, reader)
    bad_shop = await graphql(client, RECEIPTS, {"shop": "nope"}, reader)

    codes = [
        (b["errors"][0]["extensions"]["code"], b["errors"][0]["extensions"].get("field"))
        for b in (refused, too_many, forged, bad_shop)
    ]
    assert codes == [
        ("FORBIDDEN", None),
        ("INVALID", ["first"]),
        ("INVALID_CURSOR", ["after"]),
        ("INVALID_GUID", ["shopGuid"]),
    ]
    assert await ProfileAccess.filter(action="shop_receipts").count() == 0
