"""YooKassa's receipts API (`POST receipts`): the closing receipt of a prepaid order.

A shop that takes prepayments registers a second receipt when the goods are handed over
(чек зачёта предоплаты): `type: "payment"`, the payment it settles, `settlements` of type
`prepayment`, items with payment mode `full_payment`; a marked unit (clothing) carries its
code in `mark_code_info` (`gs_1m`, the DataMatrix as read, group separators left out) with
`mark_mode: "0"`. YooKassa delivers receipts by e-mail only (a phone is passed along too).
The outbox event id is the Idempotence-Key: a retried delivery registers one receipt.
"""

from __future__ import annotations

from typing import Any

from app.domain.closing_receipt import ClosingReceiptItem, ClosingReceiptRecord
from app.integrations.errors import RejectedError
from app.integrations.payments.yookassa.client import YooKassaClient
from app.integrations.payments.yookassa.mapping import (
    COMMODITY,
    FULL_PAYMENT,
    MARK_MODE,
    VAT_CODES,
    InvalidPaymentRequest,
    amount_json,
    shorten,
)


def closing_receipt_json(record: ClosingReceiptRecord, vat_code: int) -> dict[str, Any]:
    """The body of `POST receipts` for a closing receipt."""
    if not record.email and not record.phone:
        raise InvalidPaymentRequest("a receipt needs the customer's email or phone")
    if not record.items or vat_code not in VAT_CODES:
        raise InvalidPaymentRequest("a receipt needs items and a vat_code of 1..12")
    customer = {"email": record.email, "phone": record.phone}
    return {
        "type": "payment",
        "payment_id": record.provider_payment_id,
        "customer": {key: value for key, value in customer.items() if value},
        "send": True,
        "settlements": [{"type": "prepayment", "amount": amount_json(record.amount_kopecks)}],
        "items": [_item(item, vat_code) for item in record.items],
    }


def _item(item: ClosingReceiptItem, vat_code: int) -> dict[str, Any]:
    body: dict[str, Any] = {
        "description": shorten(item.description),
        "quantity": f"{item.quantity}.00",
        "amount": amount_json(item.unit_price_kopecks),
        "vat_code": vat_code,
        "payment_mode": FULL_PAYMENT,
        "payment_subject": COMMODITY,
    }
    if item.mark_code:
        body |= {"mark_code_info": {"gs_1m": item.mark_code}, "mark_mode": MARK_MODE}
    return body


class YooKassaReceipts:
    """Register closing receipts through YooKassa (the outbox's RECEIPTS system)."""

    def __init__(self, client: YooKassaClient, vat_code: int) -> None:
        self._client = client
        self._vat_code = vat_code

    async def send_receipt(self, record: ClosingReceiptRecord, event_id: str) -> None:
        """Register the receipt; a body we cannot build is a business rejection (parked)."""
        try:
            body = closing_receipt_json(record, self._vat_code)
        except InvalidPaymentRequest as error:
            raise RejectedError(f"closing receipt not sendable: {error}", 422, "") from error
        await self._client.create_receipt(body, idempotence_key=event_id)

    async def aclose(self) -> None:
        await self._client.aclose()
