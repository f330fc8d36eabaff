"""The `yookassa` payment provider: our provider interface over the YooKassa API v3 client."""

from __future__ import annotations

from app.integrations.payments.base import (
    PaymentRequest,
    ProviderPayment,
    ProviderRefund,
    ReceiptData,
)
from app.integrations.payments.yookassa import mapping as yoo
from app.integrations.payments.yookassa.client import YooKassaClient

PAYMENT_GUID = "payment_guid"  # metadata keys: how a payment finds its way back to our rows
ORDER_GUID = "order_guid"
ORDER_NUMBER = "order_number"


class YooKassaProvider:
    """Redirect payments with 54-FZ receipts; one-stage (`capture`) or two-stage."""

    name = "yookassa"

    def __init__(self, client: YooKassaClient, *, capture: bool = True, vat_code: int = 1) -> None:
        self.client = client
        self.capture = capture
        self.vat_code = vat_code

    async def create_payment(self, request: PaymentRequest) -> ProviderPayment:
        answer = await self.client.create_payment(
            amount_kopecks=request.amount_kopecks,
            return_url=request.return_url,
            description=request.description,
            metadata={
                PAYMENT_GUID: request.payment_guid,
                ORDER_GUID: request.order_guid,
                ORDER_NUMBER: request.order_number,
            },
            idempotence_key=request.payment_guid,
            capture=self.capture,
            receipt=self._receipt(ReceiptData(request.receipt, request.email, request.phone)),
        )
        return payment_view(answer)

    async def get_payment(self, payment_id: str) -> ProviderPayment:
        return payment_view(await self.client.get_payment(payment_id))

    async def capture_payment(
        self,
        payment_id: str,
        *,
        amount_kopecks: int | None,
        idempotency_key: str,
        receipt: ReceiptData | None = None,
    ) -> ProviderPayment:
        answer = await self.client.capture_payment(
            payment_id,
            idempotence_key=idempotency_key,
            amount_kopecks=amount_kopecks,
            receipt=self._receipt(receipt) if amount_kopecks is not None else None,
        )
        return payment_view(answer)

    async def cancel_payment(self, payment_id: str, *, idempotency_key: str) -> ProviderPayment:
        return payment_view(
            await self.client.cancel_payment(payment_id, idempotence_key=idempotency_key)
        )

    async def refund_payment(
        self,
        payment_id: str,
        *,
        amount_kopecks: int,
        idempotency_key: str,
        description: str,
        receipt: ReceiptData | None = None,
    ) -> ProviderRefund:
        answer = await self.client.create_refund(
            payment_id,
            amount_kopecks=amount_kopecks,
            idempotence_key=idempotency_key,
            description=description,
            receipt=self._receipt(receipt),
        )
        return refund_view(answer)

    async def get_refund(self, refund_id: str) -> ProviderRefund:
        return refund_view(await self.client.get_refund(refund_id))

    async def aclose(self) -> None:
        await self.client.aclose()

    def _receipt(self, data: ReceiptData | None) -> yoo.Receipt | None:
        if data is None or not data.lines or not (data.email or data.phone):
            return None
        items = [
            yoo.ReceiptItem(
                line.description, line.quantity, line.unit_price_kopecks, mark_code=line.mark_code
            )
            for line in data.lines
        ]
        phone = data.phone.removeprefix("+") if data.phone else None
        mode = yoo.FULL_PAYMENT if data.handed_over else yoo.FULL_PREPAYMENT
        return yoo.Receipt(items, data.email, phone, self.vat_code, mode)


def payment_view(payment: yoo.YooPayment) -> ProviderPayment:
    return ProviderPayment(
        id=payment.id,
        status=payment.status,
        amount_kopecks=payment.amount_kopecks,
        currency=payment.currency,
        refunded_kopecks=payment.refunded_kopecks,
        payment_guid=payment.metadata.get(PAYMENT_GUID),
        confirmation_url=payment.confirmation_url,
        cancellation_reason=payment.cancellation_reason,
        metadata=payment.metadata,
    )


def refund_view(refund: yoo.YooRefund) -> ProviderRefund:
    return ProviderRefund(refund.id, refund.payment_id, refund.status, refund.amount_kopecks)
