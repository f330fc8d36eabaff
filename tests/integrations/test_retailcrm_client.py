"""RetailCrmClient against the RetailCRM simulator over real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from urllib.parse import parse_qs

import pytest

from app.devtools.simulators.retailcrm import RetailCrmSimulator
from app.devtools.simulators.server import LocalServer
from app.domain.orders import OrderStatus
from app.domain.payments import PaymentStatus
from app.integrations.errors import RejectedError, RetryableError
from app.integrations.retailcrm.client import RetailCrmClient
from app.integrations.retailcrm.mapping import RetailCrmCodes, customer_payload, order_payload
from tests.integrations import records
from tests.integrations.stands import Front
from tests.waiting import wait_until

KEY, SITE = "crm-key", "lin-i-les"
FAST = 1000.0  # requests per second for tests that are not about the rate limit


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
def base_url(stand: tuple[LocalServer, Front], sim: RetailCrmSimulator) -> str:
    return stand[0].url + sim.base_path


@pytest.fixture
async def crm(base_url: str) -> AsyncIterator[RetailCrmClient]:
    async with RetailCrmClient(base_url, KEY, SITE, timeout=2.0, max_rps=FAST) as client:
        yield client


def _paths(sim: RetailCrmSimulator) -> list[str]:
    return [entry.path.removeprefix("/api/v5/") for entry in sim.requests]


async def test_a_customer_is_created_from_a_form_with_a_json_string(
    crm: RetailCrmClient, sim: RetailCrmSimulator
) -> None:
    await crm.upsert_customer(records.customer())
    assert sim.state.customers[records.CUSTOMER] == {
        **customer_payload(records.customer()),
        "id": 1,
    }
    form = parse_qs(sim.requests[0].body.decode())
    assert (form["site"], json.loads(form["customer"][0])) == (
        [SITE],
        customer_payload(records.customer()),
    )


async def test_a_customer_sent_again_is_edited_by_external_id(
    crm: RetailCrmClient, sim: RetailCrmSimulator
) -> None:
    await crm.upsert_customer(records.customer())
    await crm.upsert_customer(records.customer(last_name="Иванова"))
    assert _paths(sim) == [
        "customers/create",
        "customers/create",
        f"customers/{records.CUSTOMER}/edit",
    ]
    assert [entry.status for entry in sim.requests] == [201, 400, 200]
    stored = sim.state.customers[records.CUSTOMER]
    assert (stored["id"], stored["lastName"], len(sim.state.customers)) == (1, "Иванова", 1)


async def test_an_order_needs_its_customer_first(
    crm: RetailCrmClient, sim: RetailCrmSimulator
) -> None:
    with pytest.raises(RejectedError) as error:
        await crm.upsert_order(records.order())
    assert error.value.status == 400
    assert f"customer.externalId: Customer with externalId={records.CUSTOMER} not found" in str(
        error.value
    )
    assert (sim.state.orders, _paths(sim)) == ({}, ["orders/create"])


async def test_an_order_is_created_for_the_site(
    crm: RetailCrmClient, sim: RetailCrmSimulator
) -> None:
    await crm.upsert_customer(records.customer())
    await crm.upsert_order(records.order())
    stored = sim.state.orders[records.ORDER]
    expected = order_payload(records.order(), RetailCrmCodes())
    assert stored == {**expected, "id": 2, "site": SITE}


async def test_an_order_sent_again_is_edited_without_moving_its_status_back(
    crm: RetailCrmClient, sim: RetailCrmSimulator
) -> None:
    await crm.upsert_customer(records.customer())
    await crm.upsert_order(records.order())
    sim.state.orders[records.ORDER]["status"] = "assembling"  # a manager moved it on
    await crm.upsert_order(records.order(comment="Код домофона 12"))
    stored = sim.state.orders[records.ORDER]
    assert (stored["status"], stored["customerComment"]) == ("assembling", "Код домофона 12")
    assert _paths(sim)[-2:] == ["orders/create", f"orders/{records.ORDER}/edit"]


async def test_a_status_change_edits_the_order(
    crm: RetailCrmClient, sim: RetailCrmSimulator
) -> None:
    await crm.upsert_customer(records.customer())
    await crm.upsert_order(records.order())
    await crm.update_order_status(records.status(OrderStatus.CANCELLED, "нет размера"))
    stored = sim.state.orders[records.ORDER]
    assert (stored["status"], stored["statusComment"]) == ("cancel-other", "нет размера")


async def test_a_status_of_an_unknown_order_is_rejected(
    crm: RetailCrmClient, sim: RetailCrmSimulator
) -> None:
    with pytest.raises(RejectedError) as error:
        await crm.update_order_status(records.status())
    assert error.value.status == 404


async def test_a_payment_is_created_then_edited_by_external_id(
    crm: RetailCrmClient, sim: RetailCrmSimulator
) -> None:
    await crm.upsert_customer(records.customer())
    await crm.upsert_order(records.order())
    await crm.upsert_payment(records.payment(PaymentStatus.PENDING))
    await crm.upsert_payment(records.payment(PaymentStatus.SUCCEEDED))
    stored = sim.state.payments[records.PAYMENT]
    assert (stored["id"], stored["status"], stored["paidAt"], stored["amount"]) == (
        3,
        "paid",
        "2025-12-01 14:05:00",
        11780.5,
    )
    assert _paths(sim)[-3:] == [
        "orders/payments/create",
        "orders/payments/create",
        f"orders/payments/{records.PAYMENT}/edit",
    ]


async def test_a_payment_of_an_unknown_order_is_rejected(
    crm: RetailCrmClient, sim: RetailCrmSimulator
) -> None:
    with pytest.raises(RejectedError, match="order.externalId"):
        await crm.upsert_payment(records.payment())
    assert sim.state.payments == {}


async def test_a_business_rejection_is_not_mistaken_for_a_repeat(
    crm: RetailCrmClient, sim: RetailCrmSimulator
) -> None:
    sim.reject(records.CUSTOMER)
    with pytest.raises(RejectedError) as error:
        await crm.upsert_customer(records.customer())
    assert (error.value.status, '"success":false' in error.value.body) == (400, True)
    assert (_paths(sim), sim.state.customers) == (["customers/create"], {})


async def test_a_wrong_api_key_is_a_rejection(base_url: str, sim: RetailCrmSimulator) -> None:
    async with RetailCrmClient(base_url, "stolen", SITE, max_rps=FAST) as client:
        with pytest.raises(RejectedError, match="apiKey") as error:
            await client.upsert_customer(records.customer())
    assert error.value.status == 403


async def test_a_wrong_site_is_a_rejection(base_url: str, sim: RetailCrmSimulator) -> None:
    async with RetailCrmClient(base_url, KEY, "other-shop", max_rps=FAST) as client:
        with pytest.raises(RejectedError, match="site"):
            await client.upsert_customer(records.customer())


async def test_a_server_error_is_retryable(crm: RetailCrmClient, sim: RetailCrmSimulator) -> None:
    sim.fail_5xx(1)
    with pytest.raises(RetryableError, match="HTTP 500"):
        await crm.upsert_customer(records.customer())
    await crm.upsert_customer(records.customer())
    assert list(sim.state.customers) == [records.CUSTOMER]


async def test_over_the_limit_retailcrm_answers_503_with_retry_after(
    crm: RetailCrmClient, sim: RetailCrmSimulator
) -> None:
    sim.rate_limit(1, retry_after=3)
    with pytest.raises(RetryableError, match="HTTP 503") as error:
        await crm.upsert_customer(records.customer())
    assert error.value.retry_after == 3.0


async def test_retailcrm_down_is_retryable(crm: RetailCrmClient, sim: RetailCrmSimulator) -> None:
    sim.down()
    with pytest.raises(RetryableError, match="HTTP 503"):
        await crm.upsert_customer(records.customer())


async def test_a_timeout_is_retryable(base_url: str, sim: RetailCrmSimulator) -> None:
    sim.slow(0.3)
    async with RetailCrmClient(base_url, KEY, SITE, timeout=0.1, max_rps=FAST) as client:
        with pytest.raises(RetryableError, match="timed out"):
            await client.upsert_customer(records.customer())
        # the simulator answers the abandoned request late; let it, before the next test
        await wait_until(lambda: _answered(sim), within=5, what="the late answer")
    assert [entry.status for entry in sim.requests] == [201]


def _answered(sim: RetailCrmSimulator) -> bool:
    return all(entry.status is not None for entry in sim.requests)


async def test_a_refused_connection_is_retryable() -> None:
    async with LocalServer(RetailCrmSimulator().app) as server:
        url = server.url + "/api/v5"
    async with RetailCrmClient(url, KEY, SITE, max_rps=FAST) as client:
        with pytest.raises(RetryableError, match="ConnectError"):
            await client.upsert_customer(records.customer())


async def test_the_client_keeps_to_ten_requests_a_second(
    base_url: str, sim: RetailCrmSimulator
) -> None:
    customers = [records.customer(f"c{n}") for n in range(25)]
    started = time.monotonic()
    async with RetailCrmClient(base_url, KEY, SITE, max_rps=10) as client:
        await asyncio.gather(*(client.upsert_customer(c) for c in customers))
    elapsed = time.monotonic() - started
    arrivals = [entry.received_at for entry in sim.requests]
    # RetailCRM counts calls per second: no second ever holds 11 of them. (Single gaps jitter
    # with the scheduler on a busy machine; the spacing over 10 calls is what the API sees.)
    spans = [arrivals[n + 10] - arrivals[n] for n in range(len(arrivals) - 10)]
    assert elapsed >= 2.4
    assert min(spans) >= 0.95
    assert len(sim.state.customers) == 25


async def test_a_burst_past_the_real_limit_gets_503(base_url: str, sim: RetailCrmSimulator) -> None:
    sim.rps_limit = 10
    customers = [records.customer(f"c{n}") for n in range(12)]
    async with RetailCrmClient(base_url, KEY, SITE, max_rps=FAST) as client:
        results = await asyncio.gather(
            *(client.upsert_customer(c) for c in customers), return_exceptions=True
        )
    refused = [e for e in results if isinstance(e, RetryableError)]
    assert len(refused) == 2 and all(e.retry_after == 1.0 for e in refused)
