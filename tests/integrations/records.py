"""Outbound records as the outbox will carry them: one customer, her order, its payment."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime

from app.domain.orders import DeliveryKind, OrderStatus
from app.domain.outbound import (
    CustomerRecord,
    DeliveryRecord,
    OrderLineRecord,
    OrderRecord,
    OrderStatusRecord,
    PaymentRecord,
)
from app.domain.payments import PaymentStatus


def guid(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"vitrina-test/{name}"))


CUSTOMER = guid("customer/anna")
ORDER = guid("order/1")
PAYMENT = guid("payment/1")
DRESS = guid("product/dress")
DRESS_M = guid("variant/dress/M")
BELT = guid("product/belt")
BELT_ONE = guid("variant/belt/one")
ONLINE = guid("warehouse/online")
SHOP = guid("warehouse/shop")
PLACED = datetime(2025, 12, 1, 11, 3, 5, 120000, tzinfo=UTC)  # 14:03:05 in Moscow
PAID = datetime(2025, 12, 1, 11, 5, 0, tzinfo=UTC)


def customer(name: str = "anna", **changes: object) -> CustomerRecord:
    record = CustomerRecord(
        guid=guid(f"customer/{name}"),
        email=f"{name}@example.ru",
        phone="+79161234567",
        first_name="Анна",
        last_name="Смирнова",
        created_at=datetime(2025, 12, 1, 11, 0, tzinfo=UTC),
    )
    return replace(record, **changes)  # type: ignore[arg-type]


def order(**changes: object) -> OrderRecord:
    record = OrderRecord(
        guid=ORDER,
        number="V-000123",
        created_at=PLACED,
        status=OrderStatus.AWAITING_PAYMENT,
        customer=customer(),
        lines=[
            OrderLineRecord(DRESS_M, DRESS, "D-101-M", "Платье миди", ONLINE, 2, 4990_00),
            OrderLineRecord(BELT_ONE, BELT, "B-7", "Ремень", SHOP, 1, 1500_50),
        ],
        delivery=DeliveryRecord(DeliveryKind.COURIER, "Москва, Тверская, 1", None, 300_00),
        total_kopecks=2 * 4990_00 + 1500_50 + 300_00,
        comment="Позвонить за час",
    )
    return replace(record, **changes)  # type: ignore[arg-type]


def status(value: OrderStatus = OrderStatus.PAID, reason: str = "") -> OrderStatusRecord:
    return OrderStatusRecord(ORDER, value, PAID, reason)


def payment(value: PaymentStatus = PaymentStatus.SUCCEEDED, **changes: object) -> PaymentRecord:
    record = PaymentRecord(
        guid=PAYMENT,
        order_guid=ORDER,
        provider="yookassa",
        provider_payment_id="2d9c3c5e-000f-5000-9000-1a2b3c4d5e6f",
        status=value,
        amount_kopecks=11780_50,
        paid_at=PAID if value is PaymentStatus.SUCCEEDED else None,
        extra={"method": "bank_card"},
    )
    return replace(record, **changes)  # type: ignore[arg-type]
