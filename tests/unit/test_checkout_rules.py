"""What a shopper may order: quantities, on sale, drop limits, readiness, the total."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.domain.checkout import (
    MAX_LINE_QUANTITY,
    LineOnSale,
    PricedLine,
    Shopper,
    ShopperKind,
    address_scope,
    check_line_quantity,
    check_on_sale,
    check_purchase_limit,
    check_ready_to_order,
    check_units_to_add,
    device_key,
    in_drop_rush,
    order_total,
    parse_device_id,
    shopper_keys,
    too_many_calls,
    unpaid_order_exists,
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


# --- fair under bots ----------------------------------------------------------------------

DEVICE = "1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b"


def test_a_device_id_is_a_uuid_in_its_canonical_form_and_anything_else_is_none() -> None:
    assert parse_device_id(DEVICE) == DEVICE
    assert parse_device_id(DEVICE.upper()) == DEVICE
    for wrong in (None, "", "bot", DEVICE + "0", DEVICE.replace("-", ""), "{" + DEVICE[1:] + "}"):
        assert parse_device_id(wrong) is None


def test_an_address_is_counted_as_one_ipv4_address_or_one_ipv6_64() -> None:
    assert address_scope("203.0.113.7") == "203.0.113.7"
    assert address_scope("2001:db8:1:2:aaaa::1") == "2001:db8:1:2::/64"
    assert address_scope("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert address_scope("::ffff:203.0.113.7") == "203.0.113.7"
    assert address_scope("testclient") == "testclient"  # not an address: taken as it is


def test_a_device_without_an_id_is_its_address_and_neither_is_kept_in_clear() -> None:
    assert device_key(DEVICE, "203.0.113.7") == device_key(DEVICE, "198.51.100.1")
    assert device_key(None, "203.0.113.7") == device_key(None, "203.0.113.7")
    assert device_key(None, "2001:db8:1:2::1") == device_key(None, "2001:db8:1:2::2")
    assert device_key(None, "203.0.113.7") != device_key(None, "203.0.113.8")
    assert device_key(None, "203.0.113.7") != device_key(DEVICE, "203.0.113.7")
    key = device_key(DEVICE, "203.0.113.7")
    assert len(key) == 32 and DEVICE not in key and "203.0.113.7" not in key


def test_a_shopper_has_one_key_per_known_identity_and_each_says_what_it_is() -> None:
    everything = Shopper(account_id=7, email="anna@example.com", phone="+79161234567", device="d")
    keys = shopper_keys(everything)
    assert list(keys.values()) == [
        ShopperKind.ACCOUNT,
        ShopperKind.EMAIL,
        ShopperKind.PHONE,
        ShopperKind.DEVICE,
    ]
    assert all(len(key) == 32 and "anna" not in key for key in keys)
    assert shopper_keys(Shopper()) == {}
    only_phone = shopper_keys(Shopper(phone="+79161234567"))
    assert list(only_phone.values()) == [ShopperKind.PHONE]
    assert set(only_phone) < set(keys)  # the same phone is the same key, whoever has it
    # an e-mail and a device spelled alike are different identities
    assert shopper_keys(Shopper(email="x")) != shopper_keys(Shopper(device="x"))


def test_the_one_unpaid_order_rule_holds_from_the_release_for_the_rush() -> None:
    rush = timedelta(hours=24)
    assert not in_drop_rush(None, NOW, rush)
    assert not in_drop_rush(NOW + timedelta(seconds=1), NOW, rush)
    assert in_drop_rush(NOW, NOW, rush)
    assert in_drop_rush(NOW - rush + timedelta(seconds=1), NOW, rush)
    assert not in_drop_rush(NOW - rush, NOW, rush)
    assert not in_drop_rush(NOW, NOW, timedelta(0))  # 0: the rule is off


def test_an_unpaid_order_refusal_names_the_identity_and_points_at_the_line() -> None:
    error = unpaid_order_exists(ShopperKind.DEVICE, ("lines", 1))
    assert (error.code, error.path) == (ErrorCode.UNPAID_ORDER_EXISTS, ("lines", 1))
    assert error.message == (
        "an order placed with this device is waiting for payment in this drop; "
        "pay or cancel it first"
    )
    assert "this e-mail" in unpaid_order_exists(ShopperKind.EMAIL, ()).message


def test_a_throttled_call_says_when_to_try_again() -> None:
    error = too_many_calls(12)
    assert (error.code, error.path, error.retry_after) == (ErrorCode.TOO_MANY_ATTEMPTS, (), 12)
    assert error.message == "too many requests from this device or network; try again in 12 s"
