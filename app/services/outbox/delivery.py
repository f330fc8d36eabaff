"""Deliver outbox events: in order per system and aggregate, retried, or parked as dead letters."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import structlog
from tortoise.expressions import Q
from tortoise.functions import Count

from app.domain.closing_receipt import (
    ClosingReceiptRecord,
    ShipmentCaptureRecord,
    closing_receipt_from_json,
    shipment_capture_from_json,
)
from app.domain.outbound import (
    CustomerMessageRecord,
    CustomerRecord,
    OrderRecord,
    OrderStatusRecord,
    PaymentRecord,
    ShopRequestCall,
)
from app.domain.outbound_json import (
    customer_from_json,
    message_from_json,
    order_from_json,
    order_status_from_json,
    payment_from_json,
    shop_request_call_from_json,
)
from app.domain.outbox import (
    FISCAL_KINDS,
    EventKind,
    EventState,
    RetryPolicy,
    Target,
    WaitingForEvent,
    fiscal_kept,
    kept_after_delivery,
)
from app.integrations.errors import RejectedError, RetryableError
from app.integrations.onec.mapping import OrderRegistration
from app.models.outbox import OutboxEvent
from app.services.identity import delivery as identity_delivery
from app.services.identity import segment_delivery
from app.services.inventory.reconciliation import register_order

log = structlog.get_logger(__name__)


class OneCPort(Protocol):
    async def put_customer(self, record: CustomerRecord, event_id: str) -> None: ...
    async def put_order(self, record: OrderRecord, event_id: str) -> OrderRegistration: ...
    async def put_order_status(self, record: OrderStatusRecord, event_id: str) -> None: ...
    async def put_payment(self, record: PaymentRecord, event_id: str) -> None: ...


class RetailCrmPort(Protocol):
    async def upsert_customer(self, record: CustomerRecord) -> None: ...
    async def upsert_order(self, record: OrderRecord) -> None: ...
    async def update_order_status(self, record: OrderStatusRecord) -> None: ...
    async def upsert_payment(self, record: PaymentRecord) -> None: ...


class NotifyPort(Protocol):
    async def send(self, message: CustomerMessageRecord, event_id: str) -> None: ...


class SlackPort(Protocol):
    async def perform(self, kind: EventKind, call: ShopRequestCall, now: datetime) -> None: ...


class PartnerPort(Protocol):
    async def deliver(self, event: OutboxEvent, now: datetime) -> None: ...


class ReceiptsPort(Protocol):
    async def send_receipt(self, record: ClosingReceiptRecord, event_id: str) -> None: ...


class CapturePort(Protocol):  # app/services/payments/shipment_capture.py
    async def capture(
        self, record: ShipmentCaptureRecord, event_id: str, now: datetime
    ) -> None: ...


@dataclass(frozen=True)
class Senders:
    """The configured systems; a system left out keeps its events pending until it is set up."""

    onec: OneCPort | None = None
    retailcrm: RetailCrmPort | None = None
    notify: NotifyPort | None = None
    slack: SlackPort | None = None
    partner: PartnerPort | None = None
    receipts: ReceiptsPort | None = None
    captures: CapturePort | None = None  # two-stage payments taken at shipment (RECEIPTS)

    def configured(self, target: Target) -> bool:
        senders = {
            Target.ONEC: self.onec,
            Target.RETAILCRM: self.retailcrm,
            Target.NOTIFY: self.notify,
            Target.SLACK: self.slack,
            Target.PARTNER: self.partner,
            Target.RECEIPTS: self.receipts,
        }
        return senders[target] is not None


Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Outcome:
    delivered: int
    retry_at: datetime | None = None  # the system failed in a way worth retrying: back off


async def deliver_aggregate(
    *,
    target: Target,
    aggregate: str,
    senders: Senders,
    policy: RetryPolicy,
    clock: Clock,
    budget_seconds: float | None = None,
) -> Outcome:
    """Send this aggregate's due events oldest first; stop at the first that cannot go now.

    A dead letter blocks the events after it (an order's `paid` must not reach a system that
    never accepted the order); replaying it lets them follow. With `budget_seconds`, no event
    is started once that much wall time has gone: a paced backlog (a busy shop's Slack
    channel, 1 call a second) must not outlive the job's timeout, which would cancel a call
    Slack may already have taken and send it twice; the sweep wakes the rest a second later.
    """
    if not senders.configured(target):
        return Outcome(0)
    delivered, started = 0, time.monotonic()
    while (event := await _head(target, aggregate)) is not None:
        if budget_seconds is not None and time.monotonic() - started >= budget_seconds:
            break
        now = clock()
        if event.state is not EventState.PENDING or event.next_attempt_at > now:
            break
        sent, retry_at = await _attempt(event, senders, policy, now)
        if retry_at is not None:
            return Outcome(delivered, retry_at)
        if not sent:
            break  # parked as a dead letter
        delivered += 1
    return Outcome(delivered)


async def _head(target: Target, aggregate: str) -> OutboxEvent | None:
    # A Slack channel's calls are about separate requests: a parked one holds up no other.
    holding = (
        [EventState.PENDING] if target is Target.SLACK else [EventState.PENDING, EventState.DEAD]
    )
    return (
        await OutboxEvent.filter(target=target, aggregate=aggregate, state__in=holding)
        .order_by("id")
        .first()
    )


async def _attempt(
    event: OutboxEvent, senders: Senders, policy: RetryPolicy, now: datetime
) -> tuple[bool, datetime | None]:
    """Send one event: (delivered, when to try again if the system asked us to wait)."""
    attempts = event.attempts + 1
    try:
        await _send(event, senders, now)
    except WaitingForEvent as waiting:
        await _wait(event, waiting, now)
        return False, None
    except RetryableError as error:
        delay = policy.next_delay(attempts, error.retry_after)
        if delay is None:
            await _park(event, attempts, f"gave up after {attempts} attempts: {error}", None, "")
            return False, None
        log.warning(
            "outbox.retry_later",
            event_id=event.event_id,
            target=event.target.value,
            kind=event.kind.value,
            aggregate=event.aggregate,
            attempts=attempts,
            retry_in=round(delay.total_seconds(), 1),
            error=str(error),
        )
        await OutboxEvent.filter(id=event.id, state=EventState.PENDING).update(
            attempts=attempts, next_attempt_at=now + delay, last_error=str(error)
        )
        return False, now + delay
    except RejectedError as error:
        await _park(event, attempts, str(error), error.status, error.body)
        return False, None
    kept = kept_after_delivery(event.kind, event.payload)
    await OutboxEvent.filter(id=event.id, state=EventState.PENDING).update(
        state=EventState.DELIVERED,
        attempts=attempts,
        delivered_at=now,
        last_error="",
        **({} if kept is None else {"payload": kept}),
    )
    await identity_delivery.release_waiting([event], now)
    if event.kind in FISCAL_KINDS:
        await _forget_erased_buyer(event.id)
    return True, None


async def _forget_erased_buyer(event_id: int) -> None:
    """A receipt's buyer erased while it was being sent: the erasure marked the row after we
    read it (its update went first, so ours above waited for it); read again, drop the contact."""
    row = await OutboxEvent.get(id=event_id)
    kept = fiscal_kept(row.payload)
    if kept is not None and kept != row.payload:
        await OutboxEvent.filter(id=event_id).update(payload=kept)


async def _wait(event: OutboxEvent, waiting: WaitingForEvent, now: datetime) -> None:
    """Not an attempt (no count, no dead letter): look again later, or when released."""
    log.info("outbox.waiting", event_id=event.event_id, aggregate=event.aggregate, why=str(waiting))
    # conditional on PENDING: a replay or a parking meanwhile is not undone
    await OutboxEvent.filter(id=event.id, state=EventState.PENDING).update(
        next_attempt_at=now + timedelta(seconds=waiting.wait_seconds), last_error=str(waiting)
    )


async def _park(
    event: OutboxEvent, attempts: int, error: str, status: int | None, body: str
) -> None:
    log.warning(
        "outbox.dead_letter",
        event_id=event.event_id,
        target=event.target.value,
        kind=event.kind.value,
        aggregate=event.aggregate,
        error=error,
        status=status,
    )
    await OutboxEvent.filter(id=event.id, state=EventState.PENDING).update(
        state=EventState.DEAD,
        attempts=attempts,
        last_error=error,
        response_status=status,
        response_body=body[:10000],
    )


async def _send(event: OutboxEvent, senders: Senders, now: datetime) -> None:
    if event.target is Target.ONEC:
        assert senders.onec is not None
        await _to_onec(senders.onec, event.kind, event.payload, event.event_id, now)
    elif event.target is Target.NOTIFY:
        assert senders.notify is not None
        await senders.notify.send(message_from_json(event.payload), event.event_id)
    elif event.target is Target.SLACK:
        assert senders.slack is not None
        await senders.slack.perform(event.kind, shop_request_call_from_json(event.payload), now)
    elif event.target is Target.PARTNER:
        assert senders.partner is not None
        await senders.partner.deliver(event, now)
    elif event.target is Target.RECEIPTS and event.kind is EventKind.SHIPMENT_CAPTURE:
        if senders.captures is None:
            raise RetryableError("captures at shipment are not set up here")
        capture = shipment_capture_from_json(event.payload)
        await senders.captures.capture(capture, event.event_id, now)
    elif event.target is Target.RECEIPTS:
        assert senders.receipts is not None
        receipt = closing_receipt_from_json(event.payload)
        await senders.receipts.send_receipt(receipt, event.event_id)
    elif event.kind is EventKind.SEGMENT_BATCH:  # records each member's outcome in the row
        await segment_delivery.deliver_batch(senders.retailcrm, event)
    else:
        assert senders.retailcrm is not None
        await _to_retailcrm(senders.retailcrm, event.kind, event.payload)


async def _to_onec(
    onec: OneCPort, kind: EventKind, payload: dict[str, Any], event_id: str, now: datetime
) -> None:
    if kind in identity_delivery.IDENTITY_KINDS:  # consents, erasure (issue 15)
        await identity_delivery.to_onec(onec, kind, payload, event_id)
        return
    if kind is EventKind.CUSTOMER_UPSERTED:
        await onec.put_customer(customer_from_json(payload), event_id)
    elif kind in (EventKind.ORDER_PLACED, EventKind.ORDER_CHANGED):
        order = order_from_json(payload)
        registration = await onec.put_order(order, event_id)
        # 1C's registration time makes the reconciliation of this order's reservations exact.
        await register_order(
            order_guid=order.guid,
            registered_at=registration.registered_at,
            onec_number=registration.number,
            now=now,
        )
    elif kind is EventKind.ORDER_STATUS_CHANGED:
        await onec.put_order_status(order_status_from_json(payload), event_id)
    else:
        await onec.put_payment(payment_from_json(payload), event_id)


async def _to_retailcrm(crm: RetailCrmPort, kind: EventKind, payload: dict[str, Any]) -> None:
    if kind in identity_delivery.IDENTITY_KINDS:  # consents, erasure, segment members
        await identity_delivery.to_retailcrm(crm, kind, payload)
        return
    if kind is EventKind.CUSTOMER_UPSERTED:
        await crm.upsert_customer(customer_from_json(payload))
    elif kind is EventKind.ORDER_PLACED:
        order = order_from_json(payload)
        await crm.upsert_customer(order.customer)  # RetailCRM refuses orders of unknown customers
        await crm.upsert_order(order)
    elif kind is EventKind.ORDER_CHANGED:
        await crm.upsert_order(order_from_json(payload))
    elif kind is EventKind.ORDER_STATUS_CHANGED:
        await crm.update_order_status(order_status_from_json(payload))
    else:
        await crm.upsert_payment(payment_from_json(payload))


async def due_aggregates(
    *, now: datetime, target: Target, limit: int = 500, where: Q | None = None
) -> list[str]:
    """Aggregates with an event due now for one system (each system is swept on its own, so a
    backlog of one never crowds the other out); `where` narrows them further."""
    query = OutboxEvent.filter(state=EventState.PENDING, next_attempt_at__lte=now, target=target)
    rows = (
        await (query.filter(where) if where is not None else query)
        .order_by("id")
        .limit(limit * 4)
        .values_list("aggregate", flat=True)
    )
    return list(dict.fromkeys(str(a) for a in rows))[:limit]


async def replay(*, event_ids: list[str] | None, now: datetime) -> int:
    """Send dead letters again (all of them when no ids are given); returns how many."""
    query = OutboxEvent.filter(state=EventState.DEAD)
    if event_ids is not None:
        query = query.filter(event_id__in=event_ids)
    return await query.update(
        state=EventState.PENDING,
        attempts=0,
        next_attempt_at=now,
        response_status=None,
        response_body="",
    )


async def counts() -> dict[tuple[str, str], int]:
    """Events per (system, state)."""
    rows = (
        await OutboxEvent.annotate(n=Count("id"))
        .group_by("target", "state")
        .values_list("target", "state", "n")
    )
    return {(str(target), str(state)): int(n) for target, state, n in rows}
