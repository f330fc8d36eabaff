"""Order status reported back: forward only, repeats are nothing, returns settle exactly;
till receipts parse strictly; a closing receipt has a line per marked unit."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.domain.closing_receipt import ClosingReceiptItem, ShippedLine, closing_items
from app.domain.errors import DomainError, ErrorCode
from app.domain.order_status import Verdict, judge, judge_return, settle_return
from app.domain.orders import OrderStatus
from app.domain.shop_sales import (
    RawReceipt,
    RawReceiptLine,
    ReceiptKind,
    customer_key,
    parse_receipt,
)

G1 = "5f1d7a3e-2b1c-11ef-9a4b-005056b6a001"
G2 = "5f1d7a3e-2b1c-11ef-9a4b-005056b6a002"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("current", "target", "verdict"),
    [
        (OrderStatus.PAID, OrderStatus.SHIPPED, Verdict.MOVE),
        (OrderStatus.READY_FOR_SHIPPING, OrderStatus.SHIPPED, Verdict.MOVE),
        (OrderStatus.SHIPPED, OrderStatus.DELIVERED, Verdict.MOVE),
        (OrderStatus.SHIPPED, OrderStatus.SHIPPED, Verdict.REPEAT),
        (OrderStatus.CANCELLED, OrderStatus.CANCELLED, Verdict.REPEAT),
        (OrderStatus.PAID, OrderStatus.CANCELLED, Verdict.MOVE),
    ],
)
def test_a_report_ahead_moves_and_one_at_the_same_place_repeats(
    current: OrderStatus, target: OrderStatus, verdict: Verdict
) -> None:
    assert judge(current, target) is verdict


@pytest.mark.parametrize(
    ("current", "target", "message"),
    [
        (OrderStatus.DELIVERED, OrderStatus.SHIPPED, "cannot move back to shipped"),
        (OrderStatus.SHIPPED, OrderStatus.CANCELLED, "cannot move on to cancelled"),
        (OrderStatus.AWAITING_PAYMENT, OrderStatus.SHIPPED, "cannot move on to shipped"),
        (OrderStatus.RETURNED, OrderStatus.DELIVERED, "cannot move back to delivered"),
    ],
)
def test_a_move_back_or_a_jump_is_refused(
    current: OrderStatus, target: OrderStatus, message: str
) -> None:
    with pytest.raises(DomainError) as refused:
        judge(current, target)

    assert (refused.value.code, tuple(refused.value.path)) == (
        ErrorCode.INVALID_TRANSITION,
        ("status",),
    )
    assert message in refused.value.message


def test_only_an_order_that_went_out_takes_a_return() -> None:
    judge_return(OrderStatus.DELIVERED)
    with pytest.raises(DomainError):
        judge_return(OrderStatus.PAID)


def test_a_partial_return_then_the_rest_returns_everything_once() -> None:
    sold = {1: (2, 499000), 2: (1, 299000)}

    first, part = settle_return(sold=sold, returned_before={}, returning={1: 1})
    rest, whole = settle_return(sold=sold, returned_before={1: 1}, returning=None)

    assert (first, part.status, part.refund_kopecks) == (
        {1: 1},
        OrderStatus.PARTLY_RETURNED,
        499000,
    )
    assert (rest, whole.status, whole.refund_kopecks) == (
        {1: 1, 2: 1},
        OrderStatus.RETURNED,
        798000,
    )
    with pytest.raises(DomainError) as nothing_left:
        settle_return(sold=sold, returned_before={1: 2, 2: 1}, returning=None)
    assert nothing_left.value.code is ErrorCode.INVALID_QUANTITY


def test_more_units_than_are_out_or_another_variant_are_refused() -> None:
    for returning in ({1: 3}, {9: 1}, {1: 0}):
        with pytest.raises(DomainError) as refused:
            settle_return(sold={1: (2, 100)}, returned_before={}, returning=returning)
        assert refused.value.code is ErrorCode.INVALID_QUANTITY


def _raw(**changes: object) -> RawReceipt:
    fields: dict[str, object] = {
        "guid": G1.upper(),
        "shop_guid": f"{{{G2}}}",
        "sold_at": "2026-12-01T14:00:00+03:00",
        "lines": [RawReceiptLine(G2, 2, "4990.00", "980.00")],
    }
    return RawReceipt(**(fields | changes))  # type: ignore[arg-type]


def test_a_receipt_is_parsed_to_kopecks_and_utc() -> None:
    receipt = parse_receipt(_raw(loyalty_card=" 7000 "), now=NOW, path=("receipts", 0))

    assert (receipt.guid, receipt.shop_guid, receipt.sold_at) == (
        G1,
        G2,
        datetime(2026, 12, 1, 11, 0, tzinfo=UTC),
    )
    assert (receipt.lines[0].amount, receipt.total, customer_key(receipt)) == (
        900000,
        900000,
        "card:7000",
    )
    assert (
        receipt.fingerprint()
        == parse_receipt(_raw(loyalty_card="7000"), now=NOW, path=()).fingerprint()
    )


@pytest.mark.parametrize(
    ("changes", "code", "path"),
    [
        ({"lines": []}, ErrorCode.INVALID, ("lines",)),
        (
            {"lines": [RawReceiptLine(G2, 0, "1")]},
            ErrorCode.INVALID_QUANTITY,
            ("lines", 0, "quantity"),
        ),
        (
            {"lines": [RawReceiptLine(G2, 1, "1", "2")]},
            ErrorCode.INVALID_PRICE,
            ("lines", 0, "discount"),
        ),
        ({"sold_at": "2026-12-01T14:00:00"}, ErrorCode.INVALID_DATETIME, ("soldAt",)),
        ({"kind": ReceiptKind.RETURN}, ErrorCode.INVALID, ("saleGuid",)),
        ({"kind": ReceiptKind.RETURN, "sale_guid": G1}, ErrorCode.INVALID, ("saleGuid",)),
        ({"sale_guid": G2}, ErrorCode.INVALID, ("saleGuid",)),
    ],
)
def test_a_receipt_with_a_fault_is_refused_at_its_path(
    changes: dict[str, object], code: ErrorCode, path: tuple[object, ...]
) -> None:
    with pytest.raises(DomainError) as refused:
        parse_receipt(_raw(**changes), now=NOW, path=())

    assert (refused.value.code, tuple(refused.value.path)) == (code, path)


def test_an_anonymous_receipt_is_a_record_of_its_own() -> None:
    assert customer_key(parse_receipt(_raw(), now=NOW, path=())) == f"receipt:{G1}"


def test_a_closing_receipt_has_a_line_per_coded_unit_and_one_for_the_rest() -> None:
    lines = [ShippedLine(1, "Платье", 3, 499000), ShippedLine(2, "Шарф", 1, 150000)]

    items = closing_items(lines, {1: ["A", "B"]})

    assert items == [
        ClosingReceiptItem("Платье", 1, 499000, "A"),
        ClosingReceiptItem("Платье", 1, 499000, "B"),
        ClosingReceiptItem("Платье", 1, 499000),
        ClosingReceiptItem("Шарф", 1, 150000),
    ]
