"""The shopper's purchases in every channel, consents and privacy requests (`me` fields and
mutations); the consent types are shared with the admin's Customer 360."""

from __future__ import annotations

import json
from datetime import datetime

import strawberry

from app.domain.consents import ConsentPurpose, ConsentState, MarketingChannel
from app.domain.errors import DomainError, ErrorCode
from app.domain.identity import Channel
from app.models.customers import Customer
from app.schema.catalog.queries import query_error
from app.schema.context import Info
from app.schema.errors import UserError, payload
from app.services.identity import privacy, shopper
from app.services.outbox.record import announce

strawberry.enum(Channel, name="PurchaseChannel")
strawberry.enum(MarketingChannel, name="MarketingChannel")
strawberry.enum(ConsentPurpose, name="ConsentPurpose")


@strawberry.type
class PurchaseLine:
    sku: str | None = strawberry.field(description="null: a product we do not sell online")
    name: str | None
    size: str | None
    quantity: int = strawberry.field(description="negative on a return")
    amount_kopecks: int


@strawberry.type(description="a purchase or a return in any channel")
class Purchase:
    channel: Channel
    reference: str = strawberry.field(description="the order number or the receipt's")
    at: datetime
    is_return: bool
    amount_kopecks: int
    lines: list[PurchaseLine] = strawberry.field(description="empty for site orders: see orders")

    @classmethod
    def of(cls, view: shopper.PurchaseView) -> Purchase:
        lines = [
            PurchaseLine(
                sku=x.sku,
                name=x.name,
                size=x.size,
                quantity=x.quantity,
                amount_kopecks=x.amount_kopecks,
            )
            for x in view.lines
        ]
        return cls(
            channel=view.channel,
            reference=view.reference,
            at=view.at,
            is_return=view.is_return,
            amount_kopecks=view.amount_kopecks,
            lines=lines,
        )


@strawberry.type(description="one consent now: the latest grant or withdrawal wins")
class ConsentStatus:
    purpose: ConsentPurpose
    channel: MarketingChannel | None = strawberry.field(description="marketing only")
    granted: bool
    changed_at: datetime | None = strawberry.field(description="null: never asked")


@strawberry.type
class Consents:
    personal_data: ConsentStatus
    marketing: list[ConsentStatus] = strawberry.field(description="every channel, in order")
    usable: list[MarketingChannel] = strawberry.field(
        description="channels advertising may use now (both consents stand)"
    )

    @classmethod
    def of(cls, state: ConsentState) -> Consents:
        pd = state.personal_data
        personal = ConsentStatus(
            purpose=ConsentPurpose.PERSONAL_DATA,
            channel=None,
            granted=bool(pd and pd.granted),
            changed_at=pd.at if pd else None,
        )
        marketing = []
        for channel in MarketingChannel:
            fact = state.marketing.get(channel)
            marketing.append(
                ConsentStatus(
                    purpose=ConsentPurpose.MARKETING,
                    channel=channel,
                    granted=bool(fact and fact.granted),
                    changed_at=fact.at if fact else None,
                )
            )
        usable = [c for c in MarketingChannel if state.may_market(c)]
        return cls(personal_data=personal, marketing=marketing, usable=usable)


@strawberry.type
class ConsentPayload:
    consents: Consents | None
    errors: list[UserError]

    @classmethod
    def refused(cls, errors: list[UserError]) -> ConsentPayload:
        return cls(consents=None, errors=errors)


@strawberry.type
class DataExportPayload:
    document: str | None = strawberry.field(
        description="everything we hold about you, as a JSON document (at most about 2 MB)"
    )
    errors: list[UserError]

    @classmethod
    def refused(cls, errors: list[UserError]) -> DataExportPayload:
        return cls(document=None, errors=errors)


@strawberry.type
class ErasurePayload:
    erased: bool
    errors: list[UserError]

    @classmethod
    def refused(cls, errors: list[UserError]) -> ErasurePayload:
        return cls(erased=False, errors=errors)


