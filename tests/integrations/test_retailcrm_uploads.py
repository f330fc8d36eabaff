"""Batches against the RetailCRM simulator over real HTTP: what the client makes of each answer,
and that the simulator answers as RetailCRM does (201, or 460 listing what failed)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from urllib.parse import parse_qs

import httpx
import pytest

from app.devtools.simulators.retailcrm import RetailCrmSimulator
from app.devtools.simulators.server import LocalServer
from app.domain.coalescing import CustomerUpsert, OrderDelivery, Waiting, coalesce
from app.domain.orders import OrderStatus
from app.domain.outbound import CustomerRecord, OrderRecord
from app.domain.outbox import EventKind
from app.domain.payments import PaymentStatus
from app.integrations.errors import RejectedError, RetryableError
from app.integrations.retailcrm.client import RetailCrmClient
from app.integrations.retailcrm.uploads import Uploaded
from tests.integrations import records
from tests.integrations.stands import Front

KEY, SITE = "crm-key", "lin-i-les"
FAST = 1000.0


@pytest.fixture(scope="module")
async def stand() -> AsyncIterator[tuple[LocalServer, Front]]:
    front = Front()
    async with LocalServer(front) as server:
        yield server, front


@pytest.fixture
def sim(stand: tuple[LocalServer, Front]) -> RetailCrmSimulator:
    simulator = RetailCrmSimulator(api_key=KEY, site=SITE)
    stand[1].app = simulator.app
    return simulator


@pytest.fixture
async def crm(
    stand: tuple[LocalServer, Front], sim: RetailCrmSimulator
) -> AsyncIterator[RetailCrmClient]:
    url = stand[0].url + sim.base_path
    async with RetailCrmClient(url, KEY, SITE, timeout=2.0, max_rps=FAST) as client:
        yield client


def _customer(n: int) -> CustomerUpsert:
    record = records.customer(f"c{n}")
    return CustomerUpsert(record.guid, (record,), (f"customer:{record.guid}",))


def _order(n: int, customer: CustomerRecord, *, paid: bool = False) -> OrderDelivery:
    placed = records.order(guid=records.guid(f"order/{n}"), number=f"V-{n:06d}", customer=customer)
    events = [Waiting(1, EventKind.ORDER_PLACED, placed)]
    if paid:
        status = replace(
            records.status(OrderStatus.PAID, "paid (yookassa)"), order_guid=placed.guid
        )
        payment = records.payment(guid=records.guid(f"payment/{n}"), order_guid=placed.guid)
        events += [
            Waiting(2, EventKind.ORDER_STATUS_CHANGED, status),
            Waiting(3, EventKind.PAYMENT_STATUS_CHANGED, payment),
        ]
    delivery = coalesce(f"order:{placed.guid}", events)
    assert isinstance(delivery, OrderDelivery)
    return delivery


def _paths(sim: RetailCrmSimulator) -> list[str]:
    return [entry.path.removeprefix("/api/v5/") for entry in sim.requests]


async def test_fifty_customers_are_created_in_one_call(
    crm: RetailCrmClient, sim: RetailCrmSimulator
) -> None:
    customers = [_customer(n) for n in range(50)]
    answer = await crm.upload_customers(customers)
    assert answer == Uploaded(created=frozenset(c.guid for c in customers))
    assert (_paths(sim), [e.status for e in sim.requests]) == (["customers/upload"], [201])
    form = parse_qs(sim.requests[0].body.decode())
    assert (form["site"], len(json.loads(form["customers"][0]))) == ([SITE], 50)
    assert len(sim.state.customers) == 50


async def test_fifty_one_is_more_than_retailcrm_takes(
    crm: RetailCrmClient, sim: RetailCrmSimulator
) -> None:
    answer = await crm.upload_customers([_customer(n) for n in range(51)])
    assert set(answer.failed) == {_customer(n).guid for n in range(51)}
    assert (answer.created, sim.state.customers) == (frozenset(), {})


async def test_a_placed_and_paid_order_is_created_with_its_status_and_payment_in_one_call(
    crm: RetailCrmClient, sim: RetailCrmSimulator
) -> None:
    await crm.upload_customers([_customer(0)])
    order = _order(0, _customer(0).snapshots[0], paid=True)
    answer = await crm.upload_orders([order])
    assert answer == Uploaded(created=frozenset({order.guid}))
    stored = sim.state.orders[order.guid]
    assert (stored["status"], stored["statusComment"], "payments" in stored) == (
        "prepayed",
        "paid (yookassa)",
        False,
    )
    [payment] = sim.state.payments.values()
    assert (payment["order"], payment["status"], payment["amount"]) == (
        {"externalId": order.guid},
        "paid",
        11780.5,
    )
    assert _paths(sim) == ["customers/upload", "orders/upload"]


async def test_one_bad_order_among_fifty_fails_alone_with_retailcrm_s_answer(
    crm: RetailCrmClient, sim: RetailCrmSimulator
) -> None:
    customer = _customer(0)
    await crm.upload_customers([customer])
    orders = [_order(n, customer.snapshots[0]) for n in range(50)]
    sim.reject(orders[17].guid)
    answer = await crm.upload_orders(orders)
    assert answer.created == {o.guid for o in orders} - {orders[17].guid}
    assert (answer.existing, list(answer.failed)) == (frozenset(), [orders[17].guid])
    assert "HTTP 460" in answer.failed[orders[17].guid]
    assert len(sim.state.orders) == 49 and orders[17].guid not in sim.state.orders
    body = sim.requests[-1]
    assert body.status == 460


async def test_the_partial_answer_has_retailcrm_s_shape(
    stand: tuple[LocalServer, Front], sim: RetailCrmSimulator
) -> None:
    sim.state.customers["existing"] = {"externalId": "existing", "id": 1}
    customers = [{"externalId": "new", "firstName": "Анна"}, {"externalId": "existing"}]
    async with httpx.AsyncClient(base_url=stand[0].url + "/api/v5/") as http:
        response = await http.post(
            "customers/upload",
            data={"site": SITE, "customers": json.dumps(customers)},
            headers={"X-API-KEY": KEY},
        )
    assert (response.status_code, response.json()) == (
        460,
        {
            "success": False,
            "uploadedCustomers": [{"id": 1, "externalId": "new"}],
            "failedCustomers": [{"externalId": "existing"}],
            "errorMsg": "Customers are loaded with errors",
            "errors": ["externalId: Customer with externalId=existing already exists."],
        },
    )


async def test_entities_that_exist_are_told_apart_from_refused_ones(
    crm: RetailCrmClient, sim: RetailCrmSimulator
) -> None:
    customers = [_customer(n) for n in range(4)]
    await crm.upload_customers(customers[:2])
    sim.reject(customers[3].guid)
    answer = await crm.upload_customers(customers)
    assert answer.created == {customers[2].guid}
    assert answer.existing == {customers[0].guid, customers[1].guid}
    assert list(answer.failed) == [customers[3].guid]


async def test_a_repeated_batch_creates_nothing_and_the_edits_change_nothing(
    crm: RetailCrmClient, sim: RetailCrmSimulator
) -> None:
    customers = [_customer(n) for n in range(3)]
    await crm.upload_customers(customers)
    before = json.dumps(sim.state.customers, sort_keys=True)
    answer = await crm.upload_customers(customers)
    assert (answer.created, answer.existing) == (frozenset(), frozenset(c.guid for c in customers))
    for customer in customers:
        await crm.edit_customer(customer)
    assert json.dumps(sim.state.customers, sort_keys=True) == before


async def test_an_order_edit_folds_its_changes_and_statuses_but_leaves_payments_alone(
    crm: RetailCrmClient, sim: RetailCrmSimulator
) -> None:
    customer = _customer(0).snapshots[0]
    await crm.upload_customers([_customer(0)])
    created = _order(0, customer)
    await crm.upload_orders([created])
    sim.state.orders[created.guid]["status"] = "assembling"  # a manager moved it on
    changed: OrderRecord = replace(created.snapshots[0], comment="Код 12")
    later = coalesce(
        created.aggregate,
        [
            Waiting(4, EventKind.ORDER_CHANGED, changed),
            Waiting(5, EventKind.ORDER_STATUS_CHANGED, records.status(OrderStatus.CANCELLED)),
        ],
    )
    assert isinstance(later, OrderDelivery)
    await crm.edit_order(replace(later, guid=created.guid))
    stored = sim.state.orders[created.guid]
    assert (stored["status"], stored["customerComment"]) == ("cancel-other", "Код 12")
    edit = parse_qs(sim.requests[-1].body.decode())
    assert (edit["by"], "payments" in json.loads(edit["order"][0])) == (["externalId"], False)


async def test_an_order_edit_does_not_apply_payments(
    stand: tuple[LocalServer, Front], sim: RetailCrmSimulator
) -> None:
    sim.state.orders["o"] = {"externalId": "o", "id": 1, "site": SITE}
    payments = [{"externalId": "p", "type": "bank-card", "amount": 1}]
    async with httpx.AsyncClient(base_url=stand[0].url + "/api/v5/") as http:
        response = await http.post(
            "orders/o/edit",
            data={"site": SITE, "by": "externalId", "order": json.dumps({"payments": payments})},
            headers={"X-API-KEY": KEY},
        )
    assert response.status_code == 200
    assert (sim.state.payments, sim.state.orders["o"]) == (
        {},
        {"externalId": "o", "id": 1, "site": SITE},
    )


async def test_a_payment_is_upserted_as_its_snapshots_leave_it(
    crm: RetailCrmClient, sim: RetailCrmSimulator
) -> None:
    await crm.upload_customers([_customer(0)])
    order = _order(0, _customer(0).snapshots[0])
    await crm.upload_orders([order])
    pending = records.payment(PaymentStatus.PENDING, order_guid=order.guid)
    paid = records.payment(PaymentStatus.SUCCEEDED, order_guid=order.guid)
    await crm.upsert_payment_snapshots([pending, paid])
    await crm.upsert_payment_snapshots([paid])  # sent again: an edit, nothing new
    stored = sim.state.payments[records.PAYMENT]
    assert (stored["status"], stored["paidAt"], len(sim.state.payments)) == (
        "paid",
        "2025-12-01 14:05:00",
        1,
    )
    assert _paths(sim)[-3:] == [
        "orders/payments/create",
        "orders/payments/create",
        f"orders/payments/{records.PAYMENT}/edit",
    ]


@pytest.mark.parametrize("status", [503, 429])
async def test_a_rate_limit_answer_to_a_batch_is_retryable_with_its_retry_after(
    crm: RetailCrmClient, sim: RetailCrmSimulator, status: int
) -> None:
    sim.limit_status = status
    sim.rate_limit(1, retry_after=2)
    with pytest.raises(RetryableError, match=f"HTTP {status}") as error:
        await crm.upload_customers([_customer(0)])
    assert (error.value.retry_after, sim.state.customers) == (2.0, {})


async def test_a_wrong_api_key_refuses_the_whole_batch(
    stand: tuple[LocalServer, Front], sim: RetailCrmSimulator
) -> None:
    url = stand[0].url + sim.base_path
    async with RetailCrmClient(url, "stolen", SITE, max_rps=FAST) as client:
        with pytest.raises(RejectedError) as error:
            await client.upload_customers([_customer(0)])
    assert error.value.status == 403


async def test_a_ping_tells_an_answering_retailcrm_from_a_down_one(
    crm: RetailCrmClient, sim: RetailCrmSimulator
) -> None:
    await crm.ping()
    assert _paths(sim) == ["/api/credentials"]
    sim.down()
    with pytest.raises(RetryableError, match="HTTP 503"):
        await crm.ping()
    assert sim.state.customers == {}
