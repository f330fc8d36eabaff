"""A paid order to report on: two units of one size and one of another, paid by card."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from app.domain.order_status import Reported
from app.integrations.payments.dummy import SUCCEEDS, DummyProvider
from app.models.orders import Order
from app.services.channels import order_status
from app.services.channels.order_status import StatusReport, StatusUpdate
from app.services.jobs import NoQueue
from app.services.payments import start as payments
from tests import factories

M = factories.guid("variant/Dress/M/black")
S = factories.guid("variant/Dress/S/black")
NOW = factories.later(0)
AT = factories.iso(factories.later(5))


@dataclass
class Paid:
    order: Order
    provider: DummyProvider

    async def report(self, *updates: StatusUpdate) -> StatusReport:
        """1C's call, and what follows its commit (refunds asked, events woken)."""
        report = await order_status.update_order_statuses(
            updates=list(updates), max_updates=100, now=NOW
        )
        await order_status.after_commit(
            report, providers=lambda name: self.provider, jobs=NoQueue(), now=NOW
        )
        return report

    def update(self, status: Reported, **fields: object) -> StatusUpdate:
        return StatusUpdate(self.order.guid, status, AT, **fields)  # type: ignore[arg-type]

    async def fresh(self) -> Order:
        return await Order.get(id=self.order.id)


@pytest.fixture
async def paid(db: str) -> Paid:
    return await make_paid()


async def make_paid() -> Paid:
    """The order, placed and paid (a fixture of the tests that report on it)."""
    await factories.warehouses()
    variants = [factories.variant("Dress", "M", "black"), factories.variant("Dress", "S", "black")]
    await factories.product("Dress", variants=variants)
    await factories.stock(M, factories.ONLINE, 5)
    await factories.stock(S, factories.ONLINE, 5)
    cart = await factories.cart_with([(M, 2), (S, 1)], now=NOW)
    order = (await factories.place(cart, now=NOW)).order
    provider = DummyProvider()
    await payments.pay_order(
        order_token=order.token,
        idempotency_key="pay-attempt-1",
        provider=provider,
        return_url="https://shop.example/",
        now=NOW,
        jobs=NoQueue(),
        card_number=SUCCEEDS,
    )
    return Paid(await Order.get(id=order.id), provider)
