"""Our outbound records as RetailCRM API v5 entities (the JSON put into a form field).

`customers/create` and `customers/{externalId}/edit`, field `customer`::

    {"externalId": "<customer GUID>", "firstName": "Анна", "lastName": "Смирнова",
     "email": "anna@example.ru", "phones": [{"number": "+79161234567"}],
     "createdAt": "2025-12-01 14:00:00"}

`orders/create` and `orders/{externalId}/edit`, field `order`::

    {"externalId": "<order GUID>", "number": "V-000123", "createdAt": "2025-12-01 14:03:05",
     "firstName": …, "lastName": …, "phone": …, "email": …,
     "customer": {"externalId": "<customer GUID>"},
     "items": [{"offer": {"externalId": "<variant GUID>"}, "productName": "Платье миди",
                "quantity": 2, "initialPrice": 4990.0}],
     "delivery": {"code": "courier", "cost": 300.0, "address": {"text": "Москва, …"}},
     "status": "new", "orderMethod": "shopping-cart", "customerComment": "…"}

The edit sent when the order exists already leaves out `status` (see `order_edit_payload`).

`orders/payments/create` and `orders/payments/{externalId}/edit`, field `payment`::

    {"externalId": "<payment GUID>", "order": {"externalId": "<order GUID>"},
     "amount": 4990.0, "type": "bank-card", "status": "paid",
     "paidAt": "2025-12-01 14:05:00", "comment": "yookassa 2d9…"}

Dates are `Y-m-d H:i:s` in Moscow time (the account's time zone); money is a JSON number of
roubles. Absent values (no email, no phone, no address) are left out rather than sent empty,
so an edit never wipes what a manager typed in the CRM.

Batches (`customers/upload`, `orders/upload`, field `customers` / `orders`: a JSON list of up to
50 such entities) carry coalesced deliveries (app/domain/coalescing.py): each entity is its
snapshots folded the way RetailCRM applies them one after the other (`fold`: a later payload's
fields replace an earlier one's, the others stay). An uploaded order carries its status changes
folded in and its payments inside, `"payments": [{"externalId", "amount", "type", "status",
"paidAt", "comment"}]`: RetailCRM creates them with the order. An order that exists already is
edited instead (`order_edits_payload`: no status of its snapshots, the status changes, no
payments: API v5 edits those through `orders/payments/{externalId}/edit`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from app.domain.coalescing import CustomerUpsert, OrderDelivery
from app.domain.orders import DeliveryKind, OrderStatus
from app.domain.outbound import (
    CustomerRecord,
    OrderLineRecord,
    OrderRecord,
    OrderStatusRecord,
    PaymentRecord,
)
from app.domain.payments import PaymentStatus

Json = dict[str, Any]
MOSCOW = timezone(timedelta(hours=3), "MSK")  # no DST since 2014, so a fixed offset is exact
DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def _order_statuses() -> dict[OrderStatus, str]:
    # codes of a fresh RetailCRM account: "Новый", "Предоплата поступила", "Укомплектован",
    # "Отменен по иной причине"
    return {
        OrderStatus.AWAITING_PAYMENT: "new",
        OrderStatus.PAID: "prepayed",
        OrderStatus.READY_FOR_SHIPPING: "assembling-complete",  # "Укомплектован"
        OrderStatus.CANCELLED: "cancel-other",
        OrderStatus.SHIPPED: "send-to-delivery",  # "Передан в доставку"
        OrderStatus.DELIVERED: "complete",  # "Выполнен"
        OrderStatus.PARTLY_RETURNED: "partially-completed",
        OrderStatus.RETURNED: "return",
    }


def _payment_statuses() -> dict[PaymentStatus, str]:
    return {
        PaymentStatus.PENDING: "not-paid",
        PaymentStatus.WAITING_FOR_CAPTURE: "not-paid",
        PaymentStatus.SUCCEEDED: "paid",
        PaymentStatus.CANCELLED: "canceled",
        PaymentStatus.REFUNDED: "returned",
    }


def _delivery_types() -> dict[DeliveryKind, str]:
    return {DeliveryKind.COURIER: "courier", DeliveryKind.PICKUP: "self-delivery"}


@dataclass(frozen=True)
class RetailCrmCodes:
    """Codes from the account's own dictionaries (Settings → Directories in RetailCRM).

    The defaults are the codes a new account comes with; change them to the account's ones.
    """

    order_statuses: Mapping[OrderStatus, str] = field(default_factory=_order_statuses)
    payment_statuses: Mapping[PaymentStatus, str] = field(default_factory=_payment_statuses)
    delivery_types: Mapping[DeliveryKind, str] = field(default_factory=_delivery_types)
    payment_type: str = "bank-card"
    order_method: str = "shopping-cart"


def roubles(kopecks: int) -> float:
    return kopecks / 100


def crm_datetime(value: datetime) -> str:
    """An aware datetime as RetailCRM's `Y-m-d H:i:s`, Moscow time."""
    if value.tzinfo is None:
        raise ValueError(f"a moment needs a time zone: {value!r}")
    return value.astimezone(MOSCOW).strftime(DATETIME_FORMAT)


