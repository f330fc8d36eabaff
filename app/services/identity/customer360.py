"""Customer 360 for the brand's staff: one profile's records, links, purchases across
channels and consents. Every read is logged with its actor and time (ProfileAccess)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from app.domain.consents import ConsentState
from app.domain.customer360 import Fact, Summary, summarise
from app.domain.errors import DomainError, ErrorCode
from app.domain.identity import clean_card, clean_email, clean_phone
from app.models.customers import Customer
from app.models.identity import IdentityLink, IdentityRecord, ProfileAccess
from app.services.identity.consents import profile_state
from app.services.identity.facts import Params, category_roots, facts_sql
from app.services.identity.graph import profile_records


@dataclass(frozen=True, slots=True)
class Profile360:
    profile_id: int
    records: list[IdentityRecord]
    links: list[IdentityLink]  # active and removed, oldest first
    summary: Summary
    consents: ConsentState


@dataclass(frozen=True, slots=True, kw_only=True)
class Lookup:
    """One way to find a profile: its id, or an identifier one of its records holds."""

    profile_id: int | None = None
    phone: str | None = None
    email: str | None = None
    loyalty_card: str | None = None
    customer_guid: str | None = None


async def find_profile(conn: BaseDBAsyncClient, lookup: Lookup) -> int | None:
    query = IdentityRecord.filter(erased_at=None).using_db(conn)
    if lookup.profile_id is not None:
        found = await IdentityRecord.filter(id=lookup.profile_id).using_db(conn).first()
        return found.profile_id if found else None
    if lookup.phone is not None:
        query = query.filter(phone=clean_phone(lookup.phone) or "-")
    elif lookup.email is not None:
        query = query.filter(email=clean_email(lookup.email) or "-")
    elif lookup.loyalty_card is not None:
        query = query.filter(loyalty_card=clean_card(lookup.loyalty_card) or "-")
    elif lookup.customer_guid is not None:
        customer = await Customer.filter(guid=lookup.customer_guid).using_db(conn).first()
        query = query.filter(customer_id=customer.id if customer else -1)
    else:
        raise DomainError(ErrorCode.INVALID, "say which profile", ("id",))
    found = await query.order_by("id").first()
    return found.profile_id if found else None


async def profile_facts(conn: BaseDBAsyncClient, profile_id: int) -> list[Fact]:
    params = Params(conn)
    rows = await conn.execute_query_dict(facts_sql(params, [profile_id]), params.values)
    roots = await category_roots(conn)
    return [_fact(row, roots) for row in rows]


def _fact(row: dict[str, Any], roots: dict[int, tuple[int, str]]) -> Fact:
    at = row["at"]
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    category = roots.get(int(row["category_id"])) if row["category_id"] is not None else None
    return Fact(
        channel=str(row["channel"]),
        purchase=str(row["purchase"]),
        at=at,
        category=category[1] if category else None,
        size=row["size"],
        quantity=int(row["quantity"]),
        amount_kopecks=int(row["amount"]),
        is_return=bool(row["is_return"]),
    )


async def customer_360(*, lookup: Lookup, actor: str, now: datetime) -> Profile360:
    """The profile and its figures; the read is logged in the same transaction."""
    async with in_transaction() as conn:
        profile_id = await find_profile(conn, lookup)
        if profile_id is None:
            raise DomainError(ErrorCode.NOT_FOUND, "no such customer profile", ("id",))
        await log_access(conn, actor=actor, action="customer360", profile_id=profile_id, now=now)
        ids = await profile_records(conn, profile_id)
        records = await IdentityRecord.filter(id__in=ids).order_by("id").using_db(conn)
        links = await IdentityLink.filter(left_id__in=ids).order_by("id").using_db(conn)
        return Profile360(
            profile_id=profile_id,
            records=list(records),
            links=list(links),
            summary=summarise(await profile_facts(conn, profile_id)),
            consents=await profile_state(conn, profile_id),
        )


async def log_access(
    conn: BaseDBAsyncClient,
    *,
    actor: str,
    action: str,
    profile_id: int | None,
    now: datetime,
    detail: str = "",
) -> None:
    await ProfileAccess.create(
        using_db=conn,
        actor=actor[:100],
        action=action[:32],
        profile_id=profile_id,
        detail=detail[:500],
        at=now,
    )
