"""Records in 1C's wire format: exact payloads, money as strings, moments in UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from app.domain.orders import DeliveryKind, OrderStatus
from app.domain.outbound import DeliveryRecord
from app.domain.payments import PaymentStatus
from app.integrations.onec import mapping
from tests.integrations import records

MOSCOW = timezone(timedelta(hours=3))


def test_a_customer_is_sent_whole_with_camel_case_names() -> None:
    assert mapping.customer_payload(records.customer()) == {
        "firstName": "Анна",
        "lastName": "Смирнова",
        "email": "anna@example.ru",
        "phone": "+79161234567",
        "createdAt": "2025-12-01T11:00:00.000Z",
    }


def test_absent_contact_details_are_sent_as_null() -> None:
    payload = mapping.customer_payload(records.customer(email=None, phone=None, created_at=None))
    assert (payload["email"], payload["phone"], payload["createdAt"]) == (None, None, None)


def test_an_order_carries_lines_delivery_and_its_customer() -> None:
    assert mapping.order_payload(records.order()) == {
        "number": "V-000123",
        "createdAt": "2025-12-01T11:03:05.120Z",
        "status": "awaiting_payment",
        "customerGuid": records.CUSTOMER,
        "customer": {"guid": records.CUSTOMER, **mapping.customer_payload(records.customer())},
        "lines": [
            {
                "variantGuid": records.DRESS_M,
                "productGuid": records.DRESS,
                "warehouseGuid": records.ONLINE,
                "sku": "D-101-M",
                "name": "Платье миди",
                "quantity": 2,
                "price": "4990.00",
                "amount": "9980.00",
            },
            {
                "variantGuid": records.BELT_ONE,
                "productGuid": records.BELT,
                "warehouseGuid": records.SHOP,
                "sku": "B-7",
                "name": "Ремень",
                "quantity": 1,
                "price": "1500.50",
                "amount": "1500.50",
            },
        ],
        "delivery": {
            "kind": "courier",
            "address": "Москва, Тверская, 1",
            "pickupWarehouseGuid": None,
            "cost": "300.00",
        },
        "total": "11780.50",
        "comment": "Позвонить за час",
    }


def test_a_pickup_names_the_warehouse() -> None:
    pickup = DeliveryRecord(DeliveryKind.PICKUP, pickup_warehouse_guid=records.SHOP)
    delivery = mapping.order_payload(records.order(delivery=pickup))["delivery"]
    assert delivery == {
        "kind": "pickup",
        "address": "",
        "pickupWarehouseGuid": records.SHOP,
        "cost": "0.00",
    }


def test_a_status_change() -> None:
    record = records.status(OrderStatus.CANCELLED, reason="покупатель передумал")
    assert mapping.order_status_payload(record) == {
        "status": "cancelled",
        "changedAt": "2025-12-01T11:05:00.000Z",
        "reason": "покупатель передумал",
    }


def test_a_payment() -> None:
    assert mapping.payment_payload(records.payment()) == {
        "provider": "yookassa",
        "providerPaymentId": "2d9c3c5e-000f-5000-9000-1a2b3c4d5e6f",
        "status": "succeeded",
        "amount": "11780.50",
        "paidAt": "2025-12-01T11:05:00.000Z",
        "refundedAmount": "0.00",
        "extra": {"method": "bank_card"},
    }


def test_a_cancelled_payment_goes_to_1c_in_the_agreed_spelling() -> None:
    payload = mapping.payment_payload(records.payment(PaymentStatus.CANCELLED))
    assert (payload["status"], payload["paidAt"]) == ("canceled", None)


def test_an_unpaid_payment_has_no_paid_at() -> None:
    payload = mapping.payment_payload(records.payment(PaymentStatus.PENDING))
    assert (payload["status"], payload["paidAt"]) == ("pending", None)


@pytest.mark.parametrize(
    ("kopecks", "text"),
    [(0, "0.00"), (5, "0.05"), (4990_00, "4990.00"), (12_345_678_90, "12345678.90")],
)
def test_money_is_a_decimal_string_of_roubles(kopecks: int, text: str) -> None:
    assert mapping.money(kopecks) == text


def test_moments_are_written_in_utc_whatever_their_zone() -> None:
    assert (
        mapping.moment(datetime(2025, 12, 1, 14, 3, 5, tzinfo=MOSCOW)) == "2025-12-01T11:03:05.000Z"
    )


def test_a_moment_without_a_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        mapping.order_payload(records.order(created_at=datetime(2025, 12, 1, 14, 3, 5)))


def test_the_order_answer_gives_1c_number_and_registration_moment() -> None:
    answer = {
        "guid": records.ORDER,
        "number": "ЗК-000042",
        "registeredAt": "2025-12-01T14:03:05.120+03:00",
    }
    registration = mapping.parse_order_registration(answer)
    assert registration == mapping.OrderRegistration(
        number="ЗК-000042", registered_at=datetime(2025, 12, 1, 11, 3, 5, 120000, tzinfo=UTC)
    )
    assert registration.registered_at.utcoffset() == timedelta(hours=3)


@pytest.mark.parametrize(
    "answer",
    [
        [],
        {"registeredAt": "2025-12-01T14:03:05+03:00"},
        {"number": " ", "registeredAt": "2025-12-01T14:03:05+03:00"},
        {"number": "ЗК-1"},
        {"number": "ЗК-1", "registeredAt": "2025-12-01T14:03:05"},
        {"number": "ЗК-1", "registeredAt": "вчера"},
    ],
)
def test_an_order_answer_without_number_or_aware_moment_is_unreadable(answer: object) -> None:
    with pytest.raises(ValueError):
        mapping.parse_order_registration(answer)
