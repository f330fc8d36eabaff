"""An order paid through the YooKassa simulator (one-stage, or authorised only), and the calls
that follow a status report (refunds asked, receipts delivered), for the receipt tests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from app.devtools.simulators.yookassa import YooKassaSimulator
from app.domain.outbox import RetryPolicy, Target
from app.integrations.payments.yookassa.client import YooKassaClient
from app.integrations.payments.yookassa.provider import YooKassaProvider
from app.integrations.payments.yookassa.receipts import YooKassaReceipts
from app.models.orders import Order
from app.services.channels import order_status
from app.services.channels.order_status import StatusReport, StatusUpdate
from app.services.jobs import NoQueue
from app.services.outbox.delivery import Senders, deliver_aggregate
from app.services.payments import start as payments
from app.services.payments import watch
from app.services.payments.shipment_capture import ShipmentCaptures
from tests import factories
from tests.services.channels.conftest import NOW, M, S

CODES = ("010465011724040821M1", "010465011724040821M2", "010465011724040821S1")


def simulator_client(sim: YooKassaSimulator) -> YooKassaClient:
    """A YooKassa client speaking to the simulator in process."""
    client = YooKassaClient("https://yookassa.test/v3/", sim.shop_id, sim.secret_key)
    client._http = httpx.AsyncClient(
        base_url="https://yookassa.test/v3/",
        auth=httpx.BasicAuth(sim.shop_id, sim.secret_key),
        transport=httpx.ASGITransport(app=sim.app),
    )
    return client


@dataclass
class YooOrder:
    sim: YooKassaSimulator
    client: YooKassaClient
    provider: YooKassaProvider
    order: Order

    async def report(self, *updates: StatusUpdate) -> StatusReport:
        """1C's call and what follows its commit."""
        report = await order_status.update_order_statuses(
            updates=list(updates), max_updates=100, now=NOW
        )
        await order_status.after_commit(
            report, providers=lambda _: self.provider, jobs=NoQueue(), now=NOW
        )
        return report

    async def deliver_receipts(self) -> int:
        """Deliver the order's RECEIPTS events (captures at shipment, closing receipts)."""
        senders = Senders(
            receipts=YooKassaReceipts(self.client, vat_code=11),
            captures=ShipmentCaptures(lambda _: self.provider),
        )
        outcome = await deliver_aggregate(
            target=Target.RECEIPTS,
            aggregate=f"order:{self.order.guid}",
            senders=senders,
            policy=RetryPolicy(),
            clock=lambda: NOW,
        )
        return outcome.delivered

    def refund_receipt_items(self) -> list[tuple[str, str, str | None]]:
        """(quantity, unit price, code) of each item of each refund's receipt, in order."""
        return [
            (i["quantity"], i["amount"]["value"], (i.get("mark_code_info") or {}).get("gs_1m"))
            for receipt in self.sim.refund_receipts.values()
            for i in receipt["items"]
        ]


async def paid_by_yookassa(
    sim: YooKassaSimulator,
    client: YooKassaClient,
    *,
    capture: bool = True,
    lines: Sequence[tuple[str, int]] = ((M, 2), (S, 1)),
) -> YooOrder:
    """Two M and one S dress at 4990.00, paid (or only authorised, `capture=False`)."""
    await factories.warehouses()
    variants = [factories.variant("Dress", "M", "black"), factories.variant("Dress", "S", "black")]
    await factories.product("Dress", variants=variants)
    await factories.stock(M, factories.ONLINE, 5)
    await factories.stock(S, factories.ONLINE, 5)
    cart = await factories.cart_with(list(lines), now=NOW)
    order = (await factories.place(cart, now=NOW)).order
    provider = YooKassaProvider(client, capture=capture)
    outcome = await payments.pay_order(
        order_token=order.token,
        idempotency_key="pay-attempt-1",
        provider=provider,
        return_url="https://shop.example/",
        now=NOW,
        jobs=NoQueue(),
    )
    assert outcome.payment.provider_payment_id is not None
    await sim.pay(outcome.payment.provider_payment_id)
    await watch.on_payment_event(
        provider=provider,
        provider_payment_id=outcome.payment.provider_payment_id,
        now=NOW,
        jobs=NoQueue(),
    )
    return YooOrder(sim, client, provider, await Order.get(id=order.id))
