"""Customer 360 for the brand's staff (scope customers:read; every read logged) and the hands
on the identity graph and segment exports (customers:write)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.domain.access import Scope
from app.domain.consents import MarketingChannel
from app.domain.customer360 import CategoryFigures as CategoryRow
from app.domain.customer360 import ChannelFigures as ChannelRow
from app.domain.errors import DomainError, ErrorCode
from app.domain.identity import (
    Channel,
    CustomerSource,
    Identifier,
    LinkRemoval,
    LinkRule,
    SuggestionState,
)
from app.domain.segments import Bought, Lapsed, Rule, Segment, SpendBand
from app.models.identity import IdentityLink as LinkRow
from app.models.identity import IdentityRecord as RecordRow
from app.models.identity import IdentitySuggestion as SuggestionRow
from app.schema.accounts.identity import Consents
from app.schema.catalog.queries import query_error
from app.schema.context import Info
from app.schema.effects import side_effects
from app.schema.errors import UserError, payload, require_scope
from app.services.identity import customer360, segments, staff
from app.services.outbox.record import announce

strawberry.enum(CustomerSource, name="CustomerSource")
strawberry.enum(Identifier, name="IdentityKind")
strawberry.enum(LinkRule, name="IdentityLinkRule")
strawberry.enum(LinkRemoval, name="IdentityLinkRemoval")
strawberry.enum(SuggestionState, name="IdentitySuggestionState")


@strawberry.type(description="one customer record from one source, as it came")
class SourceRecord:
    id: strawberry.ID
    source: CustomerSource
    external_id: str
    name: str | None
    phone: str | None = strawberry.field(description="E.164")
    phone_raw: str | None = strawberry.field(description="as the source had it")
    phone_verified: bool
    email: str | None
    email_verified: bool
    loyalty_card: str | None
    onec_guid: str | None
    retailcrm_id: str | None
    erased_at: datetime | None

    @classmethod
    def of(cls, r: RecordRow) -> SourceRecord:
        return cls(
            id=strawberry.ID(str(r.id)),
            source=r.source,
            external_id=r.external_id,
            name=r.name,
            phone=r.phone,
            phone_raw=r.phone_raw,
            phone_verified=r.phone_verified,
            email=r.email,
            email_verified=r.email_verified,
            loyalty_card=r.loyalty_card,
            onec_guid=r.onec_guid,
            retailcrm_id=r.retailcrm_id,
            erased_at=r.erased_at,
        )


@strawberry.type(name="IdentityLink", description="two records are one person, and why")
class IdentityLinkType:
    id: strawberry.ID
    left: strawberry.ID = strawberry.field(description="a source record id")
    right: strawberry.ID
    rule: LinkRule
    value: str = strawberry.field(description="the identifier that matched")
    source: str
    actor: str
    created_at: datetime
    removed_at: datetime | None
    removed_by: str | None
    removed_reason: LinkRemoval | None

    @classmethod
    def of(cls, x: LinkRow) -> IdentityLinkType:
        return cls(
            id=strawberry.ID(str(x.id)),
            left=strawberry.ID(str(x.left_id)),
            right=strawberry.ID(str(x.right_id)),
            rule=x.rule,
            value=x.value,
            source=x.source,
            actor=x.actor,
            created_at=x.created_at,
            removed_at=x.removed_at,
            removed_by=x.removed_by,
            removed_reason=x.removed_reason,
        )


@strawberry.type
class ChannelFigures:
    channel: str
    orders: int
    spend_kopecks: int = strawberry.field(description="net of returns")
    returns: int
    first_purchase_at: datetime | None
    last_purchase_at: datetime | None

    @classmethod
    def of(cls, c: ChannelRow) -> ChannelFigures:
        return cls(
            channel=c.channel,
            orders=c.orders,
            spend_kopecks=c.spend_kopecks,
            returns=c.returns,
            first_purchase_at=c.first_at,
            last_purchase_at=c.last_at,
        )


@strawberry.type
class SizeCount:
    size: str
    units: int


@strawberry.type(description="a top-level category in one channel")
class CategoryFigures:
    category: str
    channel: str
    units: int
    first_purchase_at: datetime | None
    last_purchase_at: datetime | None
    sizes: list[SizeCount]

    @classmethod
    def of(cls, c: CategoryRow) -> CategoryFigures:
        sizes = [SizeCount(size=s, units=n) for s, n in sorted(c.sizes.items())]
        return cls(
            category=c.category,
            channel=c.channel,
            units=c.units,
            first_purchase_at=c.first_at,
            last_purchase_at=c.last_at,
            sizes=sizes,
        )


@strawberry.type
class CustomerProfile:
    id: strawberry.ID = strawberry.field(description="the profile: its oldest record's id")
    records: list[SourceRecord]
    links: list[IdentityLinkType] = strawberry.field(description="active and removed")
    channels: list[ChannelFigures]
    categories: list[CategoryFigures]
    spend_kopecks: int
    returns: int
    returned_kopecks: int
    consents: Consents

    @classmethod
    def of(cls, p: customer360.Profile360) -> CustomerProfile:
        s = p.summary
        return cls(
            id=strawberry.ID(str(p.profile_id)),
            records=[SourceRecord.of(r) for r in p.records],
            links=[IdentityLinkType.of(x) for x in p.links],
            channels=[ChannelFigures.of(c) for c in s.channels],
            categories=[CategoryFigures.of(c) for c in s.categories],
            spend_kopecks=s.spend_kopecks,
            returns=s.returns,
            returned_kopecks=s.returned_kopecks,
            consents=Consents.of(p.consents),
        )


@strawberry.type(name="IdentitySuggestion")
class IdentitySuggestionType:
    id: strawberry.ID
    left: strawberry.ID
    right: strawberry.ID
    kind: Identifier
    value: str
    state: SuggestionState
    created_at: datetime
    decided_at: datetime | None
    decided_by: str | None

    @classmethod
    def of(cls, s: SuggestionRow) -> IdentitySuggestionType:
        return cls(
            id=strawberry.ID(str(s.id)),
            left=strawberry.ID(str(s.left_id)),
            right=strawberry.ID(str(s.right_id)),
            kind=s.kind,
            value=s.value,
            state=s.state,
            created_at=s.created_at,
            decided_at=s.decided_at,
            decided_by=s.decided_by,
        )


@strawberry.type
class IdentitySuggestionPage:
    nodes: list[IdentitySuggestionType]
    has_next_page: bool
    end_cursor: str | None = strawberry.field(description="pass as `after`")


@strawberry.input
class BoughtInput:
    channels: list[Channel] = strawberry.field(default_factory=list, description="[]: any")
    category: str | None = strawberry.field(default=None, description="a category slug")
    collection: str | None = strawberry.field(default=None, description="a drop's slug")
    negate: bool = strawberry.field(default=False, description="never bought so")


@strawberry.input(description="exactly one of bought, lapsedDays, spend")
class SegmentRuleInput:
    bought: BoughtInput | None = None
    lapsed_days: int | None = strawberry.field(default=None, description="no purchase since")
    spend_min_kopecks: int | None = strawberry.field(default=None, description="inclusive")
    spend_max_kopecks: int | None = strawberry.field(default=None, description="exclusive")

    def rule(self, n: int) -> Rule:
        spend = self.spend_min_kopecks is not None or self.spend_max_kopecks is not None
        if [self.bought is not None, self.lapsed_days is not None, spend].count(True) != 1:
            raise DomainError(ErrorCode.INVALID, "one condition a rule", ("rules", n))
        if self.bought is not None:
            b = self.bought
            return Bought(tuple(b.channels), b.category, b.collection, b.negate)
        if self.lapsed_days is not None:
            return Lapsed(self.lapsed_days)
        return SpendBand(self.spend_min_kopecks, self.spend_max_kopecks)


def _segment(rules: list[SegmentRuleInput]) -> Segment:
    if len(rules) > 10:
        raise DomainError(ErrorCode.INVALID, "at most 10 rules", ("rules",))
    return Segment(tuple(r.rule(n) for n, r in enumerate(rules)))


@strawberry.type
class SegmentResult:
    count: int
    profile_ids: list[strawberry.ID] = strawberry.field(description="the first 1000")


@strawberry.type
class DecideSuggestionPayload:
    suggestion: IdentitySuggestionType | None
    link: IdentityLinkType | None = strawberry.field(description="made by accepting")
    errors: list[UserError]

    @classmethod
    def refused(cls, errors: list[UserError]) -> DecideSuggestionPayload:
        return cls(suggestion=None, link=None, errors=errors)


@strawberry.type
class UnmergePayload:
    profile_ids: list[strawberry.ID] = strawberry.field(description="the two sides")
    errors: list[UserError]

    @classmethod
    def refused(cls, errors: list[UserError]) -> UnmergePayload:
        return cls(profile_ids=[], errors=errors)


@strawberry.type
class SegmentExportPayload:
    export_id: str | None
    matched: int = strawberry.field(description="profiles in the segment")
    exported: int = strawberry.field(description="of them with a standing consent")
    errors: list[UserError]

    @classmethod
    def refused(cls, errors: list[UserError]) -> SegmentExportPayload:
        return cls(export_id=None, matched=0, exported=0, errors=errors)


async def _actor(info: Info, scope: Scope) -> str:
    await require_scope(info, scope)
    principal = await info.context.integration()
    return f"token:{principal.name}" if principal else "unknown"


def _int_id(value: str, field: str) -> int:
    if not value.isdigit() or len(value) > 12:
        raise DomainError(ErrorCode.INVALID, "not an id", (field,))
    return int(value)


@strawberry.type
class CustomerAdminQuery:
    @strawberry.field(
        description="one customer across channels (customers:read; the read is logged): by "
        "profile or record id, phone, e-mail, loyalty card or site customer id",
        metadata=side_effects("logs the profile read"),
    )
    async def customer_profile(
        self,
        info: Info,
        id: strawberry.ID | None = None,
        phone: str | None = None,
        email: str | None = None,
        loyalty_card: str | None = None,
        customer_id: strawberry.ID | None = None,
    ) -> CustomerProfile:
        actor = await _actor(info, Scope.CUSTOMERS_READ)
        try:
            lookup = customer360.Lookup(
                profile_id=_int_id(id, "id") if id is not None else None,
                phone=phone,
                email=email,
                loyalty_card=loyalty_card,
                customer_guid=customer_id,
            )
            found = await customer360.customer_360(lookup=lookup, actor=actor, now=info.context.now)
        except DomainError as error:
            raise query_error(error) from None
        return CustomerProfile.of(found)

    @strawberry.field(description="identity suggestions oldest first (customers:read); first ≤ 100")
    async def identity_suggestions(
        self,
        info: Info,
        state: SuggestionState = SuggestionState.OPEN,
        first: int = 50,
        after: str | None = None,
    ) -> IdentitySuggestionPage:
        actor = await _actor(info, Scope.CUSTOMERS_READ)
        try:
            start = _int_id(after, "after") if after is not None else None
            rows, more = await staff.list_suggestions(
                state=state, first=first, after=start, actor=actor, now=info.context.now
            )
        except DomainError as error:
            raise query_error(error) from None
        end = str(rows[-1].id) if rows else None
        nodes = [IdentitySuggestionType.of(r) for r in rows]
        return IdentitySuggestionPage(nodes=nodes, has_next_page=more, end_cursor=end)

    @strawberry.field(
        description="profiles every rule holds for (customers:read; logged)",
        metadata=side_effects("logs the segment read"),
    )
    async def customer_segment(self, info: Info, rules: list[SegmentRuleInput]) -> SegmentResult:
        actor = await _actor(info, Scope.CUSTOMERS_READ)
        try:
            count, ids = await segments.evaluate_segment(
                segment=_segment(rules), actor=actor, now=info.context.now
            )
        except DomainError as error:
            raise query_error(error) from None
        return SegmentResult(count=count, profile_ids=[strawberry.ID(str(i)) for i in ids])


@strawberry.type
class CustomerAdminMutation:
    @strawberry.mutation(
        description="accept (a staff link joins the two profiles) or dismiss a suggestion, "
        "once (customers:write)"
    )
    async def decide_identity_suggestion(
        self, info: Info, id: strawberry.ID, accept: bool
    ) -> DecideSuggestionPayload:
        actor = await _actor(info, Scope.CUSTOMERS_WRITE)

        async def work() -> staff.Decision:
            return await staff.decide_suggestion(
                suggestion_id=_int_id(id, "id"), accept=accept, actor=actor, now=info.context.now
            )

        return await payload(
            work(),
            lambda d: DecideSuggestionPayload(
                suggestion=IdentitySuggestionType.of(d.suggestion),
                link=IdentityLinkType.of(d.link) if d.link else None,
                errors=[],
            ),
            DecideSuggestionPayload.refused,
        )

    @strawberry.mutation(
        description="cut one link: its profile splits into exactly the two sides it joined, "
        "which the rules never join again (customers:write)"
    )
    async def unmerge_identity_link(self, info: Info, id: strawberry.ID) -> UnmergePayload:
        actor = await _actor(info, Scope.CUSTOMERS_WRITE)

        async def work() -> tuple[int, int]:
            return await staff.unmerge_link(
                link_id=_int_id(id, "id"), actor=actor, now=info.context.now
            )

        return await payload(
            work(),
            lambda sides: UnmergePayload(
                profile_ids=[strawberry.ID(str(s)) for s in sides], errors=[]
            ),
            UnmergePayload.refused,
        )

    @strawberry.mutation(
        description="send the segment's members with a standing consent for the channel to "
        "RetailCRM (custom field `code`), through the outbox (customers:write; logged)"
    )
    async def export_customer_segment(
        self, info: Info, rules: list[SegmentRuleInput], code: str, channel: MarketingChannel
    ) -> SegmentExportPayload:
        actor = await _actor(info, Scope.CUSTOMERS_WRITE)

        async def work() -> segments.Export:
            await segments.admit_export(redis=info.context.redis, actor=actor, now=info.context.now)
            export = await segments.export_segment(
                segment=_segment(rules),
                code=code,
                channel=channel,
                actor=actor,
                now=info.context.now,
            )
            await announce(info.context.jobs, export.events)
            return export

        return await payload(
            work(),
            lambda e: SegmentExportPayload(
                export_id=e.guid, matched=e.matched, exported=e.exported, errors=[]
            ),
            SegmentExportPayload.refused,
        )
