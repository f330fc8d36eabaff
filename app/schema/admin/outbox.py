"""Outbox administration: what 1C and RetailCRM have not heard, and replaying it (admin scope)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.domain.access import Scope
from app.domain.errors import DomainError
from app.domain.outbox import EventKind, EventState, Target
from app.models.outbox import OutboxEvent as OutboxEventRow
from app.schema.catalog.queries import query_error
from app.schema.catalog.types import PageInfo
from app.schema.context import Info
from app.schema.errors import UserError, payload, require_scope
from app.services.outbox import admin as outbox_admin

strawberry.enum(Target, name="OutboxTarget")
strawberry.enum(EventState, name="OutboxEventState")
strawberry.enum(EventKind, name="OutboxEventKind")


@strawberry.type
class OutboxEvent:
    id: strawberry.ID = strawberry.field(description="the event id, sent as X-Event-Id")
    target: Target
    kind: EventKind
    aggregate: str = strawberry.field(description="delivered in order per aggregate")
    state: EventState
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    response_status: int | None = strawberry.field(description="the system's HTTP status")
    response_body: str | None = strawberry.field(description="what the system answered")
    created_at: datetime
    delivered_at: datetime | None

    @classmethod
    def of(cls, row: OutboxEventRow) -> OutboxEvent:
        return cls(
            id=strawberry.ID(row.event_id),
            target=row.target,
            kind=row.kind,
            aggregate=row.aggregate,
            state=row.state,
            attempts=row.attempts,
            next_attempt_at=row.next_attempt_at,
            last_error=row.last_error or None,
            response_status=row.response_status,
            response_body=row.response_body or None,
            created_at=row.created_at,
            delivered_at=row.delivered_at,
        )


@strawberry.type
class OutboxEventConnection:
    nodes: list[OutboxEvent]
    page_info: PageInfo


@strawberry.type
class OutboxCount:
    target: Target
    state: EventState
    count: int


@strawberry.type
class ReplayOutboxPayload:
    replayed: int = strawberry.field(description="dead events made pending again")
    errors: list[UserError]

    @classmethod
    def refused(cls, errors: list[UserError]) -> ReplayOutboxPayload:
        return cls(replayed=0, errors=errors)


def _connection(page: outbox_admin.EventPage, after: str | None) -> OutboxEventConnection:
    info = PageInfo.of(page.cursors, has_next=page.has_next_page, has_previous=after is not None)
    return OutboxEventConnection(nodes=[OutboxEvent.of(e) for e in page.events], page_info=info)


@strawberry.type
class OutboxAdminQuery:
    @strawberry.field(
        description="outbox events newest first (admin); state null lists every state; first ≤ 200"
    )
    async def outbox_events(
        self,
        info: Info,
        state: EventState | None = EventState.DEAD,
        target: Target | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> OutboxEventConnection:
        await require_scope(info, Scope.ADMIN)
        try:
            page = await outbox_admin.list_events(
                state=state, target=target, first=first, after=after
            )
        except DomainError as error:
            raise query_error(error) from None
        return _connection(page, after)

    @strawberry.field(description="outbox events per system and state, zeros included (admin)")
    async def outbox_counts(self, info: Info) -> list[OutboxCount]:
        await require_scope(info, Scope.ADMIN)
        grid = await outbox_admin.count_grid()
        return [OutboxCount(target=t, state=s, count=n) for t, s, n in grid]


@strawberry.type
class OutboxAdminMutation:
    @strawberry.mutation(
        description="send dead letters again (admin): give eventIds, or all: true. Ids that are "
        "unknown or not dead are skipped and not counted; delivery follows within seconds"
    )
    async def replay_outbox(
        self, info: Info, event_ids: list[strawberry.ID] | None = None, all: bool = False
    ) -> ReplayOutboxPayload:
        await require_scope(info, Scope.ADMIN)
        ids = None if event_ids is None else [str(i) for i in event_ids]
        replaying = outbox_admin.replay_dead_letters(
            event_ids=ids, replay_all=all, now=info.context.now
        )
        return await payload(
            replaying,
            lambda n: ReplayOutboxPayload(replayed=n, errors=[]),
            lambda errors: ReplayOutboxPayload(replayed=0, errors=errors),
        )
