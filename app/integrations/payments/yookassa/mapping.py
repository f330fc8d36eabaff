"""Translate between plain values and YooKassa API v3 JSON: payments, refunds, notifications.

YooKassa's spelling stays here: its "canceled" is our `CANCELLED`."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, TypeGuard, TypeVar

from app.domain.payments import PaymentStatus, RefundStatus

CURRENCY = "RUB"
MAX_DESCRIPTION = 128
MAX_METADATA_KEYS = 16
MAX_METADATA_KEY = 32
MAX_METADATA_VALUE = 512
MAX_IDEMPOTENCE_KEY = 64
DEFAULT_VAT_CODE = 1  # "без НДС"; the shop's tax regime decides, so settings override it
VAT_CODES = range(1, 13)  # 11 = 22% and 12 = 22/122 since 2026
FULL_PAYMENT = "full_payment"  # a settlement: the goods are handed over with this receipt
FULL_PREPAYMENT = "full_prepayment"  # paid in full before the goods are handed over
MARK_MODE = "0"  # a marking code passed as read; YooKassa checks it with Честный ЗНАК
COMMODITY = "commodity"
# Payment and refund ids as YooKassa makes them: 36 characters, hex digits in UUID groups
# (e.g. 2419a771-000f-5000-9000-1edaf29243f2). Nothing else may go into a URL path of ours.
_OBJECT_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)


# YooKassa's statuses in its own spelling ("canceled") → ours. It has no "refunded": a payment
# refunded in full stays "succeeded" there (see `reported_status`).
PAYMENT_STATUSES: Mapping[str, PaymentStatus] = {
    "pending": PaymentStatus.PENDING,
    "waiting_for_capture": PaymentStatus.WAITING_FOR_CAPTURE,
    "succeeded": PaymentStatus.SUCCEEDED,
    "canceled": PaymentStatus.CANCELLED,
}
REFUND_STATUSES: Mapping[str, RefundStatus] = {
    "pending": RefundStatus.PENDING,
    "succeeded": RefundStatus.SUCCEEDED,
    "canceled": RefundStatus.CANCELLED,
}
_Status = TypeVar("_Status", PaymentStatus, RefundStatus)


class NotificationEvent(StrEnum):
    PAYMENT_SUCCEEDED = "payment.succeeded"
    PAYMENT_WAITING_FOR_CAPTURE = "payment.waiting_for_capture"
    PAYMENT_CANCELED = "payment.canceled"
    REFUND_SUCCEEDED = "refund.succeeded"


class YooKassaMappingError(ValueError):
    """Values we were asked to send, or JSON we received, do not fit YooKassa's documented shape."""


class InvalidPaymentRequest(YooKassaMappingError):
    """Our side asked for a payment, capture or refund YooKassa would refuse."""


class InvalidYooKassaObject(YooKassaMappingError):
    """A payment or refund object from YooKassa lacks a field or has one of the wrong type."""


class InvalidNotification(YooKassaMappingError):
    """A notification body is not a YooKassa notification of an event we subscribe to."""


@dataclass(frozen=True, slots=True)
class ReceiptItem:
    """One receipt line: `unit_price_kopecks` is the price of one unit after discounts."""

    description: str
    quantity: int
    unit_price_kopecks: int
    payment_subject: str = COMMODITY  # "service" for delivery
    mark_code: str | None = None  # a marked unit's code: `mark_code_info`, quantity 1


@dataclass(frozen=True, slots=True)
class Receipt:
    """A 54-FZ receipt: the customer's email or phone (or both) and the lines."""

    items: Sequence[ReceiptItem]
    email: str | None = None
    phone: str | None = None  # digits in E.164 without "+", e.g. 79001234567
    vat_code: int = DEFAULT_VAT_CODE
    # 54-FZ: an order paid online is handed over later, so the payment's receipt (and the
    # refund of a prepayment) is a full prepayment; the closing receipt at the handover, and
    # a refund of goods handed over, is a full payment (`handed_over` in ReceiptData)
    payment_mode: str = FULL_PAYMENT


@dataclass(frozen=True, slots=True)
class YooPayment:
    id: str
    status: PaymentStatus
    paid: bool
    amount_kopecks: int
    currency: str
    confirmation_url: str | None
    metadata: dict[str, str]
    created_at: datetime
    captured_at: datetime | None
    refundable: bool
    cancellation_reason: str | None
    refunded_kopecks: int = 0


@dataclass(frozen=True, slots=True)
class YooRefund:
    id: str
    payment_id: str
    status: RefundStatus
    amount_kopecks: int


@dataclass(frozen=True, slots=True)
class YooNotification:
    event: NotificationEvent
    object_id: str


# --- what we send -------------------------------------------------------------------------------


