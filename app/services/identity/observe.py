"""What other systems and our own site tell us about customers: source records and the
purchases they made, written in the caller's transaction (D1's intake calls these)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from app.domain.errors import DomainError, ErrorCode
from app.domain.identity import (
    Channel,
    CustomerSource,
    LinkRule,
    PurchaseLine,
    clean_card,
    clean_email,
    clean_id,
    clean_phone,
)
from app.domain.identity_changes import identifiers_changed
from app.models.customers import Customer
from app.models.identity import ChannelPurchase, ChannelPurchaseLine, IdentityRecord
from app.models.sql import is_postgres, placeholders, sql_instant
from app.services.identity.changes import retract_unjustified
from app.services.identity.graph import link_by_evidence, link_records

MAX_LINES = 500  # one receipt or order


async def observe_customer(
    conn: BaseDBAsyncClient,
    *,
    source: CustomerSource,
    external_id: str,
    now: datetime,
    actor: str,
    name: str | None = None,
    phone: str | None = None,
    phone_verified: bool = False,
    email: str | None = None,
    email_verified: bool = False,
    loyalty_card: str | None = None,
    onec_guid: str | None = None,
    retailcrm_id: str | None = None,
    customer_id: int | None = None,
) -> int:
    """Record (or update) one source record as it came, inside the caller's transaction, and
    link it by the identity rules; return the source record's id. Idempotent per (source,
    external_id). Values absent in this observation keep what the record held (a till that
    saw only the card does not erase the phone another receipt gave)."""
    key = external_id.strip()[:100]
    if not key:
        raise DomainError(ErrorCode.INVALID, "a source record needs its id", ("externalId",))
    wanted = {
        "name": name,
        "phone": phone,
        "phone_verified": phone_verified,
        "email": email,
        "email_verified": email_verified,
        "loyalty_card": loyalty_card,
        "onec_guid": onec_guid,
        "retailcrm_id": retailcrm_id,
    }
    mirror = source is CustomerSource.SITE
    record = await _insert_new(conn, source, key, now, actor, customer_id, mirror, wanted)
    if record is not None:
        await link_by_evidence(conn, record=record, now=now, actor=actor)
        return record.id
    record = await _existing(conn, source, key, customer_id)
    if record.erased_at is not None:
        return record.id  # forgotten on request: a system still sending the person changes nothing
    changes = _changes(record, mirror=mirror, **wanted)  # type: ignore[arg-type]
    if changes:
        await apply_changes(conn, record=record, changes=changes, now=now, actor=actor)
    return record.id


async def apply_changes(
    conn: BaseDBAsyncClient,
    *,
    record: IdentityRecord,
    changes: dict[str, object],
    now: datetime,
    actor: str,
) -> None:
    """Write a record's new values (its row is locked by the caller on PostgreSQL), retract
    the links its old identifiers made, and link it by what it carries now."""
    changes = changes | {"updated_at": now, "actor": actor[:100]}
    await IdentityRecord.filter(id=record.id).using_db(conn).update(**changes)
    for field, value in changes.items():
        setattr(record, field, value)
    if identifiers_changed(changes):
        await retract_unjustified(
            conn, record=record, now=now, actor=actor, source=record.source.value
        )
    await link_by_evidence(conn, record=record, now=now, actor=actor)


async def observe_site_customer(
    conn: BaseDBAsyncClient, *, customer: Customer, now: datetime, actor: str
) -> int:
    """The site account as a source record: its verified contacts link it to the rest."""
    name = f"{customer.first_name} {customer.last_name}".strip() or None
    return await observe_customer(
        conn,
        source=CustomerSource.SITE,
        external_id=customer.guid,
        now=now,
        actor=actor,
        name=name,
        phone=customer.phone_raw or customer.phone,
        phone_verified=customer.phone_verified_at is not None,
        email=customer.email,
        email_verified=customer.email_verified_at is not None,
        customer_id=customer.id,
    )


async def record_purchase(
    conn: BaseDBAsyncClient,
    *,
    record_id: int,
    channel: Channel,
    external_ref: str,
    at: datetime,
    lines: Sequence[PurchaseLine],
    is_return: bool = False,
) -> None:
    """A purchase (or a return) in any channel other than our own site orders, idempotent per
    (channel, external_ref): the facts Customer 360 and segments read. A repeat changes
    nothing (the first body stands: 1C's receipts are immutable once fiscalised)."""
    if len(lines) > MAX_LINES:
        raise DomainError(ErrorCode.BATCH_TOO_LARGE, f"at most {MAX_LINES} lines", ("lines",))
    ref = external_ref.strip()[:100]
    if await ChannelPurchase.filter(channel=channel, external_ref=ref).using_db(conn).exists():
        return
    purchase = await ChannelPurchase.create(
        using_db=conn,
        record_id=record_id,
        channel=channel,
        external_ref=ref,
        at=at,
        is_return=is_return,
        amount_kopecks=sum(line.amount_kopecks for line in lines),
        created_at=at,
    )
    await ChannelPurchaseLine.bulk_create(
        [
            ChannelPurchaseLine(
                purchase_id=purchase.id,
                variant_id=line.variant_id,
                quantity=line.quantity,
                amount_kopecks=line.amount_kopecks,
            )
            for line in lines
        ],
        using_db=conn,
    )


async def note_external_merge(
    conn: BaseDBAsyncClient,
    *,
    source: CustomerSource,
    merged_id: str,
    into_id: str,
    now: datetime,
    actor: str,
) -> None:
    """A merge another system made (RetailCRM's `combinedTo`): a link with its rule, source
    and actor. Records not seen yet are created bare (their id is all we know); a pair staff
    have split before stays split."""
    ids = {}
    for external in (merged_id, into_id):
        ids[external] = await observe_customer(
            conn,
            source=source,
            external_id=external,
            now=now,
            actor=actor,
            retailcrm_id=external if source is CustomerSource.RETAILCRM else None,
            onec_guid=external if source is CustomerSource.ONEC else None,
        )
    await link_records(
        conn,
        left_id=ids[merged_id],
        right_id=ids[into_id],
        rule=LinkRule.EXTERNAL_MERGE,
        value=f"{merged_id}->{into_id}"[:254],
        source=source.value,
        actor=actor,
        now=now,
        respect_separation=True,
    )


_COLUMNS = (
    "source",
    "external_id",
    "customer_id",
    "profile_id",
    "name",
    "phone",
    "phone_raw",
    "phone_verified",
    "email",
    "email_raw",
    "email_verified",
    "loyalty_card",
    "onec_guid",
    "retailcrm_id",
    "actor",
    "created_at",
    "updated_at",
)


def first_sighting(
    source: CustomerSource,
    key: str,
    now: datetime,
    actor: str,
    customer_id: int | None,
    mirror: bool,
    wanted: dict[str, Any],
) -> IdentityRecord:
    """The record a first sighting makes (not saved), with what the source told."""
    blank = IdentityRecord(
        source=source,
        external_id=key,
        customer_id=customer_id,
        profile_id=0,
        actor=actor[:100],
        created_at=now,
        updated_at=now,
        phone_verified=False,
        email_verified=False,
    )
    for column in ("name", "phone", "phone_raw", "email", "email_raw"):
        setattr(blank, column, None)
    for column in ("loyalty_card", "onec_guid", "retailcrm_id"):
        setattr(blank, column, None)
    for field, value in _changes(blank, mirror=mirror, **wanted).items():
        setattr(blank, field, value)
    return blank


async def _insert_new(
    conn: BaseDBAsyncClient,
    source: CustomerSource,
    key: str,
    now: datetime,
    actor: str,
    customer_id: int | None,
    mirror: bool,
    wanted: dict[str, Any],
) -> IdentityRecord | None:
    """A first sighting, written whole in one INSERT; None when the record exists already.
    ON CONFLICT DO NOTHING makes two concurrent first sightings create it once."""
    blank = first_sighting(source, key, now, actor, customer_id, mirror, wanted)
    values = [getattr(blank, c) for c in _COLUMNS]
    values[0] = source.value
    values = [sql_instant(conn, v) if isinstance(v, datetime) else v for v in values]
    marks = ", ".join(placeholders(conn, 1, len(_COLUMNS))[0])
    table = IdentityRecord._meta.db_table
    rows = await conn.execute_query_dict(
        f"INSERT INTO {table} ({', '.join(_COLUMNS)}) VALUES ({marks})"
        " ON CONFLICT (source, external_id) DO NOTHING RETURNING id",
        values,
    )
    if not rows:
        return None
    blank.id = int(rows[0]["id"])
    blank.profile_id = blank.id  # a profile of its own until a rule links it
    await IdentityRecord.filter(id=blank.id).using_db(conn).update(profile_id=blank.id)
    return blank


async def _existing(
    conn: BaseDBAsyncClient, source: CustomerSource, key: str, customer_id: int | None
) -> IdentityRecord:
    """The record, locked on PostgreSQL (FOR UPDATE): two observations of one record apply
    one after the other."""
    query = IdentityRecord.filter(source=source, external_id=key).using_db(conn)
    if is_postgres(conn):
        query = query.select_for_update()
    record = await query.get()
    if customer_id is not None and record.customer_id is None:
        record.customer_id = customer_id
        await IdentityRecord.filter(id=record.id).using_db(conn).update(customer_id=customer_id)
    return record


def _changes(
    record: IdentityRecord,
    *,
    mirror: bool,
    name: str | None,
    phone: str | None,
    phone_verified: bool,
    email: str | None,
    email_verified: bool,
    loyalty_card: str | None,
    onec_guid: str | None,
    retailcrm_id: str | None,
) -> dict[str, object]:
    """The fields this observation sets (cleaned values beside the raw ones). A mirrored
    record (our own site account) follows its source: a contact removed there goes here."""
    wanted: dict[str, object] = {}
    if mirror:
        wanted |= {"phone": None, "phone_raw": None, "phone_verified": False}
        wanted |= {"email": None, "email_raw": None, "email_verified": False}
    if name is not None and name.strip():
        wanted["name"] = name.strip()[:200]
    if phone is not None and phone.strip():
        wanted |= {"phone_raw": phone.strip()[:64], "phone": clean_phone(phone)}
        wanted["phone_verified"] = phone_verified and wanted["phone"] is not None
    if email is not None and email.strip():
        wanted |= {"email_raw": email.strip()[:254], "email": clean_email(email)}
        wanted["email_verified"] = email_verified and wanted["email"] is not None
    for field, value in (
        ("loyalty_card", clean_card(loyalty_card)),
        ("onec_guid", clean_id(onec_guid)),
        ("retailcrm_id", clean_id(retailcrm_id)),
    ):
        if value is not None:
            wanted[field] = value
    return {k: v for k, v in wanted.items() if getattr(record, k) != v}


SYNC_BATCH = 1000


async def observe_new_site_customers(*, now: datetime, limit: int = SYNC_BATCH) -> int:
    """Bring site customers that have no source record yet into the graph (guests created by
    checkout, accounts older than the graph), oldest first, in one transaction; how many.
    Checkout is left alone (its hot path stays as short as it is): a sweep does this."""
    table = IdentityRecord._meta.db_table
    async with in_transaction() as conn:
        rows = await conn.execute_query_dict(
            f"SELECT c.id AS id FROM customer c LEFT JOIN {table} r"
            " ON r.customer_id = c.id AND r.source = 'site'"
            f" WHERE r.id IS NULL ORDER BY c.id LIMIT {int(limit)}"
        )
        customers = await Customer.filter(id__in=[int(r["id"]) for r in rows]).using_db(conn)
        for customer in sorted(customers, key=lambda c: c.id):
            await observe_site_customer(conn, customer=customer, now=now, actor="sweep")
    return len(customers)
