"""A drop's RetailCRM events as outbox rows, and RetailCRM as event-by-event delivery leaves it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import httpx

from app.devtools.simulators.retailcrm import RetailCrmSimulator
from app.domain.orders import OrderStatus
from app.domain.outbound_json import Record, to_json
from app.domain.outbox import EventKind, Target
from app.integrations.retailcrm.client import RetailCrmClient
from app.integrations.retailcrm.known import Json, KnownCustomers, digest
from app.services.outbox.delivery import _to_retailcrm
from app.services.outbox.record import write_event
from tests.integrations import records

KEY, SITE = "test-key", "vitrina"


@dataclass(frozen=True)
class Event:
    aggregate: str
    kind: EventKind
    record: Record


def order_guid(n: int) -> str:
    return records.guid(f"drop/order/{n}")


def drop_events(
    count: int, *, pay_every: int = 3, start: int = 0, buyers: int | None = None
) -> list[Event]:
    """Orders `start`…, each by its own customer (or by one of `buyers` customers, in turn);
    every `pay_every`th is paid, the first included (the order's status, then its payment, as
    checkout writes them); 0: none is."""
    events = []
    for n in range(start, start + count):
        guid = order_guid(n)
        buyer = records.customer(f"buyer{n % buyers if buyers else n}")
        order = records.order(guid=guid, number=f"V-{n:06d}", customer=buyer)
        aggregate = f"order:{guid}"
        events.append(Event(aggregate, EventKind.ORDER_PLACED, order))
        if pay_every and n % pay_every == 0:
            status = replace(records.status(OrderStatus.PAID, "paid (yookassa)"), order_guid=guid)
            payment = records.payment(guid=records.guid(f"drop/payment/{n}"), order_guid=guid)
            events.append(Event(aggregate, EventKind.ORDER_STATUS_CHANGED, status))
            events.append(Event(aggregate, EventKind.PAYMENT_STATUS_CHANGED, payment))
    return events


async def write(events: list[Event], now: datetime) -> None:
    """The events as RetailCRM outbox rows, due `now`."""
    for event in events:
        await write_event(Target.RETAILCRM, event.aggregate, event.kind, event.record, now)


class MemoryKnown:
    """What RetailCRM was last told of each customer, in this process (as redis keeps it)."""

    def __init__(self) -> None:
        self.digests: dict[str, str] = {}

    async def unchanged(self, payloads: Mapping[str, Json]) -> set[str]:
        return {g for g, p in payloads.items() if self.digests.get(g) == digest(p)}

    async def remember(self, payloads: Mapping[str, Json]) -> None:
        self.digests.update({g: digest(p) for g, p in payloads.items()})

    async def forget(self, guids: Iterable[str]) -> None:
        for guid in guids:
            self.digests.pop(guid, None)


@asynccontextmanager
async def in_memory_crm(
    known: KnownCustomers | None = None,
) -> AsyncIterator[tuple[RetailCrmSimulator, RetailCrmClient]]:
    """A simulator and a client speaking to it without a socket."""
    sim = RetailCrmSimulator(api_key=KEY, site=SITE)
    transport = httpx.ASGITransport(app=sim.app)
    url = "http://crm.test/api/v5"
    async with RetailCrmClient(
        url, KEY, SITE, max_rps=10_000, transport=transport, known=known
    ) as crm:
        yield sim, crm


async def one_by_one(events: list[Event]) -> dict[str, Any]:
    """What RetailCRM holds after the events, sent one at a time by the delivery service."""
    async with in_memory_crm() as (sim, crm):
        for event in events:
            await _to_retailcrm(crm, event.kind, to_json(event.record))
        return state(sim)


def state(sim: RetailCrmSimulator) -> dict[str, Any]:
    """What RetailCRM holds, without its own ids (they count calls, not state)."""

    def plain(table: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        return {key: {k: v for k, v in row.items() if k != "id"} for key, row in table.items()}

    return {
        "customers": plain(sim.state.customers),
        "orders": plain(sim.state.orders),
        "payments": plain(sim.state.payments),
    }
