"""Webhook subscriptions for partners (webhooks:manage: a partner's token sees its own, an admin
token every partner's), and partner apps and their tokens for the admin."""

from __future__ import annotations

from dataclasses import dataclass

import strawberry

from app.domain.access import Scope
from app.domain.errors import DomainError, ErrorCode
from app.domain.outbox import EventState
from app.models.partners import WebhookSubscription as SubscriptionRow
from app.schema.catalog.queries import query_error
from app.schema.catalog.types import PageInfo
from app.schema.context import Info
from app.schema.errors import AccessCode, access_error, payload, require_scope
from app.schema.partners.types import (
    DeleteWebhookSubscriptionPayload,
    IssuePartnerTokenPayload,
    PartnerApp,
    PartnerAppPayload,
    ReplayWebhookDeliveriesPayload,
    WebhookDelivery,
    WebhookDeliveryConnection,
    WebhookSubscription,
    WebhookSubscriptionChanges,
    WebhookSubscriptionInput,
    WebhookSubscriptionPayload,
)
from app.services.outbox.admin import EventPage
from app.services.partners import apps, deliveries, subscriptions
from app.services.partners.subscriptions import Created, UrlRules


@dataclass(frozen=True)
class Caller:
    partner_id: int | None  # None: the brand's admin, who sees every partner's
    scopes: frozenset[Scope]


async def webhook_caller(info: Info) -> Caller:
    """Who manages subscriptions: a partner's token (its own) or an admin token (all)."""
    await require_scope(info, Scope.WEBHOOKS_MANAGE)
    principal = await info.context.integration()
    assert principal is not None  # require_scope refused anonymous callers
    partner_id = await apps.partner_id_of(principal)
    if partner_id is None and not principal.may(Scope.ADMIN):
        raise access_error(AccessCode.FORBIDDEN, "this token acts for no partner app")
    return Caller(partner_id, principal.scopes)


def url_rules(info: Info) -> UrlRules:
    settings = info.context.settings
    return UrlRules(
        require_https=settings.webhook_https_required,
        allow_loopback=settings.webhook_loopback_allowed,
    )


def _owner(caller: Caller, given: strawberry.ID | None) -> int:
    """Whose subscription is created: the partner's own; the admin names one."""
    if caller.partner_id is not None:
        if given is not None and str(given) != str(caller.partner_id):
            raise DomainError(ErrorCode.NOT_FOUND, "no such partner", ("input", "partnerId"))
        return caller.partner_id
    if given is None or not str(given).isdecimal() or len(str(given)) > 9:
        raise DomainError(ErrorCode.INVALID, "name the partner (admin)", ("input", "partnerId"))
    return int(str(given))


def _subscribed(created: Created) -> WebhookSubscriptionPayload:
    return WebhookSubscriptionPayload(
        subscription=WebhookSubscription.of(created.subscription), secret=created.secret, errors=[]
    )


def _changed(row: SubscriptionRow) -> WebhookSubscriptionPayload:
    return WebhookSubscriptionPayload(
        subscription=WebhookSubscription.of(row), secret=None, errors=[]
    )


async def _create(info: Info, caller: Caller, input: WebhookSubscriptionInput) -> Created:
    return await subscriptions.create_subscription(
        partner_id=_owner(caller, input.partner_id),
        url=input.url,
        events=[e.kind for e in input.events],
        collection_guid=None if input.collection_id is None else str(input.collection_id),
        scopes=caller.scopes,
        rules=url_rules(info),
        key=info.context.settings.resolved_partner_secret_key,
        now=info.context.now,
    )


