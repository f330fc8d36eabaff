"""What we tell 1C and RetailCRM: plain records built from our state, mapped per system.

These are the payloads of outbox events. Each integration's `mapping.py` turns them into its
wire format; nothing here knows any wire format.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from app.domain.orders import DeliveryKind, OrderStatus
from app.domain.payments import PaymentStatus


class MessageChannel(StrEnum):
    EMAIL = "email"
    SMS = "sms"


@dataclass(frozen=True)
class CustomerRecord:
    guid: str  # our customer GUID (1C Контрагент is matched/created by it)
    email: str | None
    phone: str | None  # E.164, e.g. +79161234567
    first_name: str = ""
    last_name: str = ""
    created_at: datetime | None = None


@dataclass(frozen=True)
class OrderLineRecord:
    variant_guid: str  # 1C ХарактеристикаНоменклатуры
    product_guid: str  # 1C Номенклатура
    sku: str
    name: str
    warehouse_guid: str  # 1C Склад the line is served from
    quantity: int
    unit_price_kopecks: int


@dataclass(frozen=True)
class DeliveryRecord:
    kind: DeliveryKind
    address: str = ""  # courier address as one line of text
    pickup_warehouse_guid: str | None = None
    cost_kopecks: int = 0


@dataclass(frozen=True)
class OrderRecord:
    guid: str  # our order GUID, the upsert key in 1C and the externalId in RetailCRM
    number: str  # our human number, e.g. "V-000123"
    created_at: datetime
    status: OrderStatus
    customer: CustomerRecord
    lines: list[OrderLineRecord]
    delivery: DeliveryRecord
    total_kopecks: int
    comment: str = ""


@dataclass(frozen=True)
class OrderStatusRecord:
    order_guid: str
    status: OrderStatus
    changed_at: datetime
    reason: str = ""


@dataclass(frozen=True)
class PaymentRecord:
    guid: str  # our payment GUID
    order_guid: str
    provider: str  # "dummy", "yookassa"
    provider_payment_id: str
    status: PaymentStatus
    amount_kopecks: int
    paid_at: datetime | None = None
    extra: dict[str, str] = field(default_factory=dict)
    refunded_kopecks: int = 0  # given back so far (partial refunds keep the status succeeded)


@dataclass(frozen=True)
class CustomerMessageRecord:
    """A message to a customer (sign-up code, password reset link, phone code)."""

    guid: str  # the message's own id: its aggregate, delivered once
    channel: MessageChannel
    to: str  # an e-mail address or an E.164 phone
    template: str  # e.g. "signup_code", "password_reset"
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ShopRequestCall:
    """A Slack call about one shop confirmation request. The message itself is built from the
    request's state when the call is made, so a late call never shows an old state."""

    request_id: int
    channel: str  # as configured (a name or an id) before posting; Slack's id after
    user: str | None = None  # for a note to one person
    text: str = ""  # the note
