"""Records in 1C's wire format: exact payloads, money as strings, moments in UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from app.domain.orders import DeliveryKind, OrderStatus
from app.domain.outbound import DeliveryRecord
from app.domain.payments import PaymentStatus
from app.integrations.onec import mapping as m
from tests.integrations import records as r

MOSCOW = timezone(timedelta(hours=3))


def test_a_customer_is_sent_whole_with_camel_case_names() -> None:
    assert m.customer_payload(r.customer()) == {
        "firstName": "Анна",
        "lastName": "Смирнова",
        "email": "anna@example.ru",
        "phone": "+79161234567",
        "createdAt": "2025-12-01T11:00:00.000Z",
    }


def test_absent_contact_details_are_sent_as_null() -> None:
    payload = m.customer_payload(r.customer(email=None, phone=None, created_at=None))
    assert (payload["email"], payload["phone"], payload["createdAt"]) == (None, None, None)


def test_an_order_carries_lines_delivery_and_its_customer() -> None:
    assert m.order_payload(r.order()) == {
        "number": "V-000123",
        "createdAt": "2025-12-01T11:03:05.120Z",
        "status": "awaiting_payment",
        "customerGuid": r.CUSTOMER,
        "customer": {"guid": r.CUSTOMER, **m.customer_payload(r.customer())},
        "lines": [
            {
                "variantGuid": r.DRESS_M,
                "productGuid": r.DRESS,
                "warehouseGuid": r.ONLINE,
                "sku": "D-101-M",
                "name": "Платье миди",
                "quantity": 2,
                "price": "4990.00",
                "amount": "9980.00",
            },
            {
                "variantGuid": r.BELT_ONE,
                "productGuid": r.BELT,
                "warehouseGuid": r.SHOP,
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
    pickup = DeliveryRecord(DeliveryKind.PICKUP, pickup_warehouse_guid=r.SHOP)
    delivery = m.order_payload(r.order(delivery=pickup))["delivery"]
    assert delivery == {
        "kind": "pickup",
        "address": "",
        "pickupWarehouseGuid": r.SHOP,
        "cost": "0.00",
    }


def test_a_status_change() -> None:
    record = r.status(OrderStatus.CANCELLED, reason="покупатель передумал")
    assert m.order_status_payload(record) == {
        "status": "cancelled",
        "changedAt": "2025-12-01T11:05:00.000Z",
        "reason": "покупатель передумал",
    }


def test_a_payment() -> None:
    assert m.payment_payload(r.payment()) == {
        "provider": "yookassa",
        "providerPaymentId": "2d9c3c5e-000f-5000-9000-1a2b3c4d5e6f",
        "status": "succeeded",
        "amount": "11780.50",
        "paidAt": "2025-12-01T11:05:00.000Z",
        "refundedAmount": "0.00",
        "extra": {"method": "bank_card"},
    }


def test_an_unpaid_payment_has_no_paid_at() -> None:
    payload = m.payment_payload(r.payment(PaymentStatus.PENDING))
    assert (payload["status"], payload["paidAt"]) == ("pending", None)


@pytest.mark.parametrize(
    ("kopecks", "text"),
    [(0, "0.00"), (5, "0.05"), (4990_00, "4990.00"), (12_345_678_90, "12345678.90")],
)
def test_money_is_a_decimal_string_of_roubles(kopecks: int, text: str) -> None:
    assert m.money(kopecks) == text


def test_moments_are_written_in_utc_whatever_their_zone() -> None:
    assert m.moment(datetime(2025, 12, 1, 14, 3, 5, tzinfo=MOSCOW)) == "2025-12-01T11:03:05.000Z"


def test_a_moment_without_a_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        m.order_payload(r.order(created_at=datetime(2025, 12, 1, 14, 3, 5)))


def test_the_order_answer_gives_1c_number_and_registration_moment() -> None:
    answer = {
        "guid": r.ORDER,
        "number": "ЗК-000042",
        "registeredAt": "2025-12-01T14:03:05.120+03:00",
    }
    registration = m.parse_order_registration(answer)
    assert registration == m.OrderRegistration(
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
        m.parse_order_registration(answer)
