"""OneCClient against the 1C simulator over real HTTP on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from app.devtools.simulators.onec import OneCSimulator
from app.devtools.simulators.server import LocalServer
from app.integrations.errors import RejectedError, RetryableError
from app.integrations.onec.client import OneCClient
from app.integrations.onec.mapping import customer_payload
from tests.integrations import records
from tests.integrations.stands import Front
from tests.waiting import wait_until

USER, PASSWORD = "Обмен с сайтом", "пароль"  # 1C user names are often Cyrillic
ONEC_NOW = datetime(2025, 12, 1, 11, 3, 6, 250000, tzinfo=UTC)


@pytest.fixture(scope="module")
async def stand() -> AsyncIterator[tuple[LocalServer, Front]]:
    front = Front()
    async with LocalServer(front) as server:
        yield server, front


@pytest.fixture
def sim(stand: tuple[LocalServer, Front]) -> OneCSimulator:
    simulator = OneCSimulator(USER, PASSWORD, clock=lambda: ONEC_NOW)
    stand[1].app = simulator.app
    return simulator


@pytest.fixture
def base_url(stand: tuple[LocalServer, Front], sim: OneCSimulator) -> str:
    return stand[0].url + sim.base_path


@pytest.fixture
async def onec(base_url: str) -> AsyncIterator[OneCClient]:
    async with OneCClient(base_url, USER, PASSWORD, timeout=2.0) as client:
        yield client


async def test_a_customer_lands_in_1c_under_our_guid(onec: OneCClient, sim: OneCSimulator) -> None:
    await onec.put_customer(records.customer(), event_id="evt-1")
    assert sim.state.customers == {records.CUSTOMER: customer_payload(records.customer())}
    logged = sim.requests[0]
    assert (logged.method, logged.path, logged.event_id, logged.status) == (
        "PUT",
        f"/hs/vitrina/customers/{records.CUSTOMER}",
        "evt-1",
        200,
    )


async def test_an_order_comes_back_with_1c_number_and_registration_time(
    onec: OneCClient, sim: OneCSimulator
) -> None:
    registration = await onec.put_order(records.order(), event_id="evt-1")
    assert (registration.number, registration.registered_at) == ("ЗК-000001", ONEC_NOW)
    assert registration.registered_at.isoformat() == "2025-12-01T14:03:06.250000+03:00"
    stored = sim.state.orders[records.ORDER]
    assert (stored.number, stored.status, stored.body["total"]) == (
        "ЗК-000001",
        "awaiting_payment",
        "11780.50",
    )
    assert records.CUSTOMER in sim.state.customers  # created from the customer inside the order


async def test_a_repeated_event_is_dropped_and_answered_as_the_first_time(
    onec: OneCClient, sim: OneCSimulator
) -> None:
    first = await onec.put_order(records.order(), event_id="evt-1")
    sim.clock = lambda: datetime(2026, 1, 1, tzinfo=UTC)
    again = await onec.put_order(records.order(comment="changed"), event_id="evt-1")
    assert again == first
    assert sim.state.applied == ["evt-1"]
    assert sim.state.orders[records.ORDER].body["comment"] == "Позвонить за час"
    assert [entry.replayed for entry in sim.requests] == [False, True]


async def test_a_resent_order_keeps_its_first_registration(
    onec: OneCClient, sim: OneCSimulator
) -> None:
    first = await onec.put_order(records.order(), event_id="evt-1")
    sim.clock = lambda: datetime(2026, 1, 1, tzinfo=UTC)
    again = await onec.put_order(records.order(comment="changed"), event_id="evt-2")
    assert again == first
    assert sim.state.orders[records.ORDER].body["comment"] == "changed"


async def test_status_and_payment_follow_the_order(onec: OneCClient, sim: OneCSimulator) -> None:
    await onec.put_order(records.order(), event_id="evt-1")
    await onec.put_order_status(records.status(), event_id="evt-2")
    await onec.put_payment(records.payment(), event_id="evt-3")
    assert sim.state.orders[records.ORDER].status == "paid"
    assert sim.state.payments[records.PAYMENT]["orderGuid"] == records.ORDER
    assert sim.state.payments[records.PAYMENT]["amount"] == "11780.50"
    assert [(e.path.rsplit("/", 1)[-1], e.event_id) for e in sim.requests] == [
        (records.ORDER, "evt-1"),
        ("status", "evt-2"),
        (records.PAYMENT, "evt-3"),
    ]


async def test_a_status_of_an_order_1c_has_not_got_is_rejected(
    onec: OneCClient, sim: OneCSimulator
) -> None:
    with pytest.raises(RejectedError) as error:
        await onec.put_order_status(records.status(), event_id="evt-1")
    assert (error.value.status, "UNKNOWN_ORDER" in error.value.body) == (409, True)
    assert sim.state.applied == []


async def test_a_business_rejection_is_kept_with_the_answer(
    onec: OneCClient, sim: OneCSimulator
) -> None:
    sim.reject(records.ORDER)
    with pytest.raises(RejectedError) as error:
        await onec.put_order(records.order(), event_id="evt-1")
    assert error.value.status == 422
    assert '"code":"REJECTED"' in error.value.body
    assert "REJECTED" in str(error.value)
    assert sim.state.orders == {}


async def test_a_malformed_record_is_rejected_by_1c(onec: OneCClient, sim: OneCSimulator) -> None:
    bad = records.order(lines=[replace(records.order().lines[0], variant_guid="D-101-M")])
    with pytest.raises(RejectedError) as error:
        await onec.put_order(bad, event_id="evt-1")
    assert error.value.status == 400
    assert "INVALID_GUID" in error.value.body and "lines.0.variantGuid" in error.value.body


async def test_wrong_credentials_are_a_rejection(base_url: str, sim: OneCSimulator) -> None:
    async with OneCClient(base_url, USER, "wrong", timeout=2.0) as client:
        with pytest.raises(RejectedError) as error:
            await client.put_customer(records.customer(), event_id="evt-1")
    assert error.value.status == 401
    assert sim.state.customers == {}


async def test_a_1c_failure_is_retryable_and_the_retry_lands(
    onec: OneCClient, sim: OneCSimulator
) -> None:
    sim.fail_5xx(1)
    with pytest.raises(RetryableError, match="HTTP 500") as error:
        await onec.put_customer(records.customer(), event_id="evt-1")
    assert error.value.retry_after is None
    await onec.put_customer(records.customer(), event_id="evt-1")
    assert sim.state.applied == ["evt-1"]


async def test_a_rate_limit_says_when_to_come_back(onec: OneCClient, sim: OneCSimulator) -> None:
    sim.rate_limit(1, retry_after=7)
    with pytest.raises(RetryableError, match="HTTP 429") as error:
        await onec.put_customer(records.customer(), event_id="evt-1")
    assert error.value.retry_after == 7.0


async def test_1c_down_behind_its_web_server_is_retryable(
    onec: OneCClient, sim: OneCSimulator
) -> None:
    sim.down()
    with pytest.raises(RetryableError, match="HTTP 503"):
        await onec.put_customer(records.customer(), event_id="evt-1")
    sim.up()
    await onec.put_customer(records.customer(), event_id="evt-1")


async def test_a_timeout_is_retryable_and_the_late_write_is_not_repeated(
    base_url: str, sim: OneCSimulator
) -> None:
    sim.slow(1.0)
    async with OneCClient(base_url, USER, PASSWORD, timeout=0.5) as client:
        with pytest.raises(RetryableError, match="timed out"):
            await client.put_customer(records.customer(), event_id="evt-1")
        # 1C finishes the write after we gave up
        await wait_until(lambda: bool(sim.state.applied), within=5, what="the late write")
        sim.slow(0)
        await client.put_customer(records.customer(), event_id="evt-1")
    assert sim.state.applied == ["evt-1"]
    assert [entry.replayed for entry in sim.requests] == [False, True]


async def test_a_refused_connection_is_retryable() -> None:
    sim = OneCSimulator(USER, PASSWORD)
    async with LocalServer(sim.app) as server:
        async with OneCClient(server.url + sim.base_path, USER, PASSWORD, timeout=2.0) as client:
            await server.stop()
            with pytest.raises(RetryableError, match="ConnectError"):
                await client.put_customer(records.customer(), event_id="evt-1")
            await server.start()  # the same port again
            await client.put_customer(records.customer(), event_id="evt-1")
    assert sim.state.applied == ["evt-1"]