def amount_json(kopecks: int) -> dict[str, str]:
    """4990_00 kopecks → {"value": "4990.00", "currency": "RUB"}."""
    if isinstance(kopecks, bool) or not isinstance(kopecks, int) or kopecks <= 0:
        raise InvalidPaymentRequest(f"an amount must be a positive number of kopecks: {kopecks!r}")
    return {"value": f"{kopecks // 100}.{kopecks % 100:02d}", "currency": CURRENCY}


def shorten(text: str, limit: int = MAX_DESCRIPTION) -> str:
    """Cut free text to YooKassa's limit, marking the cut with an ellipsis."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def payment_request(
    *,
    amount_kopecks: int,
    return_url: str,
    description: str,
    metadata: Mapping[str, str],
    capture: bool = True,
    receipt: Receipt | None = None,
) -> dict[str, Any]:
    """The body of `POST /v3/payments` for a redirect (hosted page) payment."""
    if not return_url:
        raise InvalidPaymentRequest("return_url is required for a redirect confirmation")
    body: dict[str, Any] = {
        "amount": amount_json(amount_kopecks),
        "capture": capture,
        "confirmation": {"type": "redirect", "return_url": return_url},
        "metadata": metadata_json(metadata),
    }
    if description.strip():
        body["description"] = shorten(description)
    if receipt is not None:
        body["receipt"] = receipt_json(receipt, amount_kopecks)
    return body


def capture_request(amount_kopecks: int | None, receipt: Receipt | None = None) -> dict[str, Any]:
    """The body of `POST /v3/payments/{id}/capture`: empty captures the whole authorised sum;
    a part comes with the receipt for that part when the shop sends receipts."""
    if amount_kopecks is None:
        return {}
    body: dict[str, Any] = {"amount": amount_json(amount_kopecks)}
    if receipt is not None:
        body["receipt"] = receipt_json(receipt, amount_kopecks)
    return body


def refund_request(
    *,
    payment_id: str,
    amount_kopecks: int,
    description: str | None = None,
    receipt: Receipt | None = None,
) -> dict[str, Any]:
    """The body of `POST /v3/refunds`; a refund receipt is required when the shop sends receipts."""
    if not payment_id:
        raise InvalidPaymentRequest("payment_id is required")
    body: dict[str, Any] = {"payment_id": payment_id, "amount": amount_json(amount_kopecks)}
    if description and description.strip():
        body["description"] = shorten(description, 250)
    if receipt is not None:
        body["receipt"] = receipt_json(receipt, amount_kopecks)
    return body


def metadata_json(metadata: Mapping[str, str]) -> dict[str, str]:
    """Check metadata against YooKassa's limits: 16 keys, keys ≤ 32 and values ≤ 512 chars."""
    if len(metadata) > MAX_METADATA_KEYS:
        raise InvalidPaymentRequest(f"metadata holds at most {MAX_METADATA_KEYS} keys")
    for key, value in metadata.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise InvalidPaymentRequest(f"metadata keys and values are strings: {key!r}")
        if not 0 < len(key) <= MAX_METADATA_KEY or len(value) > MAX_METADATA_VALUE:
            raise InvalidPaymentRequest(f"metadata entry {key!r} is too long")
    return dict(metadata)


def receipt_json(receipt: Receipt, total_kopecks: int) -> dict[str, Any]:
    """The `receipt` object; its lines must add up to the payment (or refund) amount exactly."""
    if not receipt.email and not receipt.phone:
        raise InvalidPaymentRequest("a receipt needs the customer's email or phone")
    if not receipt.items:
        raise InvalidPaymentRequest("a receipt needs at least one item")
    if receipt.vat_code not in VAT_CODES:
        raise InvalidPaymentRequest(f"vat_code must be 1..12, not {receipt.vat_code}")
    lines = sum(item.unit_price_kopecks * item.quantity for item in receipt.items)
    if lines != total_kopecks:
        raise InvalidPaymentRequest(f"receipt lines add up to {lines} kopecks, not {total_kopecks}")
    customer = {"email": receipt.email, "phone": receipt.phone}
    return {
        "customer": {key: value for key, value in customer.items() if value},
        "items": [
            _item_json(item, receipt.vat_code, receipt.payment_mode) for item in receipt.items
        ],
    }


def _item_json(item: ReceiptItem, vat_code: int, payment_mode: str) -> dict[str, Any]:
    if item.quantity <= 0:
        raise InvalidPaymentRequest(f"quantity must be positive: {item.description!r}")
    body: dict[str, Any] = {
        "description": shorten(item.description),
        "quantity": f"{item.quantity}.00",
        "amount": amount_json(item.unit_price_kopecks),
        "vat_code": vat_code,
        "payment_mode": payment_mode,
        "payment_subject": item.payment_subject,
    }
    if item.mark_code:
        if item.quantity != 1:
            raise InvalidPaymentRequest(f"a marked unit is a line of its own: {item.description!r}")
        body |= {"mark_code_info": {"gs_1m": item.mark_code}, "mark_mode": MARK_MODE}
    return body


