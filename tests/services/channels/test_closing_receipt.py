"""The closing receipt of a prepaid order: written with the shipment, registered through
YooKassa's receipts API (the simulator checks its shape), a marked unit per line."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest

from app.devtools.simulators.yookassa import YooKassaSimulator
from app.domain.order_status import Reported
from app.domain.outbox import EventKind, EventState, RetryPolicy, Target
from app.integrations.payments.yookassa.client import YooKassaClient
from app.integrations.payments.yookassa.provider import YooKassaProvider
from app.integrations.payments.yookassa.receipts import YooKassaReceipts
from app.models.orders import Order
from app.models.outbox import OutboxEvent
from app.services.channels import order_status
from app.services.channels.order_status import StatusUpdate
from app.services.jobs import NoQueue
from app.services.outbox.delivery import Senders, deliver_aggregate
from app.services.payments import start as payments
from app.services.payments import watch
from tests import factories
from tests.services.channels.conftest import AT, NOW, M, S


def _client(sim: YooKassaSimulator) -> YooKassaClient:
    """A YooKassa client speaking to the simulator in process."""
    client = YooKassaClient("https://yookassa.test/v3/", sim.shop_id, sim.secret_key)
    client._http = httpx.AsyncClient(
        base_url="https://yookassa.test/v3/",
        auth=httpx.BasicAuth(sim.shop_id, sim.secret_key),
        transport=httpx.ASGITransport(app=sim.app),
    )
    return client


@pytest.fixture
async def yookassa() -> AsyncIterator[tuple[YooKassaSimulator, YooKassaClient]]:
    sim = YooKassaSimulator()
    client = _client(sim)
    yield sim, client
    await client.aclose()
    await sim.aclose()


async def _paid_by_yookassa(sim: YooKassaSimulator, client: YooKassaClient) -> Order:
    await factories.warehouses()
    variants = [factories.variant("Dress", "M", "black"), factories.variant("Dress", "S", "black")]
    await factories.product("Dress", variants=variants)
    await factories.stock(M, factories.ONLINE, 5)
    await factories.stock(S, factories.ONLINE, 5)
    order = (
        await factories.place(await factories.cart_with([(M, 2), (S, 1)], now=NOW), now=NOW)
    ).order
    provider = YooKassaProvider(client)
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
    return await Order.get(id=order.id)


async def _deliver_receipts(order: Order, client: YooKassaClient) -> int:
    outcome = await deliver_aggregate(
        target=Target.RECEIPTS,
        aggregate=f"order:{order.guid}",
        senders=Senders(receipts=YooKassaReceipts(client, vat_code=11)),
        policy=RetryPolicy(),
        clock=lambda: NOW,
    )
    return outcome.delivered


async def test_a_shipment_registers_the_closing_receipt_with_each_units_code(
    db: str, yookassa: tuple[YooKassaSimulator, YooKassaClient]
) -> None:
    sim, client = yookassa
    order = await _paid_by_yookassa(sim, client)
    shipped = StatusUpdate(
        order.guid,
        Reported.SHIPPED,
        AT,
        carrier="СДЭК",
        marking_codes=[(M, "0104650117240408215Qbag!"), (M, "0104650117240408215Qbag?")],
    )

    report = await order_status.update_order_statuses(updates=[shipped], max_updates=10, now=NOW)
    delivered = await _deliver_receipts(order, client)

    assert (report.applied, delivered) == (1, 1)
    event = await OutboxEvent.get(target=Target.RECEIPTS)
    assert (event.kind, event.state) == (EventKind.CLOSING_RECEIPT, EventState.DELIVERED)
    [receipt] = sim.receipts.values()
    assert receipt["type"] == "payment"
    assert receipt["settlements"] == [
        {"type": "prepayment", "amount": {"value": "14970.00", "currency": "RUB"}}
    ]
    items = [
        (i["quantity"], i["amount"]["value"], i["payment_mode"], i.get("mark_code_info"))
        for i in receipt["items"]
    ]
    assert items == [
        ("1.00", "4990.00", "full_payment", {"gs_1m": "0104650117240408215Qbag!"}),
        ("1.00", "4990.00", "full_payment", {"gs_1m": "0104650117240408215Qbag?"}),
        ("1.00", "4990.00", "full_payment", None),
    ]
    assert all(i.get("mark_mode") == "0" for i in receipt["items"] if "mark_code_info" in i)
    assert sum(Decimal(i["amount"]["value"]) for i in receipt["items"]) == Decimal("14970.00")


async def test_delivering_the_receipt_again_registers_it_once(
    db: str, yookassa: tuple[YooKassaSimulator, YooKassaClient]
) -> None:
    sim, client = yookassa
    order = await _paid_by_yookassa(sim, client)
    await order_status.update_order_statuses(
        updates=[StatusUpdate(order.guid, Reported.SHIPPED, AT, carrier="СДЭК")],
        max_updates=10,
        now=NOW,
    )
    await _deliver_receipts(order, client)
    await OutboxEvent.filter(target=Target.RECEIPTS).update(state=EventState.PENDING)

    await _deliver_receipts(order, client)  # a retry after a lost answer: same Idempotence-Key

    assert len(sim.receipts) == 1


async def test_the_simulator_refuses_a_receipt_that_does_not_add_up(
    yookassa: tuple[YooKassaSimulator, YooKassaClient],
) -> None:
    sim, client = yookassa
    body = {
        "type": "payment",
        "payment_id": "nope",
        "customer": {"email": "a@example.com"},
        "send": True,
        "settlements": [{"type": "prepayment", "amount": {"value": "10.00", "currency": "RUB"}}],
        "items": [
            {
                "description": "Платье",
                "quantity": "2.00",
                "amount": {"value": "10.00", "currency": "RUB"},
                "vat_code": 1,
                "payment_mode": "full_payment",
                "payment_subject": "commodity",
                "mark_code_info": {"gs_1m": "X"},
                "mark_mode": "0",
            }
        ],
    }

    answer = await client._http.post("receipts", json=body, headers={"Idempotence-Key": "k-1"})

    assert answer.status_code == 400
    assert answer.json()["parameter"] == "settlements"
    assert sim.receipts == {}


async def test_the_workers_send_receipts_only_where_yookassa_is_set_up() -> None:
    from app.settings import Settings
    from app.workers.outbox import build_senders, close_senders

    with_yookassa = build_senders(
        Settings(environment="test", yookassa_url="https://yookassa.test/v3/")
    )
    without = build_senders(Settings(environment="test"))

    assert (with_yookassa.configured(Target.RECEIPTS), without.configured(Target.RECEIPTS)) == (
        True,
        False,
    )
    await close_senders(with_yookassa)
    await close_senders(without)


async def test_a_return_is_refunded_through_yookassa_with_its_receipt(
    db: str, yookassa: tuple[YooKassaSimulator, YooKassaClient]
) -> None:
    sim, client = yookassa
    order = await _paid_by_yookassa(sim, client)
    provider = YooKassaProvider(client)
    back = StatusUpdate(
        order.guid,
        Reported.RETURNED,
        AT,
        return_guid=factories.guid("return/1"),
        return_lines=[(S, 1)],
    )
    shipped = StatusUpdate(order.guid, Reported.SHIPPED, AT, carrier="СДЭК")

    report = await order_status.update_order_statuses(
        updates=[shipped, back], max_updates=10, now=NOW
    )
    await order_status.after_commit(report, providers=lambda _: provider, jobs=NoQueue(), now=NOW)

    [refund] = sim.refunds.values()
    assert (refund["status"], refund["amount"]["value"]) == ("succeeded", "4990.00")
    [payment] = sim.payments.values()
    assert payment["refunded_amount"]["value"] == "4990.00"
    assert (await Order.get(id=order.id)).status.value == "partly_returned"
