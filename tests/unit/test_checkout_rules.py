"""What a shopper may order: quantities, on sale, drop limits, readiness, the total."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.domain.checkout import (
    MAX_LINE_QUANTITY,
    LineOnSale,
    PricedLine,
    check_line_quantity,
    check_on_sale,
    check_purchase_limit,
    check_ready_to_order,
    check_units_to_add,
    order_total,
)
from app.domain.errors import DomainError, ErrorCode
from app.domain.reservations import ReservationState, ShopConfirmation, shop_confirmation_for

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
ON_SALE = LineOnSale(published=True, release_at=NOW - timedelta(days=1))
NOT_YET = LineOnSale(published=True, release_at=NOW + timedelta(minutes=1))


def refusal(call: object) -> DomainError:
    assert callable(call)
    with pytest.raises(DomainError) as caught:
        call()
    return caught.value


def test_a_line_holds_one_to_the_maximum() -> None:
    check_line_quantity(1)
    check_line_quantity(MAX_LINE_QUANTITY)
    for wrong in (0, -1, MAX_LINE_QUANTITY + 1):
        error = refusal(lambda q=wrong: check_line_quantity(q))
        assert (error.code, error.path) == (ErrorCode.INVALID_QUANTITY, ("quantity",))
        assert error.message == f"quantity must be 1..{MAX_LINE_QUANTITY}"


def test_setting_zero_removes_a_line_where_that_is_allowed() -> None:
    check_line_quantity(0, zero_removes=True)
    error = refusal(lambda: check_line_quantity(-1, zero_removes=True))
    assert error.message == f"quantity must be 0..{MAX_LINE_QUANTITY}"
    error = refusal(lambda: check_line_quantity(MAX_LINE_QUANTITY + 1, zero_removes=True))
    assert error.code is ErrorCode.INVALID_QUANTITY


def test_adding_adds_at_least_one_unit() -> None:
    check_units_to_add(1)
    error = refusal(lambda: check_units_to_add(0))
    assert (error.code, error.path, error.message) == (
        ErrorCode.INVALID_QUANTITY,
        ("quantity",),
        "add at least 1",
    )


def test_a_withdrawn_product_is_not_found_and_a_future_drop_is_not_released() -> None:
    path = ("variantId",)
    check_on_sale(published=True, release_at=None, now=NOW, path=path)
    check_on_sale(published=True, release_at=NOW, now=NOW, path=path)
    withdrawn = refusal(lambda: check_on_sale(published=False, release_at=None, now=NOW, path=path))
    assert (withdrawn.code, withdrawn.path) == (ErrorCode.NOT_FOUND, path)
    early = refusal(
        lambda: check_on_sale(published=True, release_at=NOT_YET.release_at, now=NOW, path=path)
    )
    assert (early.code, early.path) == (ErrorCode.NOT_RELEASED, path)
    assert early.message == "on sale from 2026-12-01T12:01:00+00:00"


def test_purchase_limit_counts_what_was_bought_already() -> None:
    check_purchase_limit(None, 100, 5)
    check_purchase_limit(2, 1, 1)
    error = refusal(lambda: check_purchase_limit(2, 1, 2, ("lines", 0)))
    assert (error.code, error.path) == (ErrorCode.PURCHASE_LIMIT_EXCEEDED, ("lines", 0))
    assert error.message == "at most 2 per shopper in this drop; 1 left for you"


def test_purchase_limit_never_reports_a_negative_remainder() -> None:
    error = refusal(lambda: check_purchase_limit(2, 5, 1))
    assert error.message == "at most 2 per shopper in this drop; 0 left for you"


def test_a_cart_with_lines_contact_and_delivery_is_ready() -> None:
    check_ready_to_order(has_contact=True, delivery_chosen=True, lines=[ON_SALE], now=NOW)


@pytest.mark.parametrize(
    ("contact", "delivery", "lines", "code", "path"),
    [
        (True, True, [], ErrorCode.EMPTY_CART, ("cartToken",)),
        (False, True, [ON_SALE], ErrorCode.CONTACT_REQUIRED, ("email",)),
        (True, False, [ON_SALE], ErrorCode.DELIVERY_REQUIRED, ("delivery",)),
        (True, True, [ON_SALE, NOT_YET], ErrorCode.NOT_RELEASED, ("lines", 1)),
        (
            True,
            True,
            [LineOnSale(published=False, release_at=None)],
            ErrorCode.NOT_RELEASED,
            ("lines", 0),
        ),
    ],
)
def test_a_cart_that_is_not_ready_says_what_is_missing(
    contact: bool,
    delivery: bool,
    lines: list[LineOnSale],
    code: ErrorCode,
    path: tuple[str | int, ...],
) -> None:
    error = refusal(
        lambda: check_ready_to_order(
            has_contact=contact, delivery_chosen=delivery, lines=lines, now=NOW
        )
    )
    assert (error.code, error.path) == (code, path)


def test_the_order_total_is_each_unit_price_times_its_quantity() -> None:
    lines = [PricedLine(unit_price=1_990_00, quantity=2), PricedLine(unit_price=500, quantity=1)]
    assert order_total(lines) == 3_980_00 + 500
    assert order_total([]) == 0


def test_only_an_orders_units_in_a_shop_wait_for_the_shops_confirmation() -> None:
    assert (
        shop_confirmation_for(from_shop=True, state=ReservationState.ACTIVE)
        is ShopConfirmation.REQUESTED
    )
    assert (
        shop_confirmation_for(from_shop=True, state=ReservationState.HELD)
        is ShopConfirmation.NOT_NEEDED
    )
    assert (
        shop_confirmation_for(from_shop=False, state=ReservationState.ACTIVE)
        is ShopConfirmation.NOT_NEEDED
    )
