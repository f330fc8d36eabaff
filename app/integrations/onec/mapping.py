"""Our outbound records in the JSON of the 1C HTTP service (`/hs/<service>/`), and back.

The protocol is ours to define; these shapes are what a 1C programmer implements. All bodies
are JSON UTF-8 with camelCase names. GUIDs are 36-character strings. Money is a decimal
string in roubles with two decimals (`"4990.00"`). Moments are ISO 8601 in UTC with
milliseconds and `Z` (`"2025-12-01T11:03:05.120Z"`), the form 1C already sends us.

`PUT /customers/{customerGuid}` (Контрагент)::

    {"firstName": "Анна", "lastName": "Смирнова", "email": "anna@example.ru",
     "phone": "+79161234567", "createdAt": "2025-12-01T11:00:00.000Z"}

    `email`, `phone`, `createdAt` may be null. The whole object is sent every time.

`PUT /orders/{orderGuid}` (ЗаказКлиента)::

    {"number": "V-000123", "createdAt": "…Z", "status": "awaiting_payment",
     "customerGuid": "…", "customer": {"guid": "…", <the customer object above>},
     "lines": [{"variantGuid": "…", "productGuid": "…", "warehouseGuid": "…",
                "sku": "D-101-M-BLK", "name": "Платье миди", "quantity": 2,
                "price": "4990.00", "amount": "9980.00"}],
     "delivery": {"kind": "courier" | "pickup", "address": "Москва, …",
                  "pickupWarehouseGuid": null | "…", "cost": "300.00"},
     "total": "10280.00", "comment": ""}

    The customer travels inside the order too, so 1C can create the Контрагент even if the
    order arrives before `PUT /customers/…`. Answer 200::

    {"number": "ЗК-000042", "registeredAt": "2025-12-01T14:03:05.120+03:00"}

    `registeredAt` is the moment 1C registered the order's reservation, by 1C's clock, with an
    offset. Re-sending an order keeps its first number and registration moment, unless its
    lines moved between warehouses: then `registeredAt` is when the new reservation was
    registered.

`PUT /orders/{orderGuid}/status`::

    {"status": "awaiting_payment" | "paid" | "ready_for_shipping" | "cancelled",
     "changedAt": "…Z", "reason": ""}

`PUT /orders/{orderGuid}/payments/{paymentGuid}`::

    {"provider": "yookassa", "providerPaymentId": "2d9…", "status": "pending" |
     "waiting_for_capture" | "succeeded" | "canceled" | "refunded", "amount": "4990.00",
     "paidAt": null | "…Z", "refundedAmount": "0.00", "extra": {"<key>": "<text>"}}
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from app.domain.outbound import (
    CustomerRecord,
    DeliveryRecord,
    OrderLineRecord,
    OrderRecord,
    OrderStatusRecord,
    PaymentRecord,
)
from app.domain.payments import PaymentStatus

Json = dict[str, Any]

# The protocol 1C implements spells a payment's cancellation "canceled" (as YooKassa does), while
# ours says CANCELLED. Change it here only together with the 1C side.
_PAYMENT_STATUSES = {status: status.value for status in PaymentStatus} | {
    PaymentStatus.CANCELLED: "canceled"
}


@dataclass(frozen=True)
class OrderRegistration:
    """1C's receipt for an order: its document number and when it registered the order."""

    number: str
    registered_at: datetime  # aware, 1C's clock


def money(kopecks: int) -> str:
    """4990_00 kopecks → "4990.00"."""
    return f"{Decimal(kopecks).scaleb(-2):.2f}"


def moment(value: datetime) -> str:
    """An aware datetime as UTC ISO 8601 with milliseconds and Z."""
    if value.tzinfo is None:
        raise ValueError(f"a moment needs a time zone: {value!r}")
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def customer_payload(record: CustomerRecord) -> Json:
    return {
        "firstName": record.first_name,
        "lastName": record.last_name,
        "email": record.email,
        "phone": record.phone,
        "createdAt": moment(record.created_at) if record.created_at else None,
    }


def order_payload(record: OrderRecord) -> Json:
    return {
        "number": record.number,
        "createdAt": moment(record.created_at),
        "status": record.status.value,
        "customerGuid": record.customer.guid,
        "customer": {"guid": record.customer.guid, **customer_payload(record.customer)},
        "lines": [_line(line) for line in record.lines],
        "delivery": _delivery(record.delivery),
        "total": money(record.total_kopecks),
        "comment": record.comment,
    }


def _line(line: OrderLineRecord) -> Json:
    return {
        "variantGuid": line.variant_guid,
        "productGuid": line.product_guid,
        "warehouseGuid": line.warehouse_guid,
        "sku": line.sku,
        "name": line.name,
        "quantity": line.quantity,
        "price": money(line.unit_price_kopecks),
        "amount": money(line.unit_price_kopecks * line.quantity),
    }


def _delivery(delivery: DeliveryRecord) -> Json:
    return {
        "kind": delivery.kind.value,
        "address": delivery.address,
        "pickupWarehouseGuid": delivery.pickup_warehouse_guid,
        "cost": money(delivery.cost_kopecks),
    }


def order_status_payload(record: OrderStatusRecord) -> Json:
    return {
        "status": record.status.value,
        "changedAt": moment(record.changed_at),
        "reason": record.reason,
    }


def payment_payload(record: PaymentRecord) -> Json:
    return {
        "provider": record.provider,
        "providerPaymentId": record.provider_payment_id,
        "status": _PAYMENT_STATUSES[record.status],
        "amount": money(record.amount_kopecks),
        "paidAt": moment(record.paid_at) if record.paid_at else None,
        "refundedAmount": money(record.refunded_kopecks),
        "extra": dict(record.extra),
    }


def parse_order_registration(answer: object) -> OrderRegistration:
    """Read 1C's answer to `PUT /orders/{guid}`; ValueError if it is not what we agreed."""
    if not isinstance(answer, dict):
        raise ValueError("the answer is not a JSON object")
    number, registered = answer.get("number"), answer.get("registeredAt")
    if not isinstance(number, str) or not number.strip():
        raise ValueError("no document `number` in the answer")
    if not isinstance(registered, str):
        raise ValueError("no `registeredAt` in the answer")
    registered_at = datetime.fromisoformat(registered)
    if registered_at.tzinfo is None:
        raise ValueError(f"`registeredAt` has no offset: {registered!r}")
    return OrderRegistration(number=number, registered_at=registered_at)