@strawberry.type
class PartnerQuery:
    @strawberry.field(description="your webhook subscriptions (an admin token: everyone's)")
    async def webhook_subscriptions(self, info: Info) -> list[WebhookSubscription]:
        caller = await webhook_caller(info)
        rows = await subscriptions.list_subscriptions(partner_id=caller.partner_id)
        return [WebhookSubscription.of(row) for row in rows]

    @strawberry.field(
        description="what a subscription was sent, newest first; state DEAD lists its dead "
        "letters; first ≤ 200"
    )
    async def webhook_deliveries(
        self,
        info: Info,
        subscription_id: strawberry.ID,
        state: EventState | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> WebhookDeliveryConnection:
        caller = await webhook_caller(info)
        try:
            page = await deliveries.list_deliveries(
                partner_id=caller.partner_id,
                subscription_id=str(subscription_id),
                state=state,
                first=first,
                after=after,
            )
        except DomainError as error:
            raise query_error(error) from None
        return _deliveries(page, int(str(subscription_id)), after)

    @strawberry.field(description="every partner app (admin)")
    async def partner_apps(self, info: Info) -> list[PartnerApp]:
        await require_scope(info, Scope.ADMIN)
        return [PartnerApp.of(row) for row in await apps.list_partners()]


def _deliveries(
    page: EventPage, subscription_id: int, after: str | None
) -> WebhookDeliveryConnection:
    info = PageInfo.of(page.cursors, has_next=page.has_next_page, has_previous=after is not None)
    nodes = [WebhookDelivery.of(row, subscription_id) for row in page.events]
    return WebhookDeliveryConnection(nodes=nodes, page_info=info)


@strawberry.type
class PartnerMutation:
    @strawberry.mutation(
        description="subscribe to events at a URL; the answer holds the signing secret, once"
    )
    async def create_webhook_subscription(
        self, info: Info, input: WebhookSubscriptionInput
    ) -> WebhookSubscriptionPayload:
        caller = await webhook_caller(info)
        return await payload(
            _create(info, caller, input), _subscribed, WebhookSubscriptionPayload.refused
        )

    @strawberry.mutation(description="change a subscription's URL, events or collection")
    async def update_webhook_subscription(
        self, info: Info, id: strawberry.ID, changes: WebhookSubscriptionChanges
    ) -> WebhookSubscriptionPayload:
        caller = await webhook_caller(info)
        work = subscriptions.update_subscription(
            partner_id=caller.partner_id,
            subscription_id=str(id),
            url=changes.url,
            events=None if changes.events is None else [e.kind for e in changes.events],
            collection_guid=None if changes.collection_id is None else str(changes.collection_id),
            clear_collection=changes.clear_collection,
            scopes=caller.scopes,
            rules=url_rules(info),
        )
        return await payload(work, _changed, WebhookSubscriptionPayload.refused)

    @strawberry.mutation(description="stop sending; events are kept until it is resumed")
    async def pause_webhook_subscription(
        self, info: Info, id: strawberry.ID
    ) -> WebhookSubscriptionPayload:
        caller = await webhook_caller(info)
        work = subscriptions.pause(
            partner_id=caller.partner_id, subscription_id=str(id), now=info.context.now
        )
        return await payload(work, _changed, WebhookSubscriptionPayload.refused)

    @strawberry.mutation(description="send again: what waits goes at once (replay dead letters)")
    async def resume_webhook_subscription(
        self, info: Info, id: strawberry.ID
    ) -> WebhookSubscriptionPayload:
        caller = await webhook_caller(info)
        work = subscriptions.resume(
            partner_id=caller.partner_id, subscription_id=str(id), now=info.context.now
        )
        return await payload(work, _changed, WebhookSubscriptionPayload.refused)

    @strawberry.mutation(description="a new signing secret at once; the answer holds it, once")
    async def rotate_webhook_secret(
        self, info: Info, id: strawberry.ID
    ) -> WebhookSubscriptionPayload:
        caller = await webhook_caller(info)
        work = subscriptions.rotate_secret(
            partner_id=caller.partner_id,
            subscription_id=str(id),
            key=info.context.settings.resolved_partner_secret_key,
        )
        return await payload(work, _subscribed, WebhookSubscriptionPayload.refused)

    @strawberry.mutation(description="delete a subscription and what it had not received")
    async def delete_webhook_subscription(
        self, info: Info, id: strawberry.ID
    ) -> DeleteWebhookSubscriptionPayload:
        caller = await webhook_caller(info)
        work = subscriptions.delete_subscription(
            partner_id=caller.partner_id, subscription_id=str(id)
        )
        return await payload(
            work,
            lambda n: DeleteWebhookSubscriptionPayload(deleted_id=strawberry.ID(str(n)), errors=[]),
            lambda errors: DeleteWebhookSubscriptionPayload(deleted_id=None, errors=errors),
        )

    @strawberry.mutation(
        description="send a subscription's dead letters again: eventIds, or all: true"
    )
    async def replay_webhook_deliveries(
        self,
        info: Info,
        subscription_id: strawberry.ID,
        event_ids: list[strawberry.ID] | None = None,
        all: bool = False,
    ) -> ReplayWebhookDeliveriesPayload:
        caller = await webhook_caller(info)
        work = deliveries.replay_deliveries(
            partner_id=caller.partner_id,
            subscription_id=str(subscription_id),
            event_ids=None if event_ids is None else [str(i) for i in event_ids],
            replay_all=all,
            now=info.context.now,
        )
        return await payload(
            work,
            lambda n: ReplayWebhookDeliveriesPayload(replayed=n, errors=[]),
            lambda errors: ReplayWebhookDeliveriesPayload(replayed=0, errors=errors),
        )

    @strawberry.mutation(description="register a partner app (admin)")
    async def create_partner_app(
        self, info: Info, name: str, contact_email: str
    ) -> PartnerAppPayload:
        await require_scope(info, Scope.ADMIN)
        work = apps.create_partner(name=name, contact_email=contact_email, now=info.context.now)
        return await payload(
            work,
            lambda row: PartnerAppPayload(partner=PartnerApp.of(row), errors=[]),
            lambda errors: PartnerAppPayload(partner=None, errors=errors),
        )

    @strawberry.mutation(
        description="a token acting for a partner (admin): catalog:read, stock:read, "
        "orders:read, webhooks:manage; it is rate limited and shown once"
    )
    async def issue_partner_token(
        self,
        info: Info,
        partner_id: strawberry.ID,
        scopes: list[Scope],
        expires_in_days: int | None = None,
    ) -> IssuePartnerTokenPayload:
        await require_scope(info, Scope.ADMIN)
        work = apps.issue_partner_token(
            partner_id=_partner_number(partner_id),
            scopes=scopes,
            expires_in_days=expires_in_days,
            now=info.context.now,
        )
        return await payload(
            work,
            lambda raw: IssuePartnerTokenPayload(token=raw, errors=[]),
            lambda errors: IssuePartnerTokenPayload(token=None, errors=errors),
        )


def _partner_number(given: strawberry.ID) -> int:
    text = str(given)
    return int(text) if text.isascii() and text.isdecimal() and len(text) <= 9 else 0
