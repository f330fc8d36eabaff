"""Instashop administration (admin scope): every look with its slides, links and suggestions;
linking products, hiding, pinning, accepting suggestions, and "sync now"."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import datetime

import strawberry

from app.domain.access import Scope
from app.domain.errors import DomainError
from app.domain.instashop import LookState, SlideKind, SuggestionSource, SuggestionState
from app.models.instashop import InstagramAccount
from app.models.instashop import Look as LookRow
from app.models.instashop import LookProduct as LinkRow
from app.models.instashop import LookSlide as SlideRow
from app.models.instashop import LookSuggestion as SuggestionRow
from app.schema.catalog.queries import query_error
from app.schema.catalog.types import PageInfo, Product
from app.schema.context import Info
from app.schema.errors import UserError, payload, require_scope
from app.services.instashop import admin
from app.services.instashop import listing as admin_listing
from app.services.jobs import enqueue_quietly
from app.workers.instashop import SYNC_NOW_JOB_ID

strawberry.enum(LookState, name="LookState")
strawberry.enum(SlideKind, name="LookSlideFileKind")
strawberry.enum(SuggestionSource, name="LookSuggestionSource")
strawberry.enum(SuggestionState, name="LookSuggestionState")


@strawberry.type
class AdminLookLink:
    colour: str | None
    x: float | None
    y: float | None
    row: strawberry.Private[LinkRow]

    @strawberry.field
    def product(self) -> Product:
        return Product.of(self.row.product)


@strawberry.type
class AdminLookSlide:
    id: strawberry.ID = strawberry.field(description="the slideId of the link mutations")
    media_id: str
    position: int
    kind: SlideKind
    ready: bool = strawberry.field(description="every file is stored: the look may be shown")
    attempts: int = strawberry.field(description="failed downloads so far")
    last_error: str
    links: list[AdminLookLink]


@strawberry.type
class AdminLookSuggestion:
    id: strawberry.ID
    colour: str | None
    source: SuggestionSource
    token: str = strawberry.field(description="what the caption said")
    state: SuggestionState
    row: strawberry.Private[SuggestionRow]

    @strawberry.field
    def product(self) -> Product:
        return Product.of(self.row.product)


@strawberry.type
class AdminLook:
    id: strawberry.ID
    caption: str
    permalink: str
    posted_at: datetime
    state: LookState
    pinned: bool
    position: int
    row: strawberry.Private[LookRow]

    @strawberry.field
    async def slides(self) -> list[AdminLookSlide]:
        slides = await admin_listing.slides_of(self.row.id)
        return [_slide(s, links) for s, links in slides]

    @strawberry.field
    async def suggestions(self) -> list[AdminLookSuggestion]:
        rows = await admin_listing.suggestions_of(self.row.id)
        return [
            AdminLookSuggestion(
                id=strawberry.ID(str(r.id)),
                colour=r.colour,
                source=r.source,
                token=r.token,
                state=r.state,
                row=r,
            )
            for r in rows
        ]

    @classmethod
    def of(cls, row: LookRow) -> AdminLook:
        return cls(
            id=strawberry.ID(row.media_id),
            caption=row.caption,
            permalink=row.permalink,
            posted_at=row.posted_at,
            state=row.state,
            pinned=row.pinned,
            position=row.position,
            row=row,
        )


def _slide(row: SlideRow, links: list[LinkRow]) -> AdminLookSlide:
    return AdminLookSlide(
        id=strawberry.ID(str(row.id)),
        media_id=row.media_id,
        position=row.position,
        kind=row.kind,
        ready=row.ready,
        attempts=row.attempts,
        last_error=row.last_error,
        links=[AdminLookLink(colour=k.colour, x=k.x, y=k.y, row=k) for k in links],
    )


@strawberry.type
class AdminLookConnection:
    nodes: list[AdminLook]
    page_info: PageInfo


@strawberry.type
class InstashopStatus:
    configured: bool
    last_sync_at: datetime | None
    last_error: str
    token_expires_at: datetime | None
    token_expired: bool
    paused_until: datetime | None


@strawberry.type
class LookAdminPayload:
    look: AdminLook | None
    errors: list[UserError]

    @classmethod
    def refused(cls, errors: list[UserError]) -> LookAdminPayload:
        return cls(look=None, errors=errors)


@strawberry.type
class LooksAdminPayload:
    looks: list[AdminLook]
    errors: list[UserError]

    @classmethod
    def refused(cls, errors: list[UserError]) -> LooksAdminPayload:
        return cls(looks=[], errors=errors)


@strawberry.type
class SyncNowPayload:
    queued: bool


async def _look_payload(work: Awaitable[LookRow]) -> LookAdminPayload:
    return await payload(
        work,
        lambda row: LookAdminPayload(look=AdminLook.of(row), errors=[]),
        LookAdminPayload.refused,
    )


async def _of_link(work: Awaitable[LinkRow]) -> LookRow:
    link = await work
    return await admin_listing.look_of_slide(link.slide_id)


def _id(value: strawberry.ID) -> int:
    text = str(value)
    return int(text) if text.isascii() and text.isdecimal() and len(text) < 10 else 0


@strawberry.type
class LookAdminQuery:
    @strawberry.field(description="every look, newest first, hidden ones too (admin); first ≤ 100")
    async def admin_looks(
        self, info: Info, state: LookState | None = None, first: int = 50, after: str | None = None
    ) -> AdminLookConnection:
        await require_scope(info, Scope.ADMIN)
        try:
            page = await admin_listing.list_all(state=state, first=first, after=after)
        except DomainError as error:
            raise query_error(error) from None
        info_ = PageInfo.of(
            page.cursors, has_next=page.has_next_page, has_previous=after is not None
        )
        return AdminLookConnection(nodes=[AdminLook.of(r) for r in page.looks], page_info=info_)

    @strawberry.field(description="the Instagram sync: last run, its error, the token (admin)")
    async def instashop_status(self, info: Info) -> InstashopStatus:
        await require_scope(info, Scope.ADMIN)
        account = await InstagramAccount.first()
        return InstashopStatus(
            configured=bool(info.context.settings.instagram_access_token),
            last_sync_at=account.last_sync_at if account else None,
            last_error=account.last_error if account else "",
            token_expires_at=account.token_expires_at if account else None,
            token_expired=account.token_expired if account else False,
            paused_until=account.paused_until if account else None,
        )


@strawberry.type
class LookAdminMutation:
    @strawberry.mutation(description="read Instagram now instead of at the next scheduled sync")
    async def sync_instashop_now(self, info: Info) -> SyncNowPayload:
        await require_scope(info, Scope.ADMIN)
        await enqueue_quietly(info.context.jobs, "instashop_sync", job_id=SYNC_NOW_JOB_ID)
        return SyncNowPayload(queued=True)

    @strawberry.mutation(description="show a product on a slide (its colour, a hotspot 0..1)")
    async def link_look_product(
        self,
        info: Info,
        slide_id: strawberry.ID,
        product_id: strawberry.ID,
        colour: str | None = None,
        x: float | None = None,
        y: float | None = None,
    ) -> LookAdminPayload:
        await require_scope(info, Scope.ADMIN)
        link = admin.LinkInput(
            slide_id=_id(slide_id), product_guid=str(product_id), colour=colour, x=x, y=y
        )
        return await _look_payload(_of_link(admin.link_product(link=link)))

    @strawberry.mutation(description="take a product off a slide")
    async def unlink_look_product(
        self, info: Info, slide_id: strawberry.ID, product_id: strawberry.ID
    ) -> LookAdminPayload:
        await require_scope(info, Scope.ADMIN)
        work = admin.unlink_product(slide_id=_id(slide_id), product_guid=str(product_id))
        return await _look_payload(work)

    @strawberry.mutation(description="hide a look from the site, or show it again")
    async def set_look_hidden(
        self, info: Info, look_id: strawberry.ID, hidden: bool
    ) -> LookAdminPayload:
        await require_scope(info, Scope.ADMIN)
        return await _look_payload(
            admin.set_hidden(look_id=str(look_id), hidden=hidden, now=info.context.now)
        )

    @strawberry.mutation(description="pin exactly these looks, in this order (others unpinned)")
    async def order_pinned_looks(
        self, info: Info, look_ids: list[strawberry.ID]
    ) -> LooksAdminPayload:
        await require_scope(info, Scope.ADMIN)
        return await payload(
            admin.order_pinned(look_ids=[str(i) for i in look_ids]),
            lambda rows: LooksAdminPayload(looks=[AdminLook.of(r) for r in rows], errors=[]),
            LooksAdminPayload.refused,
        )

    @strawberry.mutation(description="link a suggested product, to a slide (default: the first)")
    async def accept_look_suggestion(
        self, info: Info, suggestion_id: strawberry.ID, slide_id: strawberry.ID | None = None
    ) -> LookAdminPayload:
        await require_scope(info, Scope.ADMIN)
        slide = None if slide_id is None else _id(slide_id)
        work = admin.accept_suggestion(suggestion_id=_id(suggestion_id), slide_id=slide)
        return await _look_payload(_of_link(work))

    @strawberry.mutation(description="the caption did not mean this product: stop suggesting it")
    async def dismiss_look_suggestion(
        self, info: Info, suggestion_id: strawberry.ID
    ) -> LookAdminPayload:
        await require_scope(info, Scope.ADMIN)
        work = admin.dismiss_suggestion(suggestion_id=_id(suggestion_id))
        return await _look_payload(admin_listing.look_of(work))
