"""The signed-in shopper's side: purchases in every channel, and their consents."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from redis.asyncio import Redis
from tortoise.transactions import in_transaction

from app.domain.consents import ConsentPurpose, ConsentSource, ConsentState, MarketingChannel
from app.domain.errors import DomainError, ErrorCode
from app.domain.identity import Channel
from app.models.customers import Customer
from app.models.identity import ChannelPurchase, ChannelPurchaseLine
from app.models.outbox import OutboxEvent
from app.services.accounts.orders import list_orders
from app.services.identity.consents import Proof, profile_state, record_consent
from app.services.identity.graph import profile_of, profile_records
from app.services.identity.privacy import site_profile, site_record

MAX_PURCHASES = 100


@dataclass(frozen=True, slots=True)
class PurchaseLineView:
    sku: str | None
    name: str | None
    size: str | None
    quantity: int
    amount_kopecks: int


@dataclass(frozen=True, slots=True)
class PurchaseView:
    channel: Channel
    reference: str  # the order number, or the receipt's
    at: datetime
    is_return: bool
    amount_kopecks: int
    lines: list[PurchaseLineView]


async def my_purchases(*, customer: Customer, first: int, now: datetime) -> list[PurchaseView]:
    """The account's purchases across channels, newest first: its site orders, and what the
    shops and managers recorded for records linked to it (a shop's receipt shows once the
    account's phone is verified and links to the till's)."""
    limit = max(1, min(first, MAX_PURCHASES))  # the schema refuses others
    async with in_transaction() as conn:
        records = await profile_records(conn, await site_profile(conn, customer, now))
    site = await list_orders(customer=customer, first=limit, after=None)
    views = [
        PurchaseView(Channel.SITE, o.number, o.created_at, False, o.total, []) for o in site.orders
    ]
    rows = await ChannelPurchase.filter(record_id__in=records).order_by("-at").limit(limit)
    lines = await ChannelPurchaseLine.filter(purchase_id__in=[r.id for r in rows]).prefetch_related(
        "variant__product"
    )
    for row in rows:
        views.append(
            PurchaseView(
                row.channel,
                row.external_ref,
                row.at,
                row.is_return,
                row.amount_kopecks,
                [_line(x) for x in lines if x.purchase_id == row.id],
            )
        )
    return sorted(views, key=lambda v: v.at, reverse=True)[:limit]


def _line(line: ChannelPurchaseLine) -> PurchaseLineView:
    variant = line.variant
    return PurchaseLineView(
        variant.sku if variant else None,
        variant.product.name if variant else None,
        variant.size if variant else None,
        line.quantity,
        line.amount_kopecks,
    )


async def my_consents(*, customer: Customer, now: datetime) -> ConsentState:
    async with in_transaction() as conn:
        return await profile_state(conn, await site_profile(conn, customer, now))


CHANGES_PER_HOUR = 30  # consent changes a shopper may make (each reaches 1C and RetailCRM)
_CHANGES_KEY = "vitrina:account:consents:"  # with the account throttles


async def admit_change(redis: Redis, customer_id: int) -> None:
    """Count one change in this hour's window (INCR first, so parallel calls cannot all slip
    under the limit), or refuse it (TOO_MANY_ATTEMPTS, nothing written)."""
    key = _CHANGES_KEY + str(customer_id)
    count = int(await redis.incr(key))
    if count == 1:
        await redis.expire(key, 3600)
    if count > CHANGES_PER_HOUR:
        wait = int(await redis.ttl(key))
        raise DomainError(
            ErrorCode.TOO_MANY_ATTEMPTS, "too many consent changes", (), retry_after=max(wait, 1)
        )


async def set_my_consent(
    *,
    redis: Redis,
    customer: Customer,
    purpose: ConsentPurpose,
    channel: MarketingChannel | None,
    granted: bool,
    text_version: str,
    device: str,
    now: datetime,
) -> tuple[ConsentState, list[OutboxEvent]]:
    """Append the shopper's own grant or withdrawal (effective at once); the new state."""
    await admit_change(redis, customer.id)
    proof = Proof(
        source=ConsentSource.SITE, text_version=text_version, device=device, actor=customer.guid
    )
    async with in_transaction() as conn:
        record = await site_record(conn, customer, now)
        events = await record_consent(
            conn,
            record_id=record.id,
            purpose=purpose,
            channel=channel,
            granted=granted,
            proof=proof,
            now=now,
        )
        return await profile_state(conn, await profile_of(conn, record.id)), events
