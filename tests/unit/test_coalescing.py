"""Coalescing: one aggregate's waiting RetailCRM events come to one delivery, grouped by what
they touch (the receiver-state property is tests/services/outbox/test_retailcrm_coalescing.py)."""

from __future__ import annotations

import pytest

from app.domain.coalescing import (
    CustomerDelivery,
    OrderDelivery,
    Waiting,
    calls_needed,
    chunks,
    coalesce,
    customer_upserts,
    halves,
)
from app.domain.orders import OrderStatus
from app.domain.outbox import EventKind
from app.domain.payments import PaymentStatus
from tests.integrations import records

ORDER = f"order:{records.ORDER}"


def test_an_order_placed_then_paid_is_one_delivery_that_creates_it_with_its_payment() -> None:
    placed = records.order()
    events = [
        Waiting(1, EventKind.ORDER_PLACED, placed),
        Waiting(2, EventKind.ORDER_STATUS_CHANGED, records.status(OrderStatus.PAID)),
        Waiting(3, EventKind.PAYMENT_STATUS_CHANGED, records.payment(PaymentStatus.PENDING)),
        Waiting(4, EventKind.PAYMENT_STATUS_CHANGED, records.payment(PaymentStatus.SUCCEEDED)),
    ]
    delivery = coalesce(ORDER, events)
    assert delivery == OrderDelivery(
        aggregate=ORDER,
        events=(1, 2, 3, 4),
        guid=records.ORDER,
        creates=True,
        snapshots=(placed,),
        statuses=(records.status(OrderStatus.PAID),),
        payments=(
            (records.payment(PaymentStatus.PENDING), records.payment(PaymentStatus.SUCCEEDED)),
        ),
        customers=((1, placed.customer),),
    )
    assert delivery.edits_order


def test_a_payment_of_an_order_sent_before_is_an_edit_without_touching_the_order() -> None:
    events = [Waiting(7, EventKind.PAYMENT_STATUS_CHANGED, records.payment())]
    delivery = coalesce(ORDER, events)
    assert isinstance(delivery, OrderDelivery)
    assert (delivery.creates, delivery.edits_order, delivery.customers) == (False, False, ())
    assert delivery.payments == ((records.payment(),),)


def test_each_payment_keeps_its_own_snapshots_in_order() -> None:
    first = records.payment(PaymentStatus.CANCELLED, guid=records.guid("payment/a"))
    second = records.payment(PaymentStatus.SUCCEEDED, guid=records.guid("payment/b"))
    refunded = records.payment(PaymentStatus.REFUNDED, guid=records.guid("payment/b"))
    events = [
        Waiting(1, EventKind.PAYMENT_STATUS_CHANGED, first),
        Waiting(2, EventKind.PAYMENT_STATUS_CHANGED, second),
        Waiting(3, EventKind.PAYMENT_STATUS_CHANGED, refunded),
    ]
    delivery = coalesce(ORDER, events)
    assert isinstance(delivery, OrderDelivery)
    assert delivery.payments == ((first,), (second, refunded))


def test_a_change_of_lines_first_creates_the_order_if_it_is_new_but_upserts_no_customer() -> None:
    changed = records.order(comment="")
    delivery = coalesce(ORDER, [Waiting(5, EventKind.ORDER_CHANGED, changed)])
    assert isinstance(delivery, OrderDelivery)
    assert (delivery.creates, delivery.snapshots, delivery.customers) == (True, (changed,), ())


def test_a_customers_upserts_are_one_delivery_of_its_snapshots() -> None:
    old, new = records.customer(), records.customer(last_name="Иванова")
    events = [
        Waiting(1, EventKind.CUSTOMER_UPSERTED, old),
        Waiting(2, EventKind.CUSTOMER_UPSERTED, new),
    ]
    aggregate = f"customer:{records.CUSTOMER}"
    assert coalesce(aggregate, events) == CustomerDelivery(
        aggregate, (1, 2), records.CUSTOMER, ((1, old), (2, new))
    )


def test_nothing_and_foreign_events_are_refused() -> None:
    with pytest.raises(ValueError):
        coalesce(ORDER, [])
    message = Waiting(1, EventKind.CUSTOMER_MESSAGE, records.customer())
    with pytest.raises(ValueError):
        coalesce(ORDER, [Waiting(0, EventKind.ORDER_PLACED, records.order()), message])


def test_a_customer_is_upserted_once_with_all_its_snapshots_in_commit_order() -> None:
    anna = records.customer()
    renamed = records.customer(last_name="Иванова")
    other = records.customer("boris")
    first_order = records.order(guid=records.guid("order/a"), customer=renamed)
    second_order = records.order(guid=records.guid("order/b"), customer=other)
    deliveries = [
        coalesce("order:a", [Waiting(3, EventKind.ORDER_PLACED, first_order)]),
        coalesce(f"customer:{anna.guid}", [Waiting(1, EventKind.CUSTOMER_UPSERTED, anna)]),
        coalesce("order:b", [Waiting(4, EventKind.ORDER_PLACED, second_order)]),
    ]
    upserts = customer_upserts(deliveries)
    assert [(u.guid, u.snapshots, u.needed_by) for u in upserts] == [
        (anna.guid, (anna, renamed), (f"customer:{anna.guid}", "order:a")),
        (other.guid, (other,), ("order:b",)),
    ]


def test_an_upload_costs_a_share_of_two_calls_and_an_edit_a_call_per_entity() -> None:
    created = coalesce(ORDER, [Waiting(1, EventKind.ORDER_PLACED, records.order())])
    paid_later = coalesce(
        ORDER,
        [
            Waiting(2, EventKind.ORDER_STATUS_CHANGED, records.status()),
            Waiting(3, EventKind.PAYMENT_STATUS_CHANGED, records.payment()),
        ],
    )
    assert (calls_needed(created, 50), calls_needed(paid_later, 50)) == (0.04, 2)


def test_runs_and_halves() -> None:
    assert chunks(list(range(7)), 3) == [[0, 1, 2], [3, 4, 5], [6]]
    assert chunks([], 50) == []
    assert halves([1, 2, 3]) == [[1, 2], [3]]