async def purchases_of(customer: Customer, first: int, info: Info) -> list[Purchase]:
    if not 1 <= first <= shopper.MAX_PURCHASES:
        error = DomainError(ErrorCode.INVALID, f"first: 1..{shopper.MAX_PURCHASES}", ("first",))
        raise query_error(error)
    views = await shopper.my_purchases(customer=customer, first=first, now=info.context.now)
    return [Purchase.of(v) for v in views]


async def consents_of(customer: Customer, info: Info) -> Consents:
    return Consents.of(await shopper.my_consents(customer=customer, now=info.context.now))


async def _signed_in(info: Info) -> Customer:
    principal = await info.context.customer()
    row = await Customer.get_or_none(id=principal.customer_id) if principal else None
    if row is None:
        raise DomainError(ErrorCode.UNAUTHENTICATED, "sign in first", ())
    return row


async def _set(
    info: Info,
    purpose: ConsentPurpose,
    channel: MarketingChannel | None,
    granted: bool,
    text_version: str,
) -> Consents:
    ctx = info.context
    state, events = await shopper.set_my_consent(
        redis=ctx.redis,
        customer=await _signed_in(info),
        purpose=purpose,
        channel=channel,
        granted=granted,
        text_version=text_version,
        device=ctx.account_call.device.user_agent,
        now=ctx.now,
    )
    await announce(ctx.jobs, events)
    return Consents.of(state)


async def _erase(info: Info, text_version: str) -> bool:
    ctx = info.context
    customer = await _signed_in(info)
    events = await privacy.erase_customer(
        redis=ctx.redis,
        customer_id=customer.id,
        text_version=text_version,
        device=ctx.account_call.device.user_agent,
        now=ctx.now,
    )
    await announce(ctx.jobs, events)
    return True


async def _export(info: Info) -> str:
    customer = await _signed_in(info)
    ctx = info.context
    document = await privacy.export_data(redis=ctx.redis, customer_id=customer.id, now=ctx.now)
    return json.dumps(document, ensure_ascii=False, default=str)


@strawberry.type
class AccountIdentityMutation:
    @strawberry.mutation(
        description="grant or withdraw advertising by one channel (withdrawal works at once); "
        "textVersion: the version of the consent text the shopper saw"
    )
    async def set_marketing_consent(
        self, info: Info, channel: MarketingChannel, granted: bool, text_version: str
    ) -> ConsentPayload:
        work = _set(info, ConsentPurpose.MARKETING, channel, granted, text_version)
        return await payload(
            work, lambda c: ConsentPayload(consents=c, errors=[]), ConsentPayload.refused
        )

    @strawberry.mutation(
        description="grant or withdraw consent to process personal data (its own document); "
        "withdrawing it withdraws every advertising consent too"
    )
    async def set_personal_data_consent(
        self, info: Info, granted: bool, text_version: str
    ) -> ConsentPayload:
        work = _set(info, ConsentPurpose.PERSONAL_DATA, None, granted, text_version)
        return await payload(
            work, lambda c: ConsentPayload(consents=c, errors=[]), ConsentPayload.refused
        )

    @strawberry.mutation(description="a copy of everything we hold about you (once a minute)")
    async def request_my_data(self, info: Info) -> DataExportPayload:
        return await payload(
            _export(info),
            lambda d: DataExportPayload(document=d, errors=[]),
            DataExportPayload.refused,
        )

    @strawberry.mutation(
        description="erase your personal data: the account is anonymised (orders' accounting "
        "facts stay), 1C and RetailCRM are told, every session ends; textVersion: the "
        "withdrawal text the shopper confirmed"
    )
    async def erase_my_data(self, info: Info, text_version: str) -> ErasurePayload:
        return await payload(
            _erase(info, text_version),
            lambda ok: ErasurePayload(erased=ok, errors=[]),
            ErasurePayload.refused,
        )
