"""Batched and coalesced delivery leaves RetailCRM as event-by-event delivery does.

Hypothesis draws a drop's worth of events for a few customers and orders (placed, changed,
status changes, payments and their changes, customers' own upserts), what RetailCRM may hold
already (a returning customer, an order sent before whose row was never marked), and how the
events arrive over time (the passes they fall into, the batch size). The same events then go
to two RetailCRM simulators: one event at a time through the delivery service's own sending
code, and pass by pass through `BatchPass` (the client leaving out customers RetailCRM was
last told of as they are). The two must end holding the same customers, orders and payments,
field for field.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.devtools.simulators.retailcrm import RetailCrmSimulator
from app.domain.coalescing import Delivery, Waiting, coalesce
from app.domain.orders import OrderStatus
from app.domain.outbound import CustomerRecord, OrderRecord, OrderStatusRecord, PaymentRecord
from app.domain.outbound_json import Record, to_json
from app.domain.outbox import EventKind, aggregate_key
from app.domain.payments import PaymentStatus
from app.integrations.errors import RetryableError
from app.integrations.retailcrm.client import RetailCrmClient
from app.integrations.retailcrm.mapping import RetailCrmCodes, customer_payload, order_payload
from app.services.outbox.delivery import _to_retailcrm
from app.services.outbox.retailcrm_pass import BatchPass
from tests.integrations import records
from tests.services.outbox.drop import SITE, MemoryKnown, in_memory_crm, state

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
CUSTOMERS = [records.guid(f"customer/{n}") for n in range(2)]
ORDERS = [records.guid(f"order/{n}") for n in range(3)]
PAYMENTS = [records.guid(f"payment/{n}") for n in range(2)]


@dataclass(frozen=True)
class Event:
    kind: EventKind
    record: Record


@dataclass(frozen=True)
class Story:
    held_customers: tuple[CustomerRecord, ...]  # RetailCRM has them before the events
    held_orders: tuple[OrderRecord, ...]
    events: tuple[Event, ...]
    cuts: tuple[int, ...]  # where the passes begin, as event indexes
    batch: int


def _customer(guid: str) -> st.SearchStrategy[CustomerRecord]:
    return st.builds(
        CustomerRecord,
        guid=st.just(guid),
        email=st.sampled_from([None, "anna@example.ru", "a.smirnova@example.ru"]),
        phone=st.sampled_from([None, "+79161234567"]),
        first_name=st.sampled_from(["", "Анна", "Аня"]),
        last_name=st.sampled_from(["", "Смирнова"]),
        created_at=st.just(T0),
    )


def _order(guid: str, number: int) -> st.SearchStrategy[OrderRecord]:
    base = records.order(guid=guid, number=f"V-{number:06d}", created_at=T0)
    return st.builds(
        lambda customer, status, quantity, comment, address: replace(
            base,
            customer=customer,
            status=status,
            lines=[replace(base.lines[0], quantity=quantity)],
            comment=comment,
            delivery=replace(base.delivery, address=address),
        ),
        _customer(CUSTOMERS[number % len(CUSTOMERS)]),  # an order keeps its customer
        st.sampled_from(list(OrderStatus)),
        st.integers(1, 3),
        st.sampled_from(["", "Позвонить за час"]),
        st.sampled_from(["", "Москва, Тверская, 1"]),
    )


def _status(order: str) -> st.SearchStrategy[OrderStatusRecord]:
    return st.builds(
        OrderStatusRecord,
        order_guid=st.just(order),
        status=st.sampled_from(list(OrderStatus)),
        changed_at=st.just(T0 + timedelta(minutes=5)),
        reason=st.sampled_from(["", "paid (yookassa)", "нет размера"]),
    )


def _payment(order: str) -> st.SearchStrategy[PaymentRecord]:
    def build(guid: str, status: PaymentStatus, amount: int, refunded: int) -> PaymentRecord:
        paid_at = T0 + timedelta(minutes=6) if status is PaymentStatus.SUCCEEDED else None
        payment = records.payment(status, guid=guid, order_guid=order, amount_kopecks=amount)
        return replace(payment, paid_at=paid_at, refunded_kopecks=refunded)

    return st.builds(
        build,
        st.sampled_from(PAYMENTS).map(lambda p: records.guid(f"{p}/{order}")),
        st.sampled_from(list(PaymentStatus)),
        st.sampled_from([4990_00, 5290_00]),
        st.sampled_from([0, 1000_00]),
    )


@st.composite
def stories(draw: st.DrawFn) -> Story:
    events: list[Event] = []
    placed: set[str] = set()
    for _ in range(draw(st.integers(1, 12))):
        n = draw(st.integers(0, len(ORDERS) - 1))
        order = ORDERS[n]
        step = draw(st.sampled_from(["customer", "change", "status", "payment"]))
        if order not in placed:
            events.append(Event(EventKind.ORDER_PLACED, draw(_order(order, n))))
            placed.add(order)
        elif step == "customer":
            customer = draw(st.sampled_from(CUSTOMERS).flatmap(_customer))
            events.append(Event(EventKind.CUSTOMER_UPSERTED, customer))
        elif step == "change":
            events.append(Event(EventKind.ORDER_CHANGED, draw(_order(order, n))))
        elif step == "status":
            events.append(Event(EventKind.ORDER_STATUS_CHANGED, draw(_status(order))))
        else:
            events.append(Event(EventKind.PAYMENT_STATUS_CHANGED, draw(_payment(order))))
    held_customers = draw(st.lists(st.sampled_from(CUSTOMERS).flatmap(_customer), max_size=2))
    sent_before = [e.record for e in events if isinstance(e.record, OrderRecord)]
    held = draw(st.lists(st.sampled_from(sent_before), max_size=2, unique_by=lambda r: r.guid))
    cuts = draw(st.lists(st.integers(1, len(events)), max_size=2, unique=True))
    return Story(
        held_customers=tuple({c.guid: c for c in held_customers}.values()),
        held_orders=tuple(held),
        events=tuple(events),
        cuts=tuple(sorted(cuts)),
        batch=draw(st.integers(1, 3)),
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(story=stories())
async def test_batched_and_coalesced_delivery_leaves_retailcrm_as_event_by_event_does(
    story: Story,
) -> None:
    known = MemoryKnown()  # the batched side also leaves out customers sent unchanged
    async with in_memory_crm() as (one_by_one, first), in_memory_crm(known) as (batched, second):
        for sim, crm in ((one_by_one, first), (batched, second)):
            await _hold(crm, sim, story)
        for event in story.events:
            await _to_retailcrm(first, event.kind, to_json(event.record))
        for events in _passes(story):
            await _send_in_a_pass(second, events, story.batch)
        assert state(batched) == state(one_by_one)
        assert batched.order_violations == one_by_one.order_violations == []


async def _hold(crm: RetailCrmClient, sim: RetailCrmSimulator, story: Story) -> None:
    """What RetailCRM has before: customers (returning ones), orders sent before, a manager's
    status on each such order."""
    for customer in story.held_customers:
        sim.state.customers[customer.guid] = {**customer_payload(customer), "id": 0}
    for order in story.held_orders:
        if order.customer.guid not in sim.state.customers:
            await crm.upsert_customer(order.customer)
        stored = {**order_payload(order, RetailCrmCodes()), "id": 0, "site": SITE}
        sim.state.orders[order.guid] = {**stored, "status": "assembling"}


def _passes(story: Story) -> list[list[Waiting]]:
    waiting = [Waiting(n, e.kind, e.record) for n, e in enumerate(story.events, start=1)]
    bounds = [0, *story.cuts, len(waiting)]
    return [waiting[a:b] for a, b in zip(bounds, bounds[1:], strict=False) if a < b]


async def _send_in_a_pass(crm: RetailCrmClient, events: list[Waiting], batch: int) -> None:
    by_aggregate: dict[str, list[Waiting]] = {}
    for event in events:
        by_aggregate.setdefault(_aggregate(event), []).append(event)
    deliveries = [coalesce(a, waiting) for a, waiting in by_aggregate.items()]
    ledger = _Ledger()
    result = await BatchPass(crm, ledger, batch).run(deliveries)
    assert result.stopped is None and ledger.failures == []
    for delivery in result.fallback:  # sent alone, event by event, as delivery.py does
        for event in by_aggregate[delivery.aggregate]:
            await _to_retailcrm(crm, event.kind, to_json(event.record))
    assert {d.aggregate for d in [*ledger.done, *result.fallback]} == set(by_aggregate)


def _aggregate(event: Waiting) -> str:
    record = event.record
    customer = record.guid if isinstance(record, CustomerRecord) else None
    order = record.guid if isinstance(record, OrderRecord) else getattr(record, "order_guid", None)
    return aggregate_key(event.kind, customer, order)


class _Ledger:
    def __init__(self) -> None:
        self.done: list[Delivery] = []
        self.failures: list[RetryableError] = []

    async def delivered(self, deliveries: Sequence[Delivery]) -> None:
        self.done.extend(deliveries)

    async def failed(self, deliveries: Sequence[Delivery], error: RetryableError) -> None:
        self.failures.append(error)
