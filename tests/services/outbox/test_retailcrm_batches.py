"""RetailCRM's due events go out in batches, pass by pass, and the outbox rows say what became
of each: delivered, retried alone, parked alone, or left as they were while RetailCRM is down."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from datetime import timedelta
from typing import Any

import pytest
from starlette.types import Receive, Scope, Send

from app.devtools.simulators.retailcrm import RetailCrmSimulator
from app.devtools.simulators.server import LocalServer
from app.domain.outbox import EventKind, EventState, RetryPolicy, Target
from app.integrations.retailcrm.client import RetailCrmClient
from app.models.outbox import OutboxEvent
from app.services.outbox.delivery import Senders
from app.services.outbox.retailcrm_batches import PassOutcome, deliver_retailcrm
from tests.conftest import Clock
from tests.integrations import records
from tests.integrations.stands import Front
from tests.services.outbox import drop

POLICY = RetryPolicy(base=timedelta(seconds=1), cap=timedelta(seconds=60), max_attempts=3)


@pytest.fixture(scope="module")
async def stand() -> AsyncIterator[tuple[LocalServer, Front]]:
    front = Front()
    async with LocalServer(front) as server:
        yield server, front


@pytest.fixture
def sim(stand: tuple[LocalServer, Front]) -> RetailCrmSimulator:
    simulator = RetailCrmSimulator(api_key=drop.KEY, site=drop.SITE)
    stand[1].app = simulator.app
    return simulator


@pytest.fixture
async def senders(
    stand: tuple[LocalServer, Front], sim: RetailCrmSimulator
) -> AsyncIterator[Senders]:
    url = stand[0].url + sim.base_path
    async with RetailCrmClient(url, drop.KEY, drop.SITE, timeout=2.0, max_rps=1000) as crm:
        yield Senders(retailcrm=crm)


def _pass(senders: Senders, clock: Clock) -> Awaitable[PassOutcome]:
    return deliver_retailcrm(senders=senders, policy=POLICY, clock=clock)


def _paths(sim: RetailCrmSimulator) -> list[str]:
    return [entry.path.removeprefix("/api/v5/") for entry in sim.requests]


def _no_ids(path: str) -> str:
    return "/".join("{id}" if len(part) == 36 else part for part in path.split("/"))


async def _states() -> list[tuple[EventState, int]]:
    rows = await OutboxEvent.filter(target=Target.RETAILCRM).order_by("id")
    return [(row.state, row.attempts) for row in rows]


async def test_sixty_orders_twenty_of_them_paid_reach_retailcrm_in_four_calls(
    db: str, sim: RetailCrmSimulator, senders: Senders, clock: Clock
) -> None:
    events = drop.drop_events(60)
    await drop.write(events, clock.now)
    outcome = await _pass(senders, clock)
    assert outcome == PassOutcome(found=60, delivered=100)
    assert _paths(sim) == ["customers/upload", "orders/upload"] * 2  # 50 of each, then 10
    assert await _states() == [(EventState.DELIVERED, 1)] * 100
    assert drop.state(sim) == await drop.one_by_one(events)
    paid = sim.state.orders[drop.order_guid(0)]
    assert (paid["status"], paid["statusComment"]) == ("prepayed", "paid (yookassa)")
    assert await _pass(senders, clock) == PassOutcome(found=0, delivered=0)  # nothing twice


async def test_one_order_retailcrm_refuses_among_fifty_is_parked_alone(
    db: str, sim: RetailCrmSimulator, senders: Senders, clock: Clock
) -> None:
    events = drop.drop_events(50, pay_every=0)
    await drop.write(events, clock.now)
    refused = drop.order_guid(17)
    sim.reject(refused)
    outcome = await _pass(senders, clock)
    assert (outcome.found, outcome.delivered, outcome.retry_at) == (50, 49, None)
    assert _paths(sim) == [
        "customers/upload",
        "orders/upload",  # 460: 49 created, this one listed as failed
        "customers/create",  # then alone, event by event: its customer exists…
        f"customers/{records.customer('buyer17').guid}/edit",
        "orders/create",  # …and its order is refused again: a dead letter, with the answer
    ]
    dead = await OutboxEvent.get(aggregate=f"order:{refused}")
    assert (dead.state, dead.attempts, dead.response_status) == (EventState.DEAD, 1, 400)
    assert "refused (simulated)" in dead.response_body
    delivered = await OutboxEvent.filter(state=EventState.DELIVERED).count()
    assert (delivered, len(sim.state.orders)) == (49, 49)


async def test_entities_retailcrm_has_already_are_edited_and_nothing_changes(
    db: str, sim: RetailCrmSimulator, senders: Senders, clock: Clock
) -> None:
    events = drop.drop_events(6)
    await drop.write(events, clock.now)
    await _pass(senders, clock)
    before, calls = drop.state(sim), len(sim.requests)
    # the rows were never marked (a worker killed after RetailCRM answered): all sent again
    await OutboxEvent.all().update(state=EventState.PENDING, attempts=0)
    outcome = await _pass(senders, clock)
    assert (outcome.delivered, outcome.retry_at) == (10, None)
    assert drop.state(sim) == before
    paid_edits = ["orders/{id}/edit", "orders/payments/create", "orders/payments/{id}/edit"]
    assert [_no_ids(p) for p in _paths(sim)[calls:]] == [
        "customers/upload",  # 460: every one exists…
        *["customers/{id}/edit"] * 6,  # …so each is edited by externalId
        "orders/upload",  # the same for the orders, each with its payment (refused: exists)
        *paid_edits,
        *["orders/{id}/edit"] * 2,
        *paid_edits,
        *["orders/{id}/edit"] * 2,
    ]
    assert await _states() == [(EventState.DELIVERED, 1)] * 10


@pytest.mark.parametrize("status", [503, 429])
async def test_a_rate_limit_answer_in_a_batch_stops_the_pass_and_charges_no_one(
    db: str, sim: RetailCrmSimulator, senders: Senders, clock: Clock, status: int
) -> None:
    await drop.write(drop.drop_events(5), clock.now)
    sim.limit_status = status
    sim.rate_limit(1, retry_after=2)
    outcome = await _pass(senders, clock)
    assert (outcome.delivered, outcome.retry_at) == (0, clock.now + timedelta(seconds=2))
    assert _paths(sim) == ["customers/upload"]  # as told: no ping, no split, no retry now
    assert await _states() == [(EventState.PENDING, 0)] * 9
    assert (await _pass(senders, clock)).delivered == 9


async def test_an_outage_of_any_length_charges_no_one_and_parks_nothing(
    db: str, sim: RetailCrmSimulator, senders: Senders, clock: Clock
) -> None:
    await drop.write(drop.drop_events(5), clock.now)
    sim.down()
    for _ in range(10):  # far past POLICY's 3 attempts
        outcome = await _pass(senders, clock)
        assert (outcome.delivered, outcome.retry_at) == (0, clock.now)
        clock.advance(minutes=5)
    assert _paths(sim) == ["customers/upload", "/api/credentials"] * 10  # the call, a ping
    assert await _states() == [(EventState.PENDING, 0)] * 9
    sim.up()
    assert (await _pass(senders, clock)).delivered == 9
    assert await _states() == [(EventState.DELIVERED, 1)] * 9


class _FailsWith:
    """The simulator, except that an upload carrying `marker` answers 500 (a RetailCRM bug
    triggered by one entity's content: retrying the same batch can never succeed)."""

    def __init__(self, sim: RetailCrmSimulator, marker: str) -> None:
        self.sim, self.marker, self.failed = sim, marker, 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)

        async def replay() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        if scope["path"].endswith("/upload") and self.marker.encode() in body:
            self.failed += 1
            await send({"type": "http.response.start", "status": 500, "headers": []})
            await send({"type": "http.response.body", "body": b"Internal Server Error"})
            return
        await self.sim.app(scope, replay, send)


