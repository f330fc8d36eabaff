"""Write what 1C and RetailCRM must hear, in the caller's transaction (the outbox)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime

from app.domain.orders import OrderStatus
from app.domain.outbound import (
    CustomerRecord,
    DeliveryRecord,
    OrderLineRecord,
    OrderRecord,
    OrderStatusRecord,
    PaymentRecord,
)
from app.domain.outbound_json import Record, to_json
from app.domain.outbox import EventKind, Target, aggregate_key
from app.domain.payments import PaymentStatus
from app.domain.reservations import SERVING_ORDER
from app.models.catalog import Warehouse
from app.models.customers import Customer
from app.models.orders import Order, OrderLine, Payment
from app.models.outbox import OutboxEvent
from app.models.stock import Reservation
from app.services.jobs import JobQueue, enqueue_quietly

ALL_TARGETS = (Target.ONEC, Target.RETAILCRM)


async def record_event(
    *, kind: EventKind, record: Record, now: datetime, targets: Iterable[Target] = ALL_TARGETS
) -> list[OutboxEvent]:
    """One outbox row per target system; the caller's transaction commits them with the change."""
    aggregate = _aggregate_of(kind, record)
    return [await write_event(t, aggregate, kind, record, now) for t in targets]


def event_rows(
    *, kind: EventKind, record: Record, now: datetime, targets: Iterable[Target] = ALL_TARGETS
) -> list[OutboxEvent]:
    """`record_event`'s rows, not yet written: a caller with several events writes them all in
    one statement (`OutboxEvent.bulk_create`, in its transaction)."""
    aggregate = _aggregate_of(kind, record)
    return [_event_row(t, aggregate, kind, record, now) for t in targets]


def _aggregate_of(kind: EventKind, record: Record) -> str:
    customer_guid = record.guid if isinstance(record, CustomerRecord) else None
    order_guid = (
        record.guid if isinstance(record, OrderRecord) else getattr(record, "order_guid", None)
    )
    return aggregate_key(kind, customer_guid, order_guid)


async def write_event(
    target: Target, aggregate: str, kind: EventKind, record: Record, now: datetime
) -> OutboxEvent:
    """One outbox row, due now, in the caller's transaction."""
    row = _event_row(target, aggregate, kind, record, now)
    await row.save(force_create=True)
    return row


def _event_row(
    target: Target, aggregate: str, kind: EventKind, record: Record, now: datetime
) -> OutboxEvent:
    return OutboxEvent(
        event_id=str(uuid.uuid4()),
        target=target,
        aggregate=aggregate,
        kind=kind,
        payload=to_json(record),
        next_attempt_at=now,
        created_at=now,
    )


async def announce(jobs: JobQueue, events: Iterable[OutboxEvent]) -> None:
    """After commit: wake a worker for each aggregate, or the batching worker of a batched
    system (the per-second sweep covers misses)."""
    pairs = sorted({(e.target, e.aggregate) for e in events})
    for target in sorted({t for t, _ in pairs if t in BATCHED}):
        await enqueue_quietly(
            jobs,
            "deliver_outbox_batches",
            target.value,
            job_id=batches_job_id(target),
            queue=delivery_queue(target),
        )
    for target, aggregate in (p for p in pairs if p[0] not in BATCHED):
        await enqueue_quietly(
            jobs,
            "deliver_outbox",
            target.value,
            aggregate,
            job_id=delivery_job_id(target, aggregate),
            queue=delivery_queue(target),
        )


def delivery_queue(target: Target) -> str:
    """Each system has its own queue (and lanes): one slow system never delays the other."""
    return f"vitrina:deliver:{target.value}"


def delivery_job_id(target: Target, aggregate: str) -> str:
    """One delivery job per system and aggregate at a time: they deliver in order."""
    return f"outbox:{target.value}:{aggregate}"


# Systems whose due events go out a pass at a time, in batches, by one job at a time across
# all worker processes (app/services/outbox/retailcrm_batches.py).
BATCHED = frozenset({Target.RETAILCRM})


def batches_job_id(target: Target) -> str:
    """The one batching job of a batched system (its passes would otherwise overlap)."""
    return f"outbox:{target.value}:batches"


def customer_record(customer: Customer) -> CustomerRecord:
    return CustomerRecord(
        guid=customer.guid,
        email=customer.email,
        phone=customer.phone,
        first_name=customer.first_name,
        last_name=customer.last_name,
        created_at=customer.created_at,
    )


async def order_record(order: Order, customer: Customer) -> OrderRecord:
    """The order as 1C and RetailCRM see it: one line per warehouse a line is served from."""
    lines = (
        await OrderLine.filter(order_id=order.id)
        .order_by("id")
        .prefetch_related("variant__product")
    )
    reservations = await Reservation.filter(
        order_line__order_id=order.id, state__in=list(SERVING_ORDER)
    ).prefetch_related("warehouse")
    pickup = None
    if order.pickup_warehouse_id is not None:
        pickup = await Warehouse.get_or_none(id=order.pickup_warehouse_id)
    return order_record_of(order, customer, lines, reservations, pickup)


def order_record_of(
    order: Order,
    customer: Customer,
    lines: Sequence[OrderLine],
    reservations: Sequence[Reservation],
    pickup: Warehouse | None,
) -> OrderRecord:
    """`order_record` from rows in hand: lines with their variant and product, the order's
    serving reservations with their warehouse (checkout passes what it just wrote)."""
    return OrderRecord(
        guid=order.guid,
        number=order.number,
        created_at=order.created_at,
        status=order.status,
        customer=customer_record(customer),
        lines=[
            OrderLineRecord(
                variant_guid=line.variant.guid,
                product_guid=line.variant.product.guid,
                sku=line.sku,
                name=line.product_name,
                warehouse_guid=r.warehouse.guid,
                quantity=r.quantity,
                unit_price_kopecks=line.unit_price,
            )
            for line in lines
            for r in reservations
            if r.order_line_id == line.id
        ],
        delivery=DeliveryRecord(
            kind=order.delivery_kind,
            address=order.delivery_address,
            pickup_warehouse_guid=pickup.guid if pickup else None,
        ),
        total_kopecks=order.total,
    )


def status_record(
    order: Order, status: OrderStatus, at: datetime, reason: str
) -> OrderStatusRecord:
    return OrderStatusRecord(order_guid=order.guid, status=status, changed_at=at, reason=reason)


def payment_record(payment: Payment, order: Order) -> PaymentRecord:
    return PaymentRecord(
        guid=payment.guid,
        order_guid=order.guid,
        provider=payment.provider,
        provider_payment_id=payment.provider_payment_id or "",
        status=payment.status,
        amount_kopecks=payment.amount,
        paid_at=payment.paid_at if payment.status is PaymentStatus.SUCCEEDED else None,
        refunded_kopecks=payment.refunded,
    )
