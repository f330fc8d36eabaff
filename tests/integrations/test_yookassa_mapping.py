"""YooKassa JSON in and out, against the payload shapes of the API v3 documentation."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from app.domain.payments import PaymentStatus, RefundStatus
from app.integrations.payments.yookassa.mapping import (
    FULL_PREPAYMENT,
    InvalidNotification,
    InvalidPaymentRequest,
    InvalidYooKassaObject,
    NotificationEvent,
    Receipt,
    ReceiptItem,
    YooNotification,
    amount_json,
    capture_request,
    check_idempotence_key,
    parse_notification,
    parse_payment,
    parse_refund,
    payment_request,
    receipt_json,
    refund_request,
)

ORDER = "7c9e6679-7425-40de-944b-e07fc1f90ae7"

# Shapes as the documentation shows them (extra fields included: we must ignore them).
PENDING: dict[str, Any] = {
    "id": "23d93cac-000f-5000-8000-126628f15141",
    "status": "pending",
    "paid": False,
    "amount": {"value": "100.00", "currency": "RUB"},
    "confirmation": {
        "type": "redirect",
        "confirmation_url": "https://yoomoney.ru/api-pages/v2/payment-confirm/epl?orderId=23d93cac",
    },
    "created_at": "2019-01-22T14:30:45.129Z",
    "description": "Заказ №1",
    "metadata": {},
    "recipient": {"account_id": "100500", "gateway_id": "100700"},
    "refundable": False,
    "test": False,
}
WAITING_NOTIFICATION: dict[str, Any] = {
    "type": "notification",
    "event": "payment.waiting_for_capture",
    "object": {
        "id": "22d6d597-000f-5000-9000-145f6df21d6f",
        "status": "waiting_for_capture",
        "paid": True,
        "amount": {"value": "2.00", "currency": "RUB"},
        "authorization_details": {"rrn": "10000000000", "auth_code": "000000"},
        "created_at": "2018-07-10T14:27:54.691Z",
        "description": "Заказ №72",
        "expires_at": "2018-07-17T14:28:32.484Z",
        "metadata": {"order_guid": ORDER},
        "payment_method": {"type": "bank_card", "id": "22d6d597", "saved": False},
        "refundable": False,
        "test": False,
    },
}
REFUND: dict[str, Any] = {
    "id": "216749f7-0016-50be-b000-078d43a63ae4",
    "status": "succeeded",
    "amount": {"value": "1.00", "currency": "RUB"},
    "created_at": "2017-10-04T19:27:51.407Z",
    "payment_id": "216749da-000f-50be-b000-096747fad91e",
}


def shirt_and_jeans(**overrides: Any) -> Receipt:
    items = [
        ReceiptItem("Рубашка льняная, белая, M", 2, 1_990_00),
        ReceiptItem("Джинсы", 1, 1_010_00),
    ]
    return Receipt(**({"items": items, "email": "anna@example.com"} | overrides))


# --- amounts -------------------------------------------------------------------------------------


def test_kopecks_become_a_rouble_string_with_two_decimals() -> None:
    assert amount_json(4_990_00) == {"value": "4990.00", "currency": "RUB"}
    assert amount_json(5) == {"value": "0.05", "currency": "RUB"}


@pytest.mark.parametrize("kopecks", [0, -100, True])
def test_an_amount_must_be_a_positive_whole_number_of_kopecks(kopecks: int) -> None:
    with pytest.raises(InvalidPaymentRequest):
        amount_json(kopecks)


# --- POST /v3/payments ---------------------------------------------------------------------------


def test_a_payment_with_a_receipt_has_the_documented_shape() -> None:
    body = payment_request(
        amount_kopecks=4_990_00,
        return_url="https://shop.example/orders/42",
        description="Заказ №42",
        metadata={"order_guid": ORDER},
        receipt=shirt_and_jeans(),
    )

    assert body == {
        "amount": {"value": "4990.00", "currency": "RUB"},
        "capture": True,
        "confirmation": {"type": "redirect", "return_url": "https://shop.example/orders/42"},
        "description": "Заказ №42",
        "metadata": {"order_guid": ORDER},
        "receipt": {
            "customer": {"email": "anna@example.com"},
            "items": [
                {
                    "description": "Рубашка льняная, белая, M",
                    "quantity": "2.00",
                    "amount": {"value": "1990.00", "currency": "RUB"},
                    "vat_code": 1,
                    "payment_mode": "full_payment",
                    "payment_subject": "commodity",
                },
                {
                    "description": "Джинсы",
                    "quantity": "1.00",
                    "amount": {"value": "1010.00", "currency": "RUB"},
                    "vat_code": 1,
                    "payment_mode": "full_payment",
                    "payment_subject": "commodity",
                },
            ],
        },
    }


def test_a_two_stage_payment_without_a_receipt_asks_not_to_capture() -> None:
    body = payment_request(
        amount_kopecks=100,
        return_url="https://s.example/r",
        description="",
        metadata={},
        capture=False,
    )

    assert body["capture"] is False
    assert "receipt" not in body and "description" not in body


def test_long_descriptions_are_cut_to_128_characters() -> None:
    long = "Платье " * 40
    receipt = Receipt([ReceiptItem(long, 1, 100)], phone="79001234567")

    body = payment_request(
        amount_kopecks=100,
        return_url="https://s.example/r",
        description=long,
        metadata={},
        receipt=receipt,
    )

    assert len(body["description"]) == 128 and body["description"].endswith("…")
    assert len(body["receipt"]["items"][0]["description"]) == 128
    assert body["receipt"]["customer"] == {"phone": "79001234567"}


def test_the_vat_code_comes_from_the_receipt() -> None:
    body = payment_request(
        amount_kopecks=4_990_00,
        return_url="https://s.example/r",
        description="x",
        metadata={},
        receipt=shirt_and_jeans(vat_code=11),
    )

    assert {item["vat_code"] for item in body["receipt"]["items"]} == {11}


@pytest.mark.parametrize(
    "receipt",
    [
        shirt_and_jeans(email=None),  # nobody to send it to
        shirt_and_jeans(items=[]),
        shirt_and_jeans(vat_code=13),
        shirt_and_jeans(items=[ReceiptItem("Носки", 0, 4_990_00)]),
        shirt_and_jeans(items=[ReceiptItem("Носки", 1, 4_989_99)]),  # lines ≠ payment amount
    ],
)
def test_a_receipt_yookassa_would_refuse_is_refused_here(receipt: Receipt) -> None:
    with pytest.raises(InvalidPaymentRequest):
        payment_request(
            amount_kopecks=4_990_00,
            return_url="https://s.example/r",
            description="x",
            metadata={},
            receipt=receipt,
        )


@pytest.mark.parametrize(
    "metadata",
    [{f"k{i}": "v" for i in range(17)}, {"k" * 33: "v"}, {"order_guid": "v" * 513}],
)
def test_metadata_beyond_yookassa_limits_is_refused(metadata: dict[str, str]) -> None:
    with pytest.raises(InvalidPaymentRequest):
        payment_request(
            amount_kopecks=100, return_url="https://s.example/r", description="x", metadata=metadata
        )


# --- capture, refund, idempotence keys -----------------------------------------------------------


def test_capture_without_an_amount_takes_everything_with_one_takes_that() -> None:
    assert capture_request(None) == {}
    assert capture_request(1_000_00) == {"amount": {"value": "1000.00", "currency": "RUB"}}


def test_a_partial_refund_has_the_documented_shape() -> None:
    body = refund_request(
        payment_id=REFUND["payment_id"], amount_kopecks=100, description="Возврат"
    )

    assert body == {
        "payment_id": "216749da-000f-50be-b000-096747fad91e",
        "amount": {"value": "1.00", "currency": "RUB"},
        "description": "Возврат",
    }


@pytest.mark.parametrize("key", ["", "k" * 65])
def test_an_idempotence_key_has_1_to_64_characters(key: str) -> None:
    assert check_idempotence_key("k" * 64) == "k" * 64
    with pytest.raises(InvalidPaymentRequest):
        check_idempotence_key(key)


# --- payment and refund objects ------------------------------------------------------------------


def test_a_pending_payment_object_is_read() -> None:
    payment = parse_payment(PENDING)

    assert payment.id == "23d93cac-000f-5000-8000-126628f15141"
    assert payment.status is PaymentStatus.PENDING and payment.paid is False
    assert (payment.amount_kopecks, payment.currency) == (100_00, "RUB")
    assert payment.confirmation_url == PENDING["confirmation"]["confirmation_url"]
    assert payment.created_at == datetime(2019, 1, 22, 14, 30, 45, 129000, tzinfo=UTC)
    assert payment.captured_at is None and payment.cancellation_reason is None
    assert payment.metadata == {} and payment.refundable is False


def test_a_succeeded_and_a_canceled_payment_are_read() -> None:
    succeeded = PENDING | {"status": "succeeded", "paid": True, "refundable": True}
    succeeded |= {"captured_at": "2019-01-22T14:31:02.000Z", "confirmation": None}
    canceled = PENDING | {"status": "canceled"}
    canceled |= {"cancellation_details": {"party": "merchant", "reason": "canceled_by_merchant"}}

    paid, dropped = parse_payment(succeeded), parse_payment(canceled)

    assert paid.status is PaymentStatus.SUCCEEDED and paid.refundable is True
    assert paid.captured_at == datetime(2019, 1, 22, 14, 31, 2, tzinfo=UTC)
    assert paid.confirmation_url is None
    assert dropped.status is PaymentStatus.CANCELLED and dropped.paid is False
    assert dropped.cancellation_reason == "canceled_by_merchant"


def test_yookassas_canceled_is_our_cancelled_for_payments_and_refunds() -> None:
    payment = parse_payment(PENDING | {"status": "canceled"})
    refund = parse_refund(REFUND | {"status": "canceled"})

    assert (payment.status, payment.status.value) == (PaymentStatus.CANCELLED, "cancelled")
    assert (refund.status, refund.status.value) == (RefundStatus.CANCELLED, "cancelled")


@pytest.mark.parametrize(
    "broken",
    [
        {k: v for k, v in PENDING.items() if k != "id"},
        PENDING | {"status": "refunded"},
        PENDING | {"status": "cancelled"},  # our spelling, not YooKassa's
        PENDING | {"amount": {"value": "100.005", "currency": "RUB"}},
        PENDING | {"amount": {"value": 100, "currency": "RUB"}},
        PENDING | {"paid": "false"},
        PENDING | {"metadata": {"order_guid": 42}},
        PENDING | {"created_at": "2019-01-22T14:30:45"},
    ],
)
def test_a_payment_object_of_another_shape_is_refused(broken: dict[str, Any]) -> None:
    with pytest.raises(InvalidYooKassaObject):
        parse_payment(broken)


def test_a_refund_object_is_read() -> None:
    refund = parse_refund(REFUND)

    assert refund.id == "216749f7-0016-50be-b000-078d43a63ae4"
    assert refund.payment_id == "216749da-000f-50be-b000-096747fad91e"
    assert refund.status is RefundStatus.SUCCEEDED and refund.amount_kopecks == 100


@pytest.mark.parametrize("status", ["cancelled", "refunded", None])
def test_a_refund_object_with_another_status_is_refused(status: str | None) -> None:
    with pytest.raises(InvalidYooKassaObject):
        parse_refund(REFUND | {"status": status})


# --- notifications -------------------------------------------------------------------------------


def test_a_notification_names_its_event_and_object() -> None:
    assert parse_notification(WAITING_NOTIFICATION) == YooNotification(
        NotificationEvent.PAYMENT_WAITING_FOR_CAPTURE, "22d6d597-000f-5000-9000-145f6df21d6f"
    )
    refund = {"type": "notification", "event": "refund.succeeded", "object": REFUND}
    assert parse_notification(refund).object_id == REFUND["id"]


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        WAITING_NOTIFICATION | {"type": "webhook"},
        WAITING_NOTIFICATION | {"event": "payout.succeeded"},
        WAITING_NOTIFICATION | {"event": "deal.closed"},
        WAITING_NOTIFICATION | {"object": {}},
        {k: v for k, v in WAITING_NOTIFICATION.items() if k != "object"},
    ],
)
def test_anything_else_is_not_a_notification(body: Any) -> None:
    with pytest.raises(InvalidNotification):
        parse_notification(body)


def test_a_prepayment_receipt_says_so_on_every_line() -> None:
    body = receipt_json(shirt_and_jeans(payment_mode=FULL_PREPAYMENT), 4990_00)

    assert [i["payment_mode"] for i in body["items"]] == ["full_prepayment", "full_prepayment"]