async def test_an_entity_that_breaks_every_batch_is_found_and_charged_alone(
    db: str,
    stand: tuple[LocalServer, Front],
    sim: RetailCrmSimulator,
    senders: Senders,
    clock: Clock,
) -> None:
    await drop.write(drop.drop_events(8, pay_every=0), clock.now)
    poison = drop.order_guid(5)
    stand[1].app = failing = _FailsWith(sim, poison)
    outcome = await _pass(senders, clock)
    assert (outcome.delivered, outcome.retry_at) == (7, None)
    assert len(sim.state.orders) == 7 and poison not in sim.state.orders
    charged = await OutboxEvent.get(aggregate=f"order:{poison}")
    assert (charged.state, charged.attempts) == (EventState.PENDING, 1)
    assert charged.next_attempt_at > clock.now and "HTTP 500" in charged.last_error
    # 8 fails; its halves: [0-3] ok, [4-7] fails; [4-5] fails, [4] ok, [5] fails; [6-7] ok
    orders = [p for p in _paths(sim) if p.startswith("orders")]
    assert (orders, failing.failed) == (["orders/upload"] * 3, 4)
    assert _paths(sim).count("/api/credentials") == 4  # a ping after each failure
    for _ in range(POLICY.max_attempts - 1):
        clock.advance(minutes=5)
        await _pass(senders, clock)
    parked = await OutboxEvent.get(aggregate=f"order:{poison}")
    assert (parked.state, parked.attempts) == (EventState.DEAD, 3)
    assert "gave up after 3 attempts" in parked.last_error


