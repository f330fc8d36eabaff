"""Shop confirmations for ops: the requests shops were sent, each shop's answers over a period
(scope shops:read, or admin), and a shop's Slack settings (admin)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.domain.access import Scope
from app.domain.errors import DomainError
from app.domain.reservations import ShopConfirmation
from app.domain.shop_confirmation import DeclineReason, RequestState
from app.models.catalog import Warehouse as WarehouseRow
from app.models.shops import ShopRequest as ShopRequestRow
from app.models.shops import ShopRequestLine as ShopRequestLineRow
from app.schema.catalog.intake import keep_unset
from app.schema.catalog.queries import query_error
from app.schema.catalog.types import PageInfo, Warehouse
from app.schema.context import Info
from app.schema.errors import UserError, payload, require_scope
from app.services.shops import reporting
from app.services.shops.settings import set_shop_slack

strawberry.enum(RequestState, name="ShopRequestState")
strawberry.enum(DeclineReason, name="ShopDeclineReason")


@strawberry.type
class ShopRequestLine:
    sku: str
    product_name: str
    quantity: int
    state: ShopConfirmation = strawberry.field(description="REQUESTED until someone decides")
    decided_by: str | None = strawberry.field(description="the Slack name of who decided")
    decided_at: datetime | None = strawberry.field(description="a timeout: the deadline")
    reason: DeclineReason | None = strawberry.field(description="DECLINED: why")
    note: str | None = strawberry.field(description="why it moved on by itself")

    @classmethod
    def of(cls, row: ShopRequestLineRow) -> ShopRequestLine:
        return cls(
            sku=row.order_line.sku,
            product_name=row.order_line.product_name,
            quantity=row.quantity,
            state=row.state,
            decided_by=row.decided_by_name or row.decided_by,
            decided_at=row.decided_at,
            reason=row.reason,
            note=row.note or None,
        )


@strawberry.type
class ShopRequest:
    id: strawberry.ID
    order_number: str
    shop: Warehouse
    state: RequestState
    channel: str | None = strawberry.field(description="the Slack channel it went to")
    created_at: datetime
    posted_at: datetime | None = strawberry.field(description="Slack showed it: the clock ran")
    deadline: datetime | None
    closed_at: datetime | None
    lines: list[ShopRequestLine]

    @classmethod
    def of(cls, row: ShopRequestRow, lines: list[ShopRequestLineRow]) -> ShopRequest:
        return cls(
            id=strawberry.ID(str(row.id)),
            order_number=row.order.number,
            shop=Warehouse.of(row.warehouse),
            state=row.state,
            channel=row.channel,
            created_at=row.created_at,
            posted_at=row.posted_at,
            deadline=row.deadline,
            closed_at=row.closed_at,
            lines=[ShopRequestLine.of(line) for line in lines],
        )


@strawberry.type
class ShopRequestConnection:
    nodes: list[ShopRequest]
    page_info: PageInfo


@strawberry.type
class ShopDeclineCount:
    reason: DeclineReason
    count: int


@strawberry.type(
    description="lines = confirmed + declined + timedOut + notShown + withdrawn + waiting; the "
    "rates are over confirmed + declined + timedOut (null when that is 0)"
)
class ShopConfirmationStats:
    shop: Warehouse
    requests: int = strawberry.field(description="created in the period")
    lines: int = strawberry.field(description="lines those requests asked about")
    confirmed: int
    declined: int
    declined_by_reason: list[ShopDeclineCount] = strawberry.field(description="every reason")
    timed_out: int = strawberry.field(description="shown in Slack, nobody answered in time")
    not_shown: int = strawberry.field(description="moved on: Slack never showed the request")
    withdrawn: int = strawberry.field(description="the order was cancelled before an answer")
    waiting: int = strawberry.field(description="nobody has decided yet")
    median_answer_seconds: float | None = strawberry.field(
        description="from the post to a person's decision; null when nobody decided"
    )
    decline_rate: float | None = strawberry.field(description="0..1")
    timeout_rate: float | None = strawberry.field(description="0..1")
    open_now: int = strawberry.field(description="requests not closed now, whenever created")

    @classmethod
    def of(cls, row: reporting.ShopStats) -> ShopConfirmationStats:
        f = row.figures
        return cls(
            shop=Warehouse.of(row.shop),
            requests=f.requests,
            lines=f.lines,
            confirmed=f.confirmed,
            declined=f.declined_total,
            declined_by_reason=[ShopDeclineCount(reason=r, count=n) for r, n in f.declined],
            timed_out=f.timed_out,
            not_shown=f.not_shown,
            withdrawn=f.withdrawn,
            waiting=f.waiting,
            median_answer_seconds=f.median_answer_seconds,
            decline_rate=f.decline_rate,
            timeout_rate=f.timeout_rate,
            open_now=f.open_now,
        )


@strawberry.type
class ShopSlackSettings:
    shop: Warehouse
    channel: str | None = strawberry.field(description="null: its lines move on at once")
    on_duty: str | None = strawberry.field(description="mentioned in the reminder")

    @classmethod
    def of(cls, row: WarehouseRow) -> ShopSlackSettings:
        return cls(shop=Warehouse.of(row), channel=row.slack_channel, on_duty=row.slack_on_duty)


@strawberry.type
class SetShopSlackPayload:
    settings: ShopSlackSettings | None
    errors: list[UserError]

    @classmethod
    def refused(cls, errors: list[UserError]) -> SetShopSlackPayload:
        return cls(settings=None, errors=errors)


def _connection(page: reporting.RequestPage, after: str | None) -> ShopRequestConnection:
    info = PageInfo.of(page.cursors, has_next=page.has_next_page, has_previous=after is not None)
    nodes = [ShopRequest.of(r, page.lines[r.id]) for r in page.requests]
    return ShopRequestConnection(nodes=nodes, page_info=info)


@strawberry.type
class ShopAdminQuery:
    @strawberry.field(
        description="shop confirmation requests newest first (shops:read); warehouse is a "
        "warehouse id, state null lists every state, since bounds createdAt; first ≤ 200"
    )
    async def shop_requests(
        self,
        info: Info,
        warehouse: strawberry.ID | None = None,
        state: RequestState | None = None,
        since: datetime | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> ShopRequestConnection:
        await require_scope(info, Scope.SHOPS_READ)
        try:
            page = await reporting.list_requests(
                warehouse=warehouse, state=state, since=since, first=first, after=after
            )
        except DomainError as error:
            raise query_error(error) from None
        return _connection(page, after)

    @strawberry.field(
        description="each shop's answers to the requests created in [since, until) (shops:read);"
        " until defaults to now; every shop is listed, in allocation order"
    )
    async def shop_confirmation_stats(
        self,
        info: Info,
        since: datetime,
        until: datetime | None = None,
        warehouse: strawberry.ID | None = None,
    ) -> list[ShopConfirmationStats]:
        await require_scope(info, Scope.SHOPS_READ)
        end = until or info.context.now
        try:
            stats = await reporting.shop_stats(since=since, until=end, warehouse=warehouse)
        except DomainError as error:
            raise query_error(error) from None
        return [ShopConfirmationStats.of(row) for row in stats]


@strawberry.type
class ShopAdminMutation:
    @strawberry.mutation(
        description="set a shop's Slack channel (#name or a channel id) and on-duty mention "
        "(admin): an omitted one stays, null or empty clears it. The next requests use them"
    )
    async def set_shop_slack(
        self,
        info: Info,
        warehouse: strawberry.ID,
        channel: str | None = strawberry.UNSET,
        on_duty: str | None = strawberry.UNSET,
    ) -> SetShopSlackPayload:
        await require_scope(info, Scope.ADMIN)
        setting = set_shop_slack(
            warehouse=warehouse, channel=keep_unset(channel), on_duty=keep_unset(on_duty)
        )
        return await payload(
            setting,
            lambda row: SetShopSlackPayload(settings=ShopSlackSettings.of(row), errors=[]),
            SetShopSlackPayload.refused,
        )