def check_idempotence_key(key: str) -> str:
    """YooKassa takes keys of 1 to 64 characters; a UUID4 string is the usual choice."""
    if not key or len(key) > MAX_IDEMPOTENCE_KEY:
        raise InvalidPaymentRequest(f"an Idempotence-Key has 1..{MAX_IDEMPOTENCE_KEY} characters")
    return key


# --- what we receive ----------------------------------------------------------------------------


def parse_payment(data: Mapping[str, Any]) -> YooPayment:
    """A payment object (API answer or notification `object`) → YooPayment."""
    try:
        amount, currency = parse_amount(data["amount"])
        confirmation = data.get("confirmation") or {}
        cancellation = data.get("cancellation_details") or {}
        return YooPayment(
            id=_object_id(data["id"]),
            status=_status(PAYMENT_STATUSES, data["status"]),
            paid=_flag(data["paid"]),
            amount_kopecks=amount,
            currency=currency,
            confirmation_url=_optional_text(confirmation.get("confirmation_url")),
            metadata=_metadata(data.get("metadata") or {}),
            created_at=_instant(data["created_at"]),
            captured_at=_optional_instant(data.get("captured_at")),
            refundable=_flag(data.get("refundable", False)),
            cancellation_reason=_optional_text(cancellation.get("reason")),
            refunded_kopecks=parse_amount(data["refunded_amount"])[0]
            if data.get("refunded_amount")
            else 0,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InvalidYooKassaObject(f"not a YooKassa payment object: {exc}") from exc


def parse_refund(data: Mapping[str, Any]) -> YooRefund:
    """A refund object → YooRefund."""
    try:
        amount, _ = parse_amount(data["amount"])
        return YooRefund(
            id=_object_id(data["id"]),
            payment_id=_object_id(data["payment_id"]),
            status=_status(REFUND_STATUSES, data["status"]),
            amount_kopecks=amount,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InvalidYooKassaObject(f"not a YooKassa refund object: {exc}") from exc


def parse_notification(body: Any) -> YooNotification:
    """A notification body → event and object id; re-read the object with GET before trusting it."""
    if not isinstance(body, Mapping) or body.get("type") != "notification":
        raise InvalidNotification("the body is not a YooKassa notification")
    try:
        event = NotificationEvent(str(body.get("event")))
    except ValueError as exc:
        raise InvalidNotification(f"unexpected event {str(body.get('event'))[:64]!r}") from exc
    obj = body.get("object")
    object_id = obj.get("id") if isinstance(obj, Mapping) else None
    if not is_object_id(object_id):
        raise InvalidNotification("the notification object has no YooKassa id")
    return YooNotification(event, object_id)


def is_object_id(value: object) -> TypeGuard[str]:
    """Whether `value` is a payment or refund id in YooKassa's format (checked before any call
    that puts it into a URL: `.` or `..` there would name another resource)."""
    return isinstance(value, str) and _OBJECT_ID.fullmatch(value) is not None


def parse_amount(data: Mapping[str, Any]) -> tuple[int, str]:
    """{"value": "4990.00", "currency": "RUB"} → (499000, "RUB")."""
    value, currency = _text(data["value"]), _text(data["currency"])
    try:
        exact = Decimal(value)
    except InvalidOperation as exc:
        raise ValueError(f"amount value {value!r} is not a number") from exc
    kopecks = exact * 100
    if not exact.is_finite() or kopecks != kopecks.to_integral_value():
        raise ValueError(f"amount value {value!r} has more than two decimals")
    return int(kopecks), currency


def _status(statuses: Mapping[str, _Status], value: Any) -> _Status:
    try:
        return statuses[_text(value)]
    except KeyError:
        raise ValueError(f"unknown status {value!r}") from None


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {value!r}")
    return value


def _object_id(value: Any) -> str:
    """An id YooKassa answered with: we store it and put it into later URLs."""
    if not is_object_id(value):
        raise ValueError(f"not a YooKassa id: {str(value)[:64]!r}")
    return value


def _optional_text(value: Any) -> str | None:
    return None if value is None else _text(value)


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"expected true or false, got {value!r}")
    return value


def _instant(value: Any) -> datetime:
    parsed = datetime.fromisoformat(_text(value))
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp {value!r} has no offset")
    return parsed


def _optional_instant(value: Any) -> datetime | None:
    return None if value is None else _instant(value)


def _metadata(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise TypeError(f"metadata is not an object: {value!r}")
    return {_text(key): _text(item) for key, item in value.items()}