async def test_a_dead_letter_holds_back_its_own_aggregate_only(
    db: str, sim: RetailCrmSimulator, senders: Senders, clock: Clock
) -> None:
    events = drop.drop_events(2, pay_every=1)  # both paid: placed, status, payment
    await drop.write(events, clock.now)
    first = f"order:{drop.order_guid(0)}"
    head = await OutboxEvent.filter(aggregate=first).order_by("id").first()
    assert head is not None
    await OutboxEvent.filter(id=head.id).update(state=EventState.DEAD)
    outcome = await _pass(senders, clock)
    assert (outcome.found, outcome.delivered) == (1, 3)
    assert list(sim.state.orders) == [drop.order_guid(1)]
    waiting = await OutboxEvent.filter(aggregate=first, state=EventState.PENDING).count()
    assert waiting == 2


async def test_a_customer_s_own_upsert_and_her_order_s_customer_are_sent_once(
    db: str, sim: RetailCrmSimulator, senders: Senders, clock: Clock
) -> None:
    anna = records.customer()
    renamed = records.customer(last_name="Иванова")
    upsert = drop.Event(f"customer:{anna.guid}", EventKind.CUSTOMER_UPSERTED, anna)
    placed = drop.Event(
        f"order:{records.ORDER}", EventKind.ORDER_PLACED, records.order(customer=renamed)
    )
    await drop.write([upsert, placed], clock.now)
    outcome = await _pass(senders, clock)
    assert (outcome.found, outcome.delivered) == (2, 2)
    assert _paths(sim) == ["customers/upload", "orders/upload"]
    assert sim.state.customers[anna.guid]["lastName"] == "Иванова"  # the later snapshot


async def test_returning_customers_retailcrm_holds_as_they_are_cost_no_call(
    db: str, stand: tuple[LocalServer, Front], sim: RetailCrmSimulator, clock: Clock
) -> None:
    url = stand[0].url + sim.base_path
    async with RetailCrmClient(url, drop.KEY, drop.SITE, known=drop.MemoryKnown()) as crm:
        senders = Senders(retailcrm=crm)
        await drop.write(drop.drop_events(5, pay_every=0), clock.now)
        await _pass(senders, clock)
        again = drop.drop_events(5, pay_every=0, start=5, buyers=5)  # the same five
        await drop.write(again, clock.now)
        outcome = await _pass(senders, clock)
    assert (outcome.found, outcome.delivered) == (5, 5)
    assert _paths(sim) == ["customers/upload", "orders/upload", "orders/upload"]
    assert (len(sim.state.customers), len(sim.state.orders)) == (5, 10)


async def test_what_happens_to_an_order_sent_before_goes_as_edits(
    db: str, sim: RetailCrmSimulator, senders: Senders, clock: Clock
) -> None:
    placed, *later = drop.drop_events(1, pay_every=1)
    await drop.write([placed], clock.now)
    await _pass(senders, clock)
    sim.state.orders[drop.order_guid(0)]["status"] = "assembling"  # a manager moved it on
    await drop.write(later, clock.now)
    outcome = await _pass(senders, clock)
    assert (outcome.found, outcome.delivered) == (1, 2)
    assert _paths(sim)[2:] == [f"orders/{drop.order_guid(0)}/edit", "orders/payments/create"]
    order = sim.state.orders[drop.order_guid(0)]
    assert order["status"] == "prepayed"  # the status change, as event by event
    [payment] = sim.state.payments.values()
    assert (payment["order"], payment["status"]) == ({"externalId": drop.order_guid(0)}, "paid")


async def test_a_pass_takes_about_forty_calls_of_work_and_leaves_the_rest_due(
    db: str, sim: RetailCrmSimulator, senders: Senders, clock: Clock
) -> None:
    placed = drop.drop_events(45, pay_every=1)
    firsts = [e for e in placed if e.kind is EventKind.ORDER_PLACED]
    await drop.write(firsts, clock.now)
    await _pass(senders, clock)
    await drop.write([e for e in placed if e.kind is not EventKind.ORDER_PLACED], clock.now)
    first = await _pass(senders, clock)  # 2 calls an order: 20 orders' status and payment
    second = await _pass(senders, clock)
    third = await _pass(senders, clock)
    assert [(o.found, o.delivered) for o in (first, second, third)] == [
        (20, 40),
        (20, 40),
        (5, 10),
    ]
    statuses = {o["status"] for o in sim.state.orders.values()}
    assert statuses == {"prepayed"} and len(sim.state.payments) == 45
