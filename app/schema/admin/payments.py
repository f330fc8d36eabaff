"""The finance team's payment operations: find an order's payments, capture, void, refund.

Each needs an integration token with the `payments:write` scope (or `admin`).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated

import strawberry

from app.domain.access import Scope
from app.domain.catalog import parse_rub
from app.models.orders import Order as OrderRow
from app.models.orders import Payment as PaymentRow
from app.models.orders import Refund as RefundRow
from app.schema.checkout.types import Order, PaymentInfo, RefundInfo
from app.schema.context import Info
from app.schema.errors import UserError, payload, require_scope
from app.services.payments import admin as payment_admin

AMOUNT = "roubles as a decimal string, e.g. 1990.00"


@strawberry.type
class PaymentAdminPayload:
    payment: PaymentInfo | None
    order: Order | None
    errors: list[UserError]

    @classmethod
    async def of(cls, row: PaymentRow) -> PaymentAdminPayload:
        order = await OrderRow.get(id=row.order_id)
        return cls(payment=PaymentInfo(row=row), order=Order(row=order), errors=[])

    @classmethod
    def refused(cls, errors: list[UserError]) -> PaymentAdminPayload:
        return cls(payment=None, order=None, errors=errors)


@strawberry.type
class RefundPaymentPayload:
    refund: RefundInfo | None
    payment: PaymentInfo | None
    errors: list[UserError]

    @classmethod
    async def of(cls, refund: RefundRow) -> RefundPaymentPayload:
        payment = await PaymentRow.get(id=refund.payment_id)
        stored = await RefundRow.get(id=refund.id)
        return cls(refund=RefundInfo.of(stored), payment=PaymentInfo(row=payment), errors=[])

    @classmethod
    def refused(cls, errors: list[UserError]) -> RefundPaymentPayload:
        return cls(refund=None, payment=None, errors=errors)


def _kopecks(amount: str | None) -> int | None:
    return None if amount is None else parse_rub(amount, path=("amount",))


async def _payment(work: Awaitable[PaymentRow]) -> PaymentAdminPayload:
    return await payload(work, PaymentAdminPayload.of, PaymentAdminPayload.refused)


@strawberry.type
class PaymentAdminQuery:
    @strawberry.field(
        description="an order by its number, with its payments (payments:write, or a partner's "
        "orders:read: a delivery service reads the order its webhook named)"
    )
    async def order_by_number(self, info: Info, number: str) -> Order | None:
        await require_scope(info, Scope.PAYMENTS_WRITE, Scope.ORDERS_READ)
        row = await OrderRow.get_or_none(number=number.strip())
        return Order(row=row) if row else None


@strawberry.type
class PaymentAdminMutation:
    @strawberry.mutation(
        description="take an authorised (two-stage) payment, all of it or `amount` of it"
    )
    async def capture_payment(
        self,
        info: Info,
        payment_id: strawberry.ID,
        amount: Annotated[str | None, strawberry.argument(description=AMOUNT)] = None,
    ) -> PaymentAdminPayload:
        await require_scope(info, Scope.PAYMENTS_WRITE)
        ctx = info.context

        async def work() -> PaymentRow:
            return await payment_admin.capture(
                payment_guid=payment_id,
                amount=_kopecks(amount),
                providers=ctx.providers.get,
                now=ctx.now,
            )

        return await _payment(work())

    @strawberry.mutation(
        description="release an authorised payment's money; the order it paid is cancelled"
    )
    async def void_payment(self, info: Info, payment_id: strawberry.ID) -> PaymentAdminPayload:
        await require_scope(info, Scope.PAYMENTS_WRITE)
        ctx = info.context
        return await _payment(
            payment_admin.void(payment_guid=payment_id, providers=ctx.providers.get, now=ctx.now)
        )

    @strawberry.mutation(
        description="give back all that is left of a payment, or `amount`; the same "
        "idempotencyKey returns the same refund"
    )
    async def refund_payment(
        self,
        info: Info,
        payment_id: strawberry.ID,
        reason: str,
        idempotency_key: str,
        amount: Annotated[str | None, strawberry.argument(description=AMOUNT)] = None,
    ) -> RefundPaymentPayload:
        await require_scope(info, Scope.PAYMENTS_WRITE)
        ctx = info.context
        principal = await ctx.integration()

        async def work() -> RefundRow:
            return await payment_admin.refund(
                payment_guid=payment_id,
                amount=_kopecks(amount),
                reason=reason,
                idempotency_key=idempotency_key,
                requested_by=principal.name if principal else "admin",
                providers=ctx.providers.get,
                now=ctx.now,
            )

        return await payload(work(), RefundPaymentPayload.of, RefundPaymentPayload.refused)
