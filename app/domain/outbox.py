"""Outbox rules: which systems hear of what, when to try again, when to give up."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any


class Target(StrEnum):
    ONEC = "onec"
    RETAILCRM = "retailcrm"
    NOTIFY = "notify"  # messages to the customer (e-mail, SMS); logged until a provider is set up
    SLACK = "slack"  # shop confirmation requests in the shops' channels
    PARTNER = "partner"  # partners' webhook subscriptions (app/services/partners)
    RECEIPTS = "receipts"  # 54-FZ receipts registered through the payment provider (YooKassa)


class EventKind(StrEnum):
    CUSTOMER_UPSERTED = "customer.upserted"
    ORDER_PLACED = "order.placed"
    ORDER_STATUS_CHANGED = "order.status_changed"
    PAYMENT_STATUS_CHANGED = "payment.status_changed"
    CUSTOMER_MESSAGE = "customer.message"
    ORDER_CHANGED = "order.changed"  # its lines moved between warehouses (a shop declined)
    SHOP_REQUEST_POST = "shop_request.post"  # chat.postMessage of a request
    SHOP_REQUEST_UPDATE = "shop_request.update"  # chat.update after decisions
    SHOP_REQUEST_REMIND = "shop_request.remind"  # a thread reply mentioning the on-duty group
    SHOP_REQUEST_NOTE = "shop_request.note"  # chat.postEphemeral to one clicker
    # Partners' webhooks (order.placed and order.status_changed above serve them as well).
    ORDER_PAID = "order.paid"
    ORDER_CANCELLED = "order.cancelled"
    STOCK_CHANGED = "variant.stock_changed"  # batched: one per variant and window
    PRODUCT_CREATED = "product.created"  # appeared in the catalog (created, released, shown)
    PRODUCT_UPDATED = "product.updated"
    PRODUCT_WITHDRAWN = "product.withdrawn"  # no longer shown
    COLLECTION_RELEASED = "collection.released"
    LOOK_PUBLISHED = "look.published"  # an Instashop look first shown (or shown again)
    CLOSING_RECEIPT = "receipt.closing"  # a prepaid order handed over (app/domain/closing_receipt)
    SHIPMENT_CAPTURE = "payment.capture_at_shipment"  # a two-stage payment taken as it ships
    # identity (app/domain/consents.py): one aggregate per profile (`privacy:<id>`), or per
    # batch of a segment export (`segment:<guid>:batch:<n>`); delivered one event at a time
    CONSENT_CHANGED = "customer.consent_changed"
    CUSTOMER_ERASED = "customer.erased"
    SEGMENT_EXPORTED = "segment.member_exported"  # before batches (still delivered)
    SEGMENT_BATCH = "segment.batch_exported"  # up to 50 members (app/domain/segment_export.py)


class WaitingForEvent(Exception):
    """The event must follow another one, of another aggregate, that is still on its way.

    It is not an attempt: the event stays pending, uncharged (so it never becomes a dead
    letter for that reason), and looks again after `wait_seconds` or as soon as the other is
    delivered (whoever delivers it releases the events waiting for it)."""

    def __init__(self, message: str, wait_seconds: float) -> None:
        super().__init__(message)
        self.wait_seconds = wait_seconds


class EventState(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"  # parked: retrying cannot fix it (or the retries ran out); replayable


@dataclass(frozen=True)
class RetryPolicy:
    base: timedelta = timedelta(seconds=1)
    cap: timedelta = timedelta(minutes=10)
    max_attempts: int = 12  # 13.5 to 27 minutes of trying with the defaults (equal jitter)

    def next_delay(
        self, attempts: int, retry_after: float | None, rng: random.Random | None = None
    ) -> timedelta | None:
        """Delay before attempt `attempts + 1`, or None when it is time to give up.

        Exponential with "equal jitter": half the step fixed, half random, so retries after an
        outage spread out but never come back at once. Never sooner than the system's own
        Retry-After.
        """
        if attempts >= self.max_attempts:
            return None
        ceiling: timedelta = min(self.cap, self.base * (2 ** min(attempts - 1, 40)))
        delay: timedelta = ceiling / 2 + ceiling / 2 * (rng or random).random()
        if retry_after is not None:
            delay = max(delay, timedelta(seconds=retry_after))
        return delay


SLACK_CALLS = (
    EventKind.SHOP_REQUEST_POST,
    EventKind.SHOP_REQUEST_UPDATE,
    EventKind.SHOP_REQUEST_REMIND,
    EventKind.SHOP_REQUEST_NOTE,
)


def slack_aggregate(channel: str) -> str:
    """Slack calls go in order per channel, one channel's queue at a time (≤ 1 message/s)."""
    return f"slack:{channel}"


def aggregate_key(
    kind: EventKind,
    customer_guid: str | None,
    order_guid: str | None,
    message_guid: str | None = None,
) -> str:
    """Events of one aggregate are delivered in order: a customer's, or an order's (its payments
    included, so an order's `paid` never overtakes its creation). A message to a customer is an
    aggregate of its own: one undeliverable message never holds up the next."""
    if kind is EventKind.CUSTOMER_UPSERTED:
        return f"customer:{customer_guid}"
    if kind is EventKind.CUSTOMER_MESSAGE:
        return f"message:{message_guid}"
    return f"order:{order_guid}"


SENT = "[sent]"


FISCAL_KINDS = frozenset({EventKind.CLOSING_RECEIPT, EventKind.SHIPMENT_CAPTURE})
FISCAL_CONTACT = ("email", "phone")  # where a receipt's buyer is (54-FZ: it goes to them)


def fiscal_kept(payload: dict[str, Any]) -> dict[str, Any] | None:
    """A receipt (or a capture with one) of a buyer erased before it was registered kept
    their contact only for the provider: once delivered, our copy keeps no contact."""
    if payload.get("erased") is not True:
        return None
    return {**payload, **dict.fromkeys(FISCAL_CONTACT)}


def kept_after_delivery(kind: EventKind, payload: dict[str, Any]) -> dict[str, Any] | None:
    """What a delivered event keeps of its payload, or None to keep it whole. A message to a
    customer carries a live secret (a sign-up code, a reset link): once sent, the row keeps who
    got which template, not the secret."""
    if kind in FISCAL_KINDS:
        return fiscal_kept(payload)
    if kind is not EventKind.CUSTOMER_MESSAGE:
        return None
    params = payload.get("params", {})
    return {**payload, "params": dict.fromkeys(params, SENT)}
