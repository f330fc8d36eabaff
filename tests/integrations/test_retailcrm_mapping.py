"""Records as RetailCRM entities: codes from the account's dictionaries, Moscow local dates."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.domain.orders import DeliveryKind, OrderStatus
from app.domain.outbound import DeliveryRecord
from app.domain.payments import PaymentStatus
from app.integrations.retailcrm import mapping
from tests.integrations import records

CODES = mapping.RetailCrmCodes()


def test_a_customer_with_our_guid_as_external_id() -> None:
    assert mapping.customer_payload(records.customer()) == {
        "externalId": records.CUSTOMER,
        "firstName": "Анна",
        "lastName": "Смирнова",
        "email": "anna@example.ru",
        "phones": [{"number": "+79161234567"}],
        "createdAt": "2025-12-01 14:00:00",
    }


def test_absent_values_are_left_out_so_an_edit_wipes_nothing() -> None:
    record = records.customer(email=None, phone=None, first_name="", created_at=None)
    assert mapping.customer_payload(record) == {
        "externalId": records.CUSTOMER,
        "lastName": "Смирнова",
    }


def test_an_order_in_retailcrm_terms() -> None:
    assert mapping.order_payload(records.order(), CODES) == {
        "externalId": records.ORDER,
        "number": "V-000123",
        "createdAt": "2025-12-01 14:03:05",
        "firstName": "Анна",
        "lastName": "Смирнова",
        "phone": "+79161234567",
        "email": "anna@example.ru",
        "customer": {"externalId": records.CUSTOMER},
        "items": [
            {
                "offer": {"externalId": records.DRESS_M},
                "productName": "Платье миди",
                "quantity": 2,
                "initialPrice": 4990.0,
            },
            {
                "offer": {"externalId": records.BELT_ONE},
                "productName": "Ремень",
                "quantity": 1,
                "initialPrice": 1500.5,
            },
        ],
        "delivery": {"code": "courier", "cost": 300.0, "address": {"text": "Москва, Тверская, 1"}},
        "status": "new",
        "orderMethod": "shopping-cart",
        "customerComment": "Позвонить за час",
    }


def test_a_pickup_order_has_no_address() -> None:
    pickup = DeliveryRecord(DeliveryKind.PICKUP, pickup_warehouse_guid=records.SHOP)
    payload = mapping.order_payload(records.order(delivery=pickup), CODES)
    assert payload["delivery"] == {"code": "self-delivery", "cost": 0.0}


def test_the_edit_of_an_existing_order_leaves_its_status_alone() -> None:
    edit = mapping.order_edit_payload(records.order(status=OrderStatus.PAID), CODES)
    assert "status" not in edit
    assert edit == {
        k: v for k, v in mapping.order_payload(records.order(), CODES).items() if k != "status"
    }


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (OrderStatus.AWAITING_PAYMENT, "new"),
        (OrderStatus.PAID, "prepayed"),
        (OrderStatus.CANCELLED, "cancel-other"),
    ],
)
def test_order_statuses_map_to_a_fresh_accounts_codes(status: OrderStatus, code: str) -> None:
    assert mapping.order_status_payload(records.status(status), CODES) == {"status": code}


def test_a_status_reason_becomes_the_status_comment() -> None:
    payload = mapping.order_status_payload(
        records.status(OrderStatus.CANCELLED, "нет размера"), CODES
    )
    assert payload == {"status": "cancel-other", "statusComment": "нет размера"}


def test_a_payment_of_the_order() -> None:
    assert mapping.payment_payload(records.payment(), CODES) == {
        "externalId": records.PAYMENT,
        "order": {"externalId": records.ORDER},
        "amount": 11780.5,
        "type": "bank-card",
        "status": "paid",
        "paidAt": "2025-12-01 14:05:00",
        "comment": "yookassa 2d9c3c5e-000f-5000-9000-1a2b3c4d5e6f",
    }


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (PaymentStatus.PENDING, "not-paid"),
        (PaymentStatus.WAITING_FOR_CAPTURE, "not-paid"),
        (PaymentStatus.CANCELLED, "canceled"),
        (PaymentStatus.REFUNDED, "returned"),
    ],
)
def test_payment_statuses_map_to_codes(status: PaymentStatus, code: str) -> None:
    payload = mapping.payment_payload(records.payment(status, paid_at=None), CODES)
    assert (payload["status"], "paidAt" in payload) == (code, False)


def test_the_accounts_own_codes_replace_the_defaults() -> None:
    codes = mapping.RetailCrmCodes(
        order_statuses={**CODES.order_statuses, OrderStatus.PAID: "oplachen"},
        payment_statuses={**CODES.payment_statuses, PaymentStatus.SUCCEEDED: "done"},
        delivery_types={DeliveryKind.COURIER: "cdek-courier", DeliveryKind.PICKUP: "store"},
        payment_type="yookassa",
        order_method="site",
    )
    order = mapping.order_payload(records.order(status=OrderStatus.PAID), codes)
    payment = mapping.payment_payload(records.payment(), codes)
    assert (order["status"], order["delivery"]["code"], order["orderMethod"]) == (
        "oplachen",
        "cdek-courier",
        "site",
    )
    assert (payment["type"], payment["status"]) == ("yookassa", "done")


def test_dates_are_moscow_local_time_without_zone() -> None:
    assert mapping.crm_datetime(datetime(2025, 12, 31, 22, 30, tzinfo=UTC)) == "2026-01-01 01:30:00"


def test_a_date_without_a_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        mapping.crm_datetime(datetime(2025, 12, 1, 14, 0))