def customer_payload(record: CustomerRecord) -> Json:
    return _present(
        externalId=record.guid,
        firstName=record.first_name,
        lastName=record.last_name,
        email=record.email,
        phones=[{"number": record.phone}] if record.phone else None,
        createdAt=crm_datetime(record.created_at) if record.created_at else None,
    )


def order_payload(record: OrderRecord, codes: RetailCrmCodes) -> Json:
    customer = record.customer
    return _present(
        externalId=record.guid,
        number=record.number,
        createdAt=crm_datetime(record.created_at),
        firstName=customer.first_name,
        lastName=customer.last_name,
        phone=customer.phone,
        email=customer.email,
        customer={"externalId": customer.guid},
        items=[_item(line) for line in record.lines],
        delivery=_delivery(record, codes),
        status=codes.order_statuses[record.status],
        orderMethod=codes.order_method,
        customerComment=record.comment,
    )


def order_edit_payload(record: OrderRecord, codes: RetailCrmCodes) -> Json:
    """The order for `orders/{externalId}/edit` when it exists already: all but `status`.

    Status changes travel as their own events (`order_status_payload`); a re-delivered
    creation must not move an order a manager has already taken further back to "new".
    """
    payload = order_payload(record, codes)
    del payload["status"]
    return payload


def _item(line: OrderLineRecord) -> Json:
    return {
        "offer": {"externalId": line.variant_guid},
        "productName": line.name,
        "quantity": line.quantity,
        "initialPrice": roubles(line.unit_price_kopecks),
    }


def _delivery(record: OrderRecord, codes: RetailCrmCodes) -> Json:
    delivery = record.delivery
    return _present(
        code=codes.delivery_types[delivery.kind],
        cost=roubles(delivery.cost_kopecks),
        address={"text": delivery.address} if delivery.address else None,
    )


def order_status_payload(record: OrderStatusRecord, codes: RetailCrmCodes) -> Json:
    return _present(status=codes.order_statuses[record.status], statusComment=record.reason)


def payment_payload(record: PaymentRecord, codes: RetailCrmCodes) -> Json:
    return _present(
        externalId=record.guid,
        order={"externalId": record.order_guid},
        amount=roubles(record.amount_kopecks),
        type=codes.payment_type,
        status=codes.payment_statuses[record.status],
        paidAt=crm_datetime(record.paid_at) if record.paid_at else None,
        comment=_payment_comment(record),
    )


def _payment_comment(record: PaymentRecord) -> str:
    comment = f"{record.provider} {record.provider_payment_id}".strip()
    if record.refunded_kopecks and record.status is not PaymentStatus.REFUNDED:
        comment += f"; refunded {roubles(record.refunded_kopecks)} RUB"
    return comment


def fold(payloads: Iterable[Json]) -> Json:
    """Payloads as RetailCRM leaves them applied in order: later fields replace earlier ones."""
    folded: Json = {}
    for payload in payloads:
        folded.update(payload)
    return folded


def customer_upsert_payload(upsert: CustomerUpsert) -> Json:
    """The customer as `customers/upload` or its edit carries it: every snapshot folded."""
    return fold(customer_payload(snapshot) for snapshot in upsert.snapshots)


def order_upload_payload(delivery: OrderDelivery, codes: RetailCrmCodes) -> Json:
    """The order for `orders/upload`: created as its first snapshot, then each later change,
    its status changes, and its payments inside."""
    first, *later = delivery.snapshots
    payload = fold(
        [
            order_payload(first, codes),
            *(order_edit_payload(snapshot, codes) for snapshot in later),
            *(order_status_payload(status, codes) for status in delivery.statuses),
        ]
    )
    if delivery.payments:
        payload["payments"] = [
            _without_order(payment_fold_payload(p, codes)) for p in delivery.payments
        ]
    return payload


def order_edits_payload(delivery: OrderDelivery, codes: RetailCrmCodes) -> Json:
    """The order for `orders/{externalId}/edit`: its snapshots without their status, then its
    status changes (a re-sent creation never moves a status a manager has set)."""
    return fold(
        [
            *(order_edit_payload(snapshot, codes) for snapshot in delivery.snapshots),
            *(order_status_payload(status, codes) for status in delivery.statuses),
        ]
    )


def payment_fold_payload(snapshots: Sequence[PaymentRecord], codes: RetailCrmCodes) -> Json:
    """One payment's snapshots folded, for its create or edit."""
    return fold(payment_payload(snapshot, codes) for snapshot in snapshots)


def _without_order(payment: Json) -> Json:
    return {name: value for name, value in payment.items() if name != "order"}


def _present(**fields: Any) -> Json:
    """The fields that have a value: None and "" are left out (an edit must not wipe data)."""
    return {name: value for name, value in fields.items() if value is not None and value != ""}
