"""Pulling RetailCRM's histories from the simulator: pages by sinceId, the cursor stored with
each page, managers' status changes, manager-made orders, customers and combinedTo reaching
the identity graph, and the request budget shared with our pushes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from app.db import is_sqlite
from app.devtools.simulators.retailcrm import RetailCrmSimulator
from app.domain.identity import Channel, CustomerSource
from app.domain.order_status import Reported
from app.domain.orders import OrderStatus
from app.domain.outbox import EventKind, Target
from app.integrations.errors import RejectedError
from app.integrations.retailcrm.budget import RedisBudget, budget_key
from app.integrations.retailcrm.client import RetailCrmClient
from app.models.channels import HistoryCursor, MarkingCode, OrderShipment
from app.models.customers import Customer
from app.models.identity import ChannelPurchase, IdentityLink, IdentityRecord
from app.models.orders import Order, Refund
from app.models.outbox import OutboxEvent
from app.services.channels.order_status import StatusUpdate, update_order_statuses
from app.services.channels.retailcrm_history import pull_history
from app.services.outbox.record import order_record
from app.settings import Settings
from tests import factories
from tests.services.channels.conftest import NOW, M, Paid, make_paid


@pytest.fixture
async def paid(db: str) -> Paid:
    return await make_paid()


STATUS_MAP = Settings(environment="test").retailcrm_status_map


def crm_client(sim: RetailCrmSimulator, budget: RedisBudget | None = None) -> RetailCrmClient:
    return RetailCrmClient(
        "http://crm.test/api/v5",
        sim.api_key,
        sim.site,
        budget=budget,
        max_rps=1000,
        transport=httpx.ASGITransport(app=sim.app),
    )


@pytest.fixture
async def crm() -> AsyncIterator[tuple[RetailCrmSimulator, RetailCrmClient]]:
    sim = RetailCrmSimulator()
    async with crm_client(sim) as client:
        yield sim, client


async def pull(client: RetailCrmClient, entity: str, max_pages: int = 10) -> int:
    report = await pull_history(
        crm=client, entity=entity, status_map=STATUS_MAP, now=NOW, max_pages=max_pages
    )
    return report.pages


def history_calls(sim: RetailCrmSimulator) -> list[str]:
    return [r.path.removeprefix("/api/v5/") for r in sim.requests if "history" in r.path]


async def test_pages_follow_since_id_and_the_cursor_keeps_the_last_one(
    db: str, crm: tuple[RetailCrmSimulator, RetailCrmClient]
) -> None:
    sim, client = crm
    for n in range(250):
        sim.managers.add_customer(f"Покупатель {n}", phones=[{"number": f"+7916{n:07d}"}])

    pages = await pull(client, "customers")
    again = await pull(client, "customers")

    assert (pages, again) == (3, 0)
    assert await IdentityRecord.filter(source=CustomerSource.RETAILCRM).count() == 250
    cursor = await HistoryCursor.get(name="retailcrm:customers")
    assert cursor.since_id == sim.history.last_id
    assert history_calls(sim) == ["customers/history"] * 4
    sinces = [r for r in sim.requests if "history" in r.path]
    assert len(sinces) == 4


async def test_a_page_that_fails_halfway_changes_nothing_and_is_read_again(
    db: str, crm: tuple[RetailCrmSimulator, RetailCrmClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    sim, client = crm
    for n in range(150):
        sim.managers.add_customer(f"Покупатель {n}")
    from app.services.channels import retailcrm_history
    from app.services.identity.observe import observe_customer as real

    seen: list[int] = []

    async def failing_on_the_second_page(*args: object, **kwargs: object) -> int:
        seen.append(1)
        if len(seen) == 120:
            raise RuntimeError("the database went away")
        return await real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(retailcrm_history, "observe_customer", failing_on_the_second_page)

    with pytest.raises(RuntimeError):
        await pull(client, "customers")

    assert await IdentityRecord.filter(source=CustomerSource.RETAILCRM).count() == 100
    first_page_end = sim.history.entries["customers"][99]["id"]
    assert (await HistoryCursor.get(name="retailcrm:customers")).since_id == first_page_end

    monkeypatch.setattr(retailcrm_history, "observe_customer", real)
    assert await pull(client, "customers") == 1
    assert await IdentityRecord.filter(source=CustomerSource.RETAILCRM).count() == 150


async def _in_crm(paid: Paid, client: RetailCrmClient) -> Order:
    order = await paid.fresh()
    customer = await Customer.get(id=order.customer_id)
    record = await order_record(order, customer)
    await client.upsert_customer(record.customer)
    await client.upsert_order(record)
    return order


async def test_a_managers_status_moves_our_order_forward_only(
    paid: Paid, crm: tuple[RetailCrmSimulator, RetailCrmClient]
) -> None:
    sim, client = crm
    order = await _in_crm(paid, client)
    sim.managers.set_status(order.guid, "send-to-delivery")
    sim.managers.set_status(order.guid, "assembling")  # the CRM's own step: nothing for us
    sim.managers.set_status(order.guid, "complete")
    sim.managers.set_status(order.guid, "send-to-delivery")  # backward: logged, left alone

    await pull(client, "orders")

    order = await paid.fresh()
    assert order.status is OrderStatus.DELIVERED
    assert (await OrderShipment.get(order_id=order.id)).carrier == ""  # the CRM names none
    told = await OutboxEvent.filter(kind=EventKind.ORDER_STATUS_CHANGED)
    from_crm = [
        (e.target, e.payload["status"])
        for e in told
        if e.payload["status"] in ("shipped", "delivered")
    ]
    assert from_crm == [(Target.ONEC, "shipped"), (Target.ONEC, "delivered")]
    cursor = await HistoryCursor.get(name="retailcrm:orders")
    assert cursor.since_id == sim.history.last_id  # the API's own entries counted, skipped
    await pull(client, "customers")  # the customer we pushed ourselves is not news
    assert await IdentityRecord.filter(source=CustomerSource.RETAILCRM).count() == 0


async def test_manager_made_orders_reach_the_customers_history_by_channel(
    db: str, crm: tuple[RetailCrmSimulator, RetailCrmClient]
) -> None:
    sim, client = crm
    from tests import factories

    await factories.warehouses()
    await factories.product("Dress", variants=[factories.variant("Dress", "M", "black")])
    anna = sim.managers.add_customer("Анна", phones=[{"number": "+79161234567"}])
    sim.managers.take_order(anna, [(M, 1, 4990.0)], method="phone")
    sim.managers.take_order(anna, [(None, 2, 1500.5)], method="messenger", source="instagram")

    await pull(client, "orders")
    await pull(client, "orders")  # nothing new: nothing twice

    purchases = await ChannelPurchase.all().order_by("id")
    assert [(p.channel, p.amount_kopecks) for p in purchases] == [
        (Channel.PHONE, 499000),
        (Channel.INSTAGRAM, 300100),
    ]
    record = await IdentityRecord.get(id=purchases[0].record_id)
    assert (record.source, record.retailcrm_id, record.phone) == (
        CustomerSource.RETAILCRM,
        str(anna["id"]),
        "+79161234567",
    )


async def test_customers_retailcrm_merged_are_linked_in_the_graph(
    db: str, crm: tuple[RetailCrmSimulator, RetailCrmClient]
) -> None:
    sim, client = crm
    first = sim.managers.add_customer("Анна", email="anna@example.ru")
    second = sim.managers.add_customer("Анна С.", phones=[{"number": "+79160000001"}])
    sim.managers.combine([second["id"]], first["id"])

    await pull(client, "customers")

    gone = await client._http.get(f"customers/{second['id']}", params={"by": "id"})
    assert (gone.status_code, gone.json()["combinedTo"]) == (404, {"id": first["id"]})
    records = {
        r.external_id: r.profile_id
        for r in await IdentityRecord.filter(source=CustomerSource.RETAILCRM)
    }
    assert records[str(second["id"])] == records[str(first["id"])]
    assert await IdentityLink.filter(removed_at=None).count() == 1


async def test_history_pulls_and_pushes_share_one_budget(db: str, redis_url: str) -> None:
    sim = RetailCrmSimulator(rps_limit=5)
    for n in range(500):
        sim.managers.add_customer(f"Покупатель {n}")
    from redis.asyncio import Redis

    redis = Redis.from_url(redis_url)
    await redis.delete(budget_key(sim.api_key))
    await redis.aclose()
    puller = crm_client(sim, RedisBudget(redis_url, sim.api_key, per_second=4))
    pusher = crm_client(sim, RedisBudget(redis_url, sim.api_key, per_second=4))
    started = time.monotonic()

    async with puller, pusher:
        pulled, *_ = await asyncio.gather(
            pull(puller, "customers", max_pages=5), *[pusher.ping() for _ in range(5)]
        )

    elapsed = time.monotonic() - started
    assert pulled == 5
    assert [r.status for r in sim.requests] == [200] * 10  # never over RetailCRM's limit
    assert elapsed >= 9 / 4 - 0.3  # ten turns of one budget, four a second


async def test_two_pulls_at_once_apply_each_page_once(
    db: str, crm: tuple[RetailCrmSimulator, RetailCrmClient]
) -> None:
    if is_sqlite():
        pytest.skip("concurrency is tested on PostgreSQL")
    sim, client = crm
    for n in range(150):
        sim.managers.add_customer(f"Покупатель {n}")

    pages = await asyncio.gather(*[pull(client, "customers") for _ in range(3)])

    assert sum(pages) == 2  # two pages, each applied by exactly one of the pulls
    assert await IdentityRecord.filter(source=CustomerSource.RETAILCRM).count() == 150
    assert (await HistoryCursor.get(name="retailcrm:customers")).since_id == sim.history.last_id


async def test_the_simulator_takes_retailcrms_page_sizes_only(
    crm: tuple[RetailCrmSimulator, RetailCrmClient],
) -> None:
    _, client = crm

    with pytest.raises(RejectedError) as refused:
        await client.history("orders", 0, limit=30)

    assert refused.value.status == 400
    assert (await client.history("orders", 0, limit=20))["history"] == []


async def test_a_managers_cancel_gives_the_money_back(
    paid: Paid, crm: tuple[RetailCrmSimulator, RetailCrmClient]
) -> None:
    sim, client = crm
    order = await _in_crm(paid, client)
    sim.managers.set_status(order.guid, "cancel-other")

    report = await pull_history(
        crm=client, entity="orders", status_map=STATUS_MAP, now=NOW, max_pages=10
    )

    assert (await paid.fresh()).status is OrderStatus.CANCELLED
    [refund] = await Refund.filter(id__in=report.statuses.refunds)
    assert (refund.amount, refund.requested_by) == (order.total, "retailcrm")


async def test_a_manager_order_cancelled_later_is_undone_in_the_history(
    db: str, crm: tuple[RetailCrmSimulator, RetailCrmClient]
) -> None:
    sim, client = crm
    anna = sim.managers.add_customer("Анна", phones=[{"number": "+79161234567"}])
    taken = sim.managers.take_order(anna, [(None, 2, 1000.0)], method="phone")
    await pull(client, "orders")
    sim.managers.set_status(f"crm:{taken['id']}", "cancel-other")
    sim.managers.set_status(f"crm:{taken['id']}", "no-product")  # cancelled again: once

    await pull(client, "orders")

    purchases = await ChannelPurchase.all().order_by("id")
    assert [(p.is_return, p.amount_kopecks) for p in purchases] == [
        (False, 200000),
        (True, -200000),
    ]


async def test_1cs_shipment_report_after_a_managers_fills_in_the_carrier_and_codes(
    paid: Paid, crm: tuple[RetailCrmSimulator, RetailCrmClient]
) -> None:
    sim, client = crm
    order = await _in_crm(paid, client)
    sim.managers.set_status(order.guid, "send-to-delivery")
    await pull(client, "orders")
    shipped = StatusUpdate(
        order.guid,
        Reported.SHIPPED,
        factories.iso(NOW),
        carrier="СДЭК",
        tracking_number="42",
        marking_codes=[(M, "CODE-1")],
    )

    first = await update_order_statuses(updates=[shipped], max_updates=10, now=NOW)
    again = await update_order_statuses(updates=[shipped], max_updates=10, now=NOW)

    assert (first.applied, again.unchanged) == (1, 1)
    shipment = await OrderShipment.get(order_id=order.id)
    assert (shipment.carrier, shipment.tracking_number) == ("СДЭК", "42")
    assert await MarkingCode.filter(order_id=order.id).count() == 1
    assert (await paid.fresh()).status is OrderStatus.SHIPPED
