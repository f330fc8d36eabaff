"""Applying provider reports under concurrency: one change however many reports race, and an
order expiring while its money arrives ends either paid or cancelled and refunded, never both."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from app.domain.orders import OrderStatus
from app.domain.outbox import EventKind
from app.domain.payments import PaymentStatus, RefundStatus
from app.integrations.payments.dummy import STAYS_PENDING, DummyProvider
from app.models.orders import Order, OrderStatusChange, Payment, Refund
from app.models.outbox import OutboxEvent
from app.services.checkout import orders
from app.services.jobs import NoQueue
from app.services.payments import start as payments
from app.services.payments.apply import apply_report, give_back_surplus
from tests import factories
from tests.conftest import empty_tables

DRESS = factories.guid("variant/Dress/M/black")
NOW = factories.later(0)


async def _pending(provider: DummyProvider) -> tuple[Order, Payment]:
    await factories.warehouses()
    await factories.product("Dress")
    await factories.stock(DRESS, factories.ONLINE, 3)
    order = (await factories.place(await factories.cart_with([(DRESS, 1)], now=NOW), now=NOW)).order
    outcome = await payments.pay_order(
        order_token=order.token,
        idempotency_key="pay-attempt-1",
        provider=provider,
        return_url="https://shop.example/",
        now=NOW,
        jobs=NoQueue(),
        card_number=STAYS_PENDING,
    )
    return order, outcome.payment


async def test_twenty_copies_of_one_report_change_the_payment_once(db: str) -> None:
    provider = DummyProvider()
    order, payment = await _pending(provider)
    view = provider.complete(payment.provider_payment_id or "")

    applied = await asyncio.gather(
        *[apply_report(payment=payment, view=view, now=NOW) for _ in range(20)]
    )

    assert sum(a.changed for a in applied) == 1
    paid = await OrderStatusChange.filter(order_id=order.id, to_status=OrderStatus.PAID).count()
    events = await OutboxEvent.filter(kind=EventKind.PAYMENT_STATUS_CHANGED).count()
    assert (paid, events) == (1, 2)  # one per system
    assert (await Order.get(id=order.id)).status is OrderStatus.PAID


async def test_money_arriving_as_the_order_expires_is_kept_or_given_back_never_both(
    db: str,
) -> None:
    for _ in range(5):
        provider = DummyProvider()
        order, payment = await _pending(provider)
        view = provider.complete(payment.provider_payment_id or "")
        late = NOW + timedelta(minutes=16)

        await asyncio.gather(
            apply_report(payment=payment, view=view, now=late),
            orders.expire_order(order_id=order.id, now=late),
        )
        payment = await Payment.get(id=payment.id)
        await give_back_surplus(payment=payment, provider=provider, now=late)

        order = await Order.get(id=order.id)
        payment = await Payment.get(id=payment.id)
        refunds = await Refund.filter(payment_id=payment.id)
        if order.status is OrderStatus.PAID:
            assert (payment.status, payment.surplus, refunds) == (
                PaymentStatus.SUCCEEDED,
                False,
                [],
            )
            assert await factories.positions(DRESS) == {factories.ONLINE: (3, 1)}
        else:
            assert order.status is OrderStatus.CANCELLED
            assert (payment.status, payment.surplus) == (PaymentStatus.REFUNDED, True)
            assert [(r.status, r.amount) for r in refunds] == [
                (RefundStatus.SUCCEEDED, payment.amount)
            ]
            assert await factories.positions(DRESS) == {factories.ONLINE: (3, 0)}
        await empty_tables()
