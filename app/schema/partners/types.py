"""Partner apps, webhook subscriptions and deliveries as GraphQL types."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from app.domain.outbox import EventKind, EventState
from app.domain.webhooks import SubscriptionState, subscription_prefix
from app.models.outbox import OutboxEvent as OutboxEventRow
from app.models.partners import PartnerApp as PartnerAppRow
from app.models.partners import WebhookSubscription as SubscriptionRow
from app.schema.catalog.types import PageInfo
from app.schema.errors import UserError

strawberry.enum(SubscriptionState, name="WebhookSubscriptionState")


@strawberry.enum(description="what a partner may subscribe to (docs/partners.md)")
class WebhookEvent(Enum):
    ORDER_PLACED = "order.placed"
    ORDER_PAID = "order.paid"
    ORDER_STATUS_CHANGED = "order.status_changed"
    ORDER_CANCELLED = "order.cancelled"
    VARIANT_STOCK_CHANGED = "variant.stock_changed"
    PRODUCT_CREATED = "product.created"
    PRODUCT_UPDATED = "product.updated"
    PRODUCT_WITHDRAWN = "product.withdrawn"
    COLLECTION_RELEASED = "collection.released"

    @property
    def kind(self) -> EventKind:
        return EventKind(self.value)


@strawberry.type
class PartnerApp:
    id: strawberry.ID
    name: str
    contact_email: str = strawberry.field(description="told when a subscription is paused")
    created_at: datetime

    @classmethod
    def of(cls, row: PartnerAppRow) -> PartnerApp:
        return cls(
            id=strawberry.ID(str(row.id)),
            name=row.name,
            contact_email=row.contact_email,
            created_at=row.created_at,
        )


@strawberry.type
class WebhookSubscription:
    id: strawberry.ID
    partner_id: strawberry.ID
    url: str
    events: list[WebhookEvent]
    collection_id: strawberry.ID | None = strawberry.field(
        description="only events about this collection (its products, stock, orders, release)"
    )
    api_version: str = strawberry.field(description="the shape of `data` in its events")
    state: SubscriptionState = strawberry.field(
        description="PAUSED: nothing is sent (events are kept) until it is resumed"
    )
    failure_streak: int = strawberry.field(description="failed requests since the last success")
    failing_since: datetime | None
    next_probe_at: datetime | None = strawberry.field(
        description="a failing receiver is not tried again before this instant"
    )
    paused_at: datetime | None
    pause_reason: str | None
    created_at: datetime

    @classmethod
    def of(cls, row: SubscriptionRow) -> WebhookSubscription:
        return cls(
            id=strawberry.ID(str(row.id)),
            partner_id=strawberry.ID(str(row.partner_id)),
            url=row.url,
            events=[WebhookEvent(e) for e in row.events],
            collection_id=strawberry.ID(row.collection_guid) if row.collection_guid else None,
            api_version=row.api_version,
            state=row.state,
            failure_streak=row.failure_streak,
            failing_since=row.failing_since,
            next_probe_at=row.resting_until,
            paused_at=row.paused_at,
            pause_reason=row.pause_reason or None,
            created_at=row.created_at,
        )


@strawberry.type
class WebhookDelivery:
    id: strawberry.ID = strawberry.field(description="the event id (Vitrina-Event-Id)")
    event: WebhookEvent
    about: str = strawberry.field(description="e.g. order:<id>: delivered in order per thing")
    state: EventState
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    response_status: int | None = strawberry.field(description="the receiver's HTTP status")
    response_body: str | None = strawberry.field(description="what the receiver answered")
    created_at: datetime
    delivered_at: datetime | None

    @classmethod
    def of(cls, row: OutboxEventRow, subscription_id: int) -> WebhookDelivery:
        return cls(
            id=strawberry.ID(row.event_id),
            event=WebhookEvent(row.kind.value),
            about=row.aggregate.removeprefix(subscription_prefix(subscription_id)),
            state=row.state,
            attempts=row.attempts,
            next_attempt_at=row.next_attempt_at,
            last_error=row.last_error or None,
            response_status=row.response_status or None,
            response_body=row.response_body or None,
            created_at=row.created_at,
            delivered_at=row.delivered_at,
        )


@strawberry.type
class WebhookDeliveryConnection:
    nodes: list[WebhookDelivery]
    page_info: PageInfo


@strawberry.input
class WebhookSubscriptionInput:
    url: str = strawberry.field(description="https://…; never an address in our own network")
    events: list[WebhookEvent]
    collection_id: strawberry.ID | None = None
    partner_id: strawberry.ID | None = strawberry.field(
        default=None, description="admin only: whose subscription (a partner's token: its own)"
    )


@strawberry.input
class WebhookSubscriptionChanges:
    url: str | None = None
    events: list[WebhookEvent] | None = None
    collection_id: strawberry.ID | None = None
    clear_collection: bool = strawberry.field(default=False, description="hear every collection")


@strawberry.type
class WebhookSubscriptionPayload:
    subscription: WebhookSubscription | None
    secret: str | None = strawberry.field(
        description="the signing secret: shown only when created or rotated"
    )
    errors: list[UserError]

    @classmethod
    def refused(cls, errors: list[UserError]) -> WebhookSubscriptionPayload:
        return cls(subscription=None, secret=None, errors=errors)


@strawberry.type
class DeleteWebhookSubscriptionPayload:
    deleted_id: strawberry.ID | None
    errors: list[UserError]

    @classmethod
    def refused(cls, errors: list[UserError]) -> DeleteWebhookSubscriptionPayload:
        return cls(deleted_id=None, errors=errors)


@strawberry.type
class ReplayWebhookDeliveriesPayload:
    replayed: int = strawberry.field(description="dead letters made pending again")
    errors: list[UserError]

    @classmethod
    def refused(cls, errors: list[UserError]) -> ReplayWebhookDeliveriesPayload:
        return cls(replayed=0, errors=errors)


@strawberry.type
class PartnerAppPayload:
    partner: PartnerApp | None
    errors: list[UserError]

    @classmethod
    def refused(cls, errors: list[UserError]) -> PartnerAppPayload:
        return cls(partner=None, errors=errors)


@strawberry.type
class IssuePartnerTokenPayload:
    token: str | None = strawberry.field(description="shown once: only its hash is kept")
    errors: list[UserError]

    @classmethod
    def refused(cls, errors: list[UserError]) -> IssuePartnerTokenPayload:
        return cls(token=None, errors=errors)
