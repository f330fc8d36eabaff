"""A manager's return in RetailCRM, read from the order history line by line: the lines set to
a return status are what came back (a partial return refunds those units only); the order's
"returned" status alone still means everything came back."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from app.devtools.simulators.retailcrm import RetailCrmSimulator
from app.domain.orders import OrderStatus
from app.integrations.retailcrm.client import RetailCrmClient
from app.models.channels import HistoryCursor, OrderReturn, OrderReturnLine
from app.models.customers import Customer
from app.models.orders import Order, Refund
from app.services.channels.retailcrm_history import pull_history
from app.services.outbox.record import order_record
from app.settings import Settings
from tests.services.channels.conftest import NOW, M, Paid, S, make_paid

SETTINGS = Settings(environment="test")


@pytest.fixture
async def crm() -> AsyncIterator[tuple[RetailCrmSimulator, RetailCrmClient]]:
    sim = RetailCrmSimulator()
    client = RetailCrmClient(
        "http://crm.test/api/v5",
        sim.api_key,
        sim.site,
        max_rps=1000,
        transport=httpx.ASGITransport(app=sim.app),
    )
    async with client:
        yield sim, client


@pytest.fixture
async def shipped(
    db: str, crm: tuple[RetailCrmSimulator, RetailCrmClient]
) -> tuple[RetailCrmSimulator, RetailCrmClient, Order]:
    """Two M and one S, paid, pushed to RetailCRM and marked shipped there by a manager."""
    sim, client = crm
    paid: Paid = await make_paid()
    order = await paid.fresh()
    record = await order_record(order, await Customer.get(id=order.customer_id))
    await client.upsert_customer(record.customer)
    await client.upsert_order(record)
    sim.managers.set_status(order.guid, "send-to-delivery")
    await _pull(client)
    assert (await Order.get(id=order.id)).status is OrderStatus.SHIPPED
    return sim, client, order


async def _pull(client: RetailCrmClient) -> int:
    report = await pull_history(
        crm=client,
        entity="orders",
        status_map=SETTINGS.retailcrm_status_map,
        now=NOW,
        max_pages=10,
        item_returns=SETTINGS.retailcrm_item_return_statuses,
    )
    return report.changes


async def _returned(order: Order) -> list[tuple[int, list[tuple[str, int]]]]:
    """(amount, [(variant guid, units)]) per return of the order, oldest first."""
    found = []
    for back in await OrderReturn.filter(order_id=order.id).order_by("id"):
        lines = await OrderReturnLine.filter(order_return_id=back.id).prefetch_related("variant")
        found.append((back.amount, sorted((x.variant.guid, x.quantity) for x in lines)))
    return found


async def _refunds(order: Order) -> list[int]:
    rows = await Refund.filter(payment__order_id=order.id).order_by("id")
    return [r.amount for r in rows]


async def test_a_line_set_to_return_refunds_that_line_only(
    shipped: tuple[RetailCrmSimulator, RetailCrmClient, Order],
) -> None:
    sim, client, order = shipped
    sim.managers.return_items(order.guid, [(S, 1)])

    await _pull(client)

    assert await _returned(order) == [(499000, [(S, 1)])]
    assert await _refunds(order) == [499000]
    assert (await Order.get(id=order.id)).status is OrderStatus.PARTLY_RETURNED


async def test_part_of_a_line_is_split_off_and_only_those_units_come_back(
    shipped: tuple[RetailCrmSimulator, RetailCrmClient, Order],
) -> None:
    sim, client, order = shipped
    sim.managers.return_items(order.guid, [(M, 1)])

    await _pull(client)

    assert await _returned(order) == [(499000, [(M, 1)])]
    items = sim.state.orders[order.guid]["items"]
    crm_lines = [(i["offer"]["externalId"], i["quantity"], i.get("status")) for i in items]
    assert sorted(crm_lines, key=str) == sorted(
        [(M, 1, None), (S, 1, None), (M, 1, "return")], key=str
    )


async def test_lines_and_the_orders_returned_status_together_are_a_partial_return(
    shipped: tuple[RetailCrmSimulator, RetailCrmClient, Order],
) -> None:
    sim, client, order = shipped
    sim.managers.return_items(order.guid, [(M, 1)])
    sim.managers.set_status(order.guid, "return")

    await _pull(client)

    assert await _returned(order) == [(499000, [(M, 1)])]
    assert await _refunds(order) == [499000]
    assert (await Order.get(id=order.id)).status is OrderStatus.PARTLY_RETURNED


async def test_the_orders_returned_status_in_a_later_pull_adds_nothing_to_its_lines(
    shipped: tuple[RetailCrmSimulator, RetailCrmClient, Order],
) -> None:
    sim, client, order = shipped
    sim.managers.return_items(order.guid, [(S, 1)])
    await _pull(client)
    sim.managers.set_status(order.guid, "return")

    await _pull(client)

    assert await _refunds(order) == [499000]


async def test_the_orders_returned_status_alone_is_everything_back(
    shipped: tuple[RetailCrmSimulator, RetailCrmClient, Order],
) -> None:
    sim, client, order = shipped
    sim.managers.set_status(order.guid, "return")

    await _pull(client)

    assert await _returned(order) == [(1497000, sorted([(M, 2), (S, 1)]))]
    assert await _refunds(order) == [1497000]
    assert (await Order.get(id=order.id)).status is OrderStatus.RETURNED


async def test_every_line_back_one_by_one_returns_the_order_and_a_reread_changes_nothing(
    shipped: tuple[RetailCrmSimulator, RetailCrmClient, Order],
) -> None:
    sim, client, order = shipped
    sim.managers.return_items(order.guid, [(M, 2), (S, 1)])
    await _pull(client)
    await HistoryCursor.filter(name="retailcrm:orders").update(since_id=0)  # read it all again

    await _pull(client)

    assert await _returned(order) == [(998000, [(M, 2)]), (499000, [(S, 1)])]
    assert await _refunds(order) == [998000, 499000]
    assert (await Order.get(id=order.id)).status is OrderStatus.RETURNED


async def test_a_line_status_that_is_not_a_return_changes_nothing(
    shipped: tuple[RetailCrmSimulator, RetailCrmClient, Order],
) -> None:
    sim, client, order = shipped
    sim.managers.return_items(order.guid, [(S, 1)], code="in-reserve")

    await _pull(client)

    assert await _returned(order) == []
    assert (await Order.get(id=order.id)).status is OrderStatus.SHIPPED
