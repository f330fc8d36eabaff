"""Outbound records to and from the JSON stored in outbox rows (pure, lossless)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from app.domain.closing_receipt import ClosingReceiptRecord, ShipmentCaptureRecord
from app.domain.orders import DeliveryKind, OrderStatus
from app.domain.outbound import (
    CustomerMessageRecord,
    CustomerRecord,
    DeliveryRecord,
    MessageChannel,
    OrderLineRecord,
    OrderRecord,
    OrderStatusRecord,
    PaymentRecord,
    ShopRequestCall,
)
from app.domain.payments import PaymentStatus

Record = (
    CustomerRecord
    | OrderRecord
    | OrderStatusRecord
    | PaymentRecord
    | CustomerMessageRecord
    | ShopRequestCall
    | ClosingReceiptRecord
    | ShipmentCaptureRecord
)


def to_json(record: Record) -> dict[str, Any]:
    plain: dict[str, Any] = _plain(asdict(record))
    return plain


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def customer_from_json(data: dict[str, Any]) -> CustomerRecord:
    return CustomerRecord(**{**data, "created_at": _when(data.get("created_at"))})


def order_from_json(data: dict[str, Any]) -> OrderRecord:
    delivery = data["delivery"]
    return OrderRecord(
        guid=data["guid"],
        number=data["number"],
        created_at=datetime.fromisoformat(data["created_at"]),
        status=OrderStatus(data["status"]),
        customer=customer_from_json(data["customer"]),
        lines=[OrderLineRecord(**line) for line in data["lines"]],
        delivery=DeliveryRecord(**{**delivery, "kind": DeliveryKind(delivery["kind"])}),
        total_kopecks=data["total_kopecks"],
        comment=data.get("comment", ""),
    )


def order_status_from_json(data: dict[str, Any]) -> OrderStatusRecord:
    return OrderStatusRecord(
        order_guid=data["order_guid"],
        status=OrderStatus(data["status"]),
        changed_at=datetime.fromisoformat(data["changed_at"]),
        reason=data.get("reason", ""),
    )


# Rows written before migration 0006 spelt it "canceled"; they may still wait in the outbox.
_OLD_PAYMENT_STATUSES = {"canceled": PaymentStatus.CANCELLED}


def payment_from_json(data: dict[str, Any]) -> PaymentRecord:
    status = _OLD_PAYMENT_STATUSES.get(data["status"]) or PaymentStatus(data["status"])
    return PaymentRecord(**{**data, "status": status, "paid_at": _when(data.get("paid_at"))})


def message_from_json(data: dict[str, Any]) -> CustomerMessageRecord:
    return CustomerMessageRecord(
        guid=data["guid"],
        channel=MessageChannel(data["channel"]),
        to=data["to"],
        template=data["template"],
        params=dict(data.get("params", {})),
    )


def shop_request_call_from_json(data: dict[str, Any]) -> ShopRequestCall:
    return ShopRequestCall(**data)
