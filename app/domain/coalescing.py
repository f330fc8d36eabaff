"""Coalescing: what the waiting RetailCRM events of one aggregate come to, sent together.

RetailCRM keeps an entity's fields until told otherwise: a create sets the fields it names, an
edit replaces the fields it names and keeps the rest. So event by event, the state an order's
waiting events leave in RetailCRM depends only on

- whether its first event is a snapshot of the order (`order.placed` or `order.changed`: a
  create, or an edit if the order exists) or something that needs the order to exist already,
- its snapshots in order (each later one an edit that leaves the status alone),
- its status changes in order (edits of `status` and `statusComment` only),
- each payment's snapshots in order (a payment is an entity of its own),
- the customer of each `order.placed`, upserted before the order.

Order fields, status fields, each payment and the customer are disjoint, so these sequences
commute with one another: folded, each one is what event by event would have left. That is the
merge rule, and the reason it keeps the receiver's final state (tests/unit/test_coalescing.py
checks it against the simulator over random event sequences). A delivery whose first event is
not a snapshot is sent as edits (an unknown order answers 404, and the caller then sends event
by event, so what RetailCRM refuses is parked exactly as it would have been).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from app.domain.outbound import CustomerRecord, OrderRecord, OrderStatusRecord, PaymentRecord
from app.domain.outbound_json import Record
from app.domain.outbox import EventKind

MAX_BATCH = 50  # entities per customers/upload or orders/upload call (RetailCRM's limit)
T = TypeVar("T")


@dataclass(frozen=True)
class Waiting:
    """One pending outbox event, as its record."""

    id: int
    kind: EventKind
    record: Record


@dataclass(frozen=True)
class CustomerDelivery:
    """A customer aggregate's waiting upserts."""

    aggregate: str
    events: tuple[int, ...]
    guid: str
    snapshots: tuple[tuple[int, CustomerRecord], ...]  # (event id, snapshot), oldest first


@dataclass(frozen=True)
class OrderDelivery:
    """An order aggregate's waiting events, grouped by what they touch in RetailCRM."""

    aggregate: str
    events: tuple[int, ...]
    guid: str
    creates: bool  # the first event is a snapshot: an upload (or, if it exists, an edit)
    snapshots: tuple[OrderRecord, ...] = ()  # oldest first
    statuses: tuple[OrderStatusRecord, ...] = ()  # oldest first
    payments: tuple[tuple[PaymentRecord, ...], ...] = ()  # per payment, oldest snapshot first
    customers: tuple[tuple[int, CustomerRecord], ...] = ()  # of each order.placed, by event id

    @property
    def edits_order(self) -> bool:
        """Whether the order itself changes (not only its payments)."""
        return bool(self.snapshots or self.statuses)


Delivery = CustomerDelivery | OrderDelivery


def coalesce(aggregate: str, events: Sequence[Waiting]) -> Delivery:
    """Merge one aggregate's waiting events (oldest first) into one delivery."""
    if not events:
        raise ValueError("nothing to coalesce")
    ids = tuple(e.id for e in events)
    if all(e.kind is EventKind.CUSTOMER_UPSERTED for e in events):
        snapshots = tuple((e.id, _customer(e.record)) for e in events)
        return CustomerDelivery(aggregate, ids, snapshots[-1][1].guid, snapshots)
    return _order_delivery(aggregate, ids, events)


def _order_delivery(aggregate: str, ids: tuple[int, ...], events: Sequence[Waiting]) -> Delivery:
    snapshots: list[OrderRecord] = []
    statuses: list[OrderStatusRecord] = []
    payments: dict[str, list[PaymentRecord]] = {}
    customers: list[tuple[int, CustomerRecord]] = []
    for event in events:
        record = event.record
        if isinstance(record, OrderRecord):
            snapshots.append(record)
            if event.kind is EventKind.ORDER_PLACED:
                customers.append((event.id, record.customer))
        elif isinstance(record, OrderStatusRecord):
            statuses.append(record)
        elif isinstance(record, PaymentRecord):
            payments.setdefault(record.guid, []).append(record)
        else:
            raise ValueError(f"{event.kind} is not an order's event")
    return OrderDelivery(
        aggregate=aggregate,
        events=ids,
        guid=_order_guid(events[0].record),
        creates=isinstance(events[0].record, OrderRecord),
        snapshots=tuple(snapshots),
        statuses=tuple(statuses),
        payments=tuple(tuple(p) for p in payments.values()),
        customers=tuple(customers),
    )


def _customer(record: Record) -> CustomerRecord:
    if not isinstance(record, CustomerRecord):
        raise ValueError(f"not a customer: {record!r}")
    return record


def _order_guid(record: Record) -> str:
    if isinstance(record, OrderRecord):
        return record.guid
    if isinstance(record, OrderStatusRecord | PaymentRecord):
        return record.order_guid
    raise ValueError(f"not an order's record: {record!r}")


@dataclass(frozen=True)
class CustomerUpsert:
    """One customer as a pass sends it: every waiting snapshot of it, in commit order."""

    guid: str
    snapshots: tuple[CustomerRecord, ...]
    needed_by: tuple[str, ...]  # the aggregates that wait for it


def customer_upserts(deliveries: Iterable[Delivery]) -> list[CustomerUpsert]:
    """The customers a pass must upsert first: each once, its snapshots in event order (a
    customer's own upserts and those that come with its orders)."""
    seen: dict[str, list[tuple[int, CustomerRecord, str]]] = {}
    for delivery in deliveries:
        pairs = delivery.snapshots if isinstance(delivery, CustomerDelivery) else delivery.customers
        for event_id, record in pairs:
            seen.setdefault(record.guid, []).append((event_id, record, delivery.aggregate))
    upserts = []
    for guid, found in seen.items():
        found.sort(key=lambda item: item[0])
        needed_by = tuple(dict.fromkeys(aggregate for _, _, aggregate in found))
        upserts.append(CustomerUpsert(guid, tuple(r for _, r, _ in found), needed_by))
    return upserts


def calls_needed(delivery: Delivery, batch: int) -> float:
    """About how many RetailCRM calls a delivery costs in a pass of `batch`-entity uploads."""
    if isinstance(delivery, CustomerDelivery) or delivery.creates:
        return 2 / batch  # its share of a customers and an orders upload
    return int(delivery.edits_order) + len(delivery.payments)


def chunks(items: Sequence[T], size: int) -> list[Sequence[T]]:
    """`items` in consecutive runs of at most `size`."""
    return [items[start : start + size] for start in range(0, len(items), size)]


def halves(items: Sequence[T]) -> list[Sequence[T]]:
    """A run of several split in two (to find which of them a failing call cannot take)."""
    middle = (len(items) + 1) // 2
    return [items[:middle], items[middle:]]
