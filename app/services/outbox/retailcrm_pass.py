"""One pass of batched delivery to RetailCRM over coalesced deliveries (no database here).

The steps, for each group of up to 50 of the deliveries of one pass, oldest first
(app/services/outbox/retailcrm_batches.py loads them and writes what becomes of them through a
`Ledger`):

1. customers: each customer the group needs, once in the pass, with all its snapshots of the
   pass, in a `customers/upload` call; one that exists already is edited by externalId;
2. orders: the orders whose first waiting event creates them, their customer in, in
   `orders/upload` calls, with their status changes and payments inside; one that exists
   already is edited instead;
3. edits: the others (a status change or a payment of an order RetailCRM has): one edit of the
   order, one upsert per payment.

A delivery is done (`Ledger.delivered`) as soon as all its calls succeeded. One whose entity
RetailCRM refused inside a batch (or that the answer leaves unclear) is handed back in
`fallback`, to be sent on its own, event by event.

A call that fails retryably: if RetailCRM asked to wait (Retry-After), the pass stops. Else a
ping tells whether RetailCRM answers at all: if not, it is down, nothing is charged and the pass
stops. If it answers, the call's content is suspect: a batch is split in halves and sent again,
and a call about one entity charges that entity's deliveries one attempt (`Ledger.failed`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Protocol, TypeVar, runtime_checkable

import structlog

from app.domain.coalescing import (
    MAX_BATCH,
    CustomerDelivery,
    CustomerUpsert,
    Delivery,
    OrderDelivery,
    chunks,
    customer_upserts,
    halves,
)
from app.domain.outbound import PaymentRecord
from app.integrations.errors import RejectedError, RetryableError
from app.integrations.retailcrm.uploads import Uploaded
from app.services.outbox.delivery import RetailCrmPort

log = structlog.get_logger(__name__)
T = TypeVar("T")


@runtime_checkable
class RetailCrmBatchPort(RetailCrmPort, Protocol):
    async def upload_customers(self, customers: Sequence[CustomerUpsert]) -> Uploaded: ...
    async def edit_customer(self, customer: CustomerUpsert) -> None: ...
    async def upload_orders(self, orders: Sequence[OrderDelivery]) -> Uploaded: ...
    async def edit_order(self, order: OrderDelivery) -> None: ...
    async def upsert_payment_snapshots(self, snapshots: Sequence[PaymentRecord]) -> None: ...
    async def ping(self) -> None: ...


class Ledger(Protocol):
    """Where a pass writes what became of each delivery, as it happens."""

    async def delivered(self, deliveries: Sequence[Delivery]) -> None: ...
    async def failed(self, deliveries: Sequence[Delivery], error: RetryableError) -> None: ...


@dataclass
class PassResult:
    fallback: list[Delivery] = field(default_factory=list)  # to send again event by event
    stopped: RetryableError | None = None  # RetailCRM is down or asked to wait


@dataclass
class _Answers:
    created: set[str] = field(default_factory=set)
    existing: set[str] = field(default_factory=set)


class _Stop(Exception):
    """RetailCRM is down or asked to wait: this pass sends nothing more."""


Needing = dict[str, list[Delivery]]  # an entity's externalId: the deliveries that wait for it
Call = Callable[[], Awaitable[None]]


class BatchPass:
    """One pass over some deliveries, a group of `size` at a time (oldest first): the group's
    customers, then its uploads and edits, so that each group finishes its deliveries; no new
    group once the pass has made `max_calls` calls (the rest wait for the next pass)."""

    def __init__(
        self, crm: RetailCrmBatchPort, ledger: Ledger, size: int = MAX_BATCH, max_calls: int = 40
    ) -> None:
        self.crm, self.ledger, self.size, self.max_calls = crm, ledger, size, max_calls
        self.result = PassResult()
        self.calls = 0
        self._out: set[str] = set()  # aggregates taken out of the pass (fallback or charged)
        self._upserts: dict[str, CustomerUpsert] = {}
        self._needing: Needing = {}  # a customer's GUID: the deliveries that wait for it
        self._upserted: set[str] = set()  # customers RetailCRM has as this pass leaves them

    async def run(self, deliveries: Sequence[Delivery]) -> PassResult:
        """Send `deliveries`; what failed in a way worth sending alone is in `fallback`."""
        by_aggregate = {d.aggregate: d for d in deliveries}
        for upsert in customer_upserts(deliveries):  # each with all its snapshots of the pass
            self._upserts[upsert.guid] = upsert
            self._needing[upsert.guid] = [by_aggregate[a] for a in upsert.needed_by]
        try:
            for group in chunks(deliveries, self.size):
                if self.calls >= self.max_calls:
                    break
                await self._customers(group)
                await self._orders([d for d in group if isinstance(d, OrderDelivery)])
        except _Stop:
            pass
        return self.result

    def _in(self, *deliveries: Delivery) -> bool:
        return all(d.aggregate not in self._out for d in deliveries)

    # --- steps ----------------------------------------------------------------------------

    async def _customers(self, group: Sequence[Delivery]) -> None:
        guids = {u.guid for u in customer_upserts(group)} - self._upserted
        upserts = [u for g, u in self._upserts.items() if g in guids]
        answer = await self._upload(upserts, self.crm.upload_customers, self._needing)
        self._upserted |= answer.created
        for upsert in (u for u in upserts if u.guid in answer.existing):
            concerned = self._needing[upsert.guid]
            if await self._single(concerned, partial(self.crm.edit_customer, upsert)):
                self._upserted.add(upsert.guid)
        await self._done(
            [d for d in group if isinstance(d, CustomerDelivery) and d.guid in self._upserted]
        )

    async def _orders(self, group: Sequence[OrderDelivery]) -> None:
        orders = [o for o in group if self._in(o) and _customers_in(o) <= self._upserted]
        uploads = [o for o in orders if o.creates]
        needing: Needing = {o.guid: [o] for o in uploads}
        answer = await self._upload(uploads, self.crm.upload_orders, needing)
        await self._done([o for o in uploads if o.guid in answer.created])
        for order in (o for o in orders if not o.creates or o.guid in answer.existing):
            if order.edits_order:
                await self._single([order], partial(self.crm.edit_order, order))
            for snapshots in order.payments:
                await self._single([order], partial(self.crm.upsert_payment_snapshots, snapshots))
            await self._done([order])

    async def _done(self, deliveries: Sequence[Delivery]) -> None:
        if done := [d for d in deliveries if self._in(d)]:
            await self.ledger.delivered(done)

    # --- calls ----------------------------------------------------------------------------

    async def _upload(
        self,
        items: Sequence[T],
        send: Callable[[Sequence[T]], Awaitable[Uploaded]],
        needing: Needing,
    ) -> _Answers:
        """Upload `items` (each with a `guid`, its externalId) in runs of `size`."""
        answers = _Answers()
        for run in chunks(items, self.size):
            await self._upload_run(run, send, needing, answers)
        return answers

    async def _upload_run(
        self,
        run: Sequence[T],
        send: Callable[[Sequence[T]], Awaitable[Uploaded]],
        needing: Needing,
        answers: _Answers,
    ) -> None:
        concerned = [d for item in run for d in needing[_guid(item)]]
        try:
            self.calls += 1
            uploaded = await send(run)
        except RejectedError as error:
            self._fall_back(concerned, str(error))
            return
        except RetryableError as error:
            await self._judge(error, concerned, alone=len(run) == 1)
            if len(run) > 1:
                for half in halves(run):
                    await self._upload_run(half, send, needing, answers)
            return
        answers.created |= uploaded.created
        answers.existing |= uploaded.existing
        for external_id, reason in uploaded.failed.items():
            self._fall_back(needing[external_id], reason)

    async def _single(self, concerned: list[Delivery], call: Call) -> bool:
        """One call about one entity, unless one of `concerned` is out of the pass already;
        whether it succeeded."""
        if not self._in(*concerned):
            return False
        try:
            self.calls += 1
            await call()
        except RejectedError as error:
            self._fall_back(concerned, str(error))
            return False
        except RetryableError as error:
            await self._judge(error, concerned, alone=True)
            return False
        return True

    async def _judge(
        self, error: RetryableError, concerned: list[Delivery], *, alone: bool
    ) -> None:
        """A call failed retryably: stop if RetailCRM asked to wait or does not answer; else
        charge the entity of a call about one (a batch is split by the caller)."""
        if error.retry_after is not None or not await self._answers():
            log.warning("outbox.retailcrm_stopped", error=str(error), concerned=len(concerned))
            self.result.stopped = error
            raise _Stop
        if alone:
            self._out |= {d.aggregate for d in concerned}
            await self.ledger.failed(concerned, error)

    async def _answers(self) -> bool:
        """Whether RetailCRM answers at all (refusing the ping is an answer)."""
        try:
            self.calls += 1
            await self.crm.ping()
        except RetryableError:
            return False
        except RejectedError:
            return True
        return True

    def _fall_back(self, concerned: list[Delivery], reason: str) -> None:
        for delivery in concerned:
            if self._in(delivery):
                log.info("outbox.retailcrm_alone", aggregate=delivery.aggregate, reason=reason)
                self._out.add(delivery.aggregate)
                self.result.fallback.append(delivery)


def _customers_in(order: OrderDelivery) -> set[str]:
    return {customer.guid for _, customer in order.customers}


def _guid(item: object) -> str:
    guid = getattr(item, "guid", None)
    assert isinstance(guid, str), item
    return guid
