"""A customer's rights over their data: a copy of it, and erasure.

Erasure anonymises personal data everywhere we hold it (the account, its addresses and carts,
the contact fields of its orders, every source record of its profile, shop receipts' contact
fields, our outbox's copies of the customer) while the accounting facts stay: orders, their
lines, amounts and statuses, purchases, and the consent ledger (proof of what was agreed, kept
with the withdrawal appended). 1C and RetailCRM hear of it through the outbox; the customer's
sessions end at once.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from redis.asyncio import Redis
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from app.domain.consents import ConsentPurpose, ConsentSource, ErasureRecord
from app.domain.errors import DomainError, ErrorCode
from app.domain.outbox import EventKind
from app.models.checkout import Cart
from app.models.customers import Address, Customer, CustomerSession
from app.models.identity import (
    ChannelPurchase,
    ConsentEvent,
    IdentityLink,
    IdentityRecord,
    IdentitySuggestion,
)
from app.models.orders import Order, OrderLine
from app.models.outbox import OutboxEvent
from app.models.sql import is_postgres
from app.services.accounts.sessions import end_all_sessions
from app.services.identity import erasure, outbound
from app.services.identity.consents import Proof, record_consent
from app.services.identity.graph import profile_records
from app.services.identity.observe import observe_site_customer

MAX_EXPORT_BYTES = 2_000_000  # the document a customer downloads
MAX_ROWS = 1000  # of each kind in it; `truncated` says when more exist
EXPORT_EVERY_SECONDS = 60  # one export a minute per customer
_EXPORT_KEY = "vitrina:account:export:"  # with the account throttles


async def site_record(conn: BaseDBAsyncClient, customer: Customer, now: datetime) -> IdentityRecord:
    """A site account's source record, made on first need (site customers enter the graph
    lazily as well as through the account hooks)."""
    query = IdentityRecord.filter(customer_id=customer.id, source="site").using_db(conn)
    record = await query.first()
    if record is None:
        record_id = await observe_site_customer(
            conn, customer=customer, now=now, actor=customer.guid
        )
        record = await IdentityRecord.filter(id=record_id).using_db(conn).get()
    return record


async def site_profile(conn: BaseDBAsyncClient, customer: Customer, now: datetime) -> int:
    """The profile of a site account."""
    return (await site_record(conn, customer, now)).profile_id


async def export_data(*, redis: Redis, customer_id: int, now: datetime) -> dict[str, Any]:
    """Everything we hold about the signed-in customer, as one JSON document (limited)."""
    if not await redis.set(_EXPORT_KEY + str(customer_id), "1", nx=True, ex=EXPORT_EVERY_SECONDS):
        raise DomainError(
            ErrorCode.TOO_MANY_ATTEMPTS, "one export a minute", (), retry_after=EXPORT_EVERY_SECONDS
        )
    async with in_transaction() as conn:
        customer = await Customer.filter(id=customer_id).using_db(conn).get()
        profile = await site_profile(conn, customer, now)
        document = await _document(conn, customer, profile, now)
    if len(json.dumps(document, default=str)) > MAX_EXPORT_BYTES:
        document = {**document, "purchases": [], "orders": [], "truncated": True}
    return document


async def _document(
    conn: BaseDBAsyncClient, customer: Customer, profile: int, now: datetime
) -> dict[str, Any]:
    ids = await profile_records(conn, profile)
    orders = (
        await Order.filter(customer_id=customer.id)
        .order_by("-id")
        .limit(MAX_ROWS + 1)
        .using_db(conn)
    )
    purchases = (
        await ChannelPurchase.filter(record_id__in=ids)
        .order_by("-at")
        .limit(MAX_ROWS + 1)
        .using_db(conn)
    )
    sessions = (
        await CustomerSession.filter(customer_id=customer.id)
        .order_by("-id")
        .limit(MAX_ROWS)
        .using_db(conn)
    )
    records = await IdentityRecord.filter(id__in=ids).order_by("id").using_db(conn)
    consents = (
        await ConsentEvent.filter(record_id__in=ids)
        .order_by("at", "id")
        .limit(MAX_ROWS)
        .using_db(conn)
    )
    return {
        "generatedAt": now.isoformat(),
        "account": _account(customer),
        "addresses": [
            {
                "label": a.label,
                "recipient": a.recipient,
                "phone": a.phone,
                "city": a.city,
                "street": a.street,
                "apartment": a.apartment,
                "postcode": a.postcode,
            }
            for a in await Address.filter(customer_id=customer.id).using_db(conn)
        ],
        "orders": [await _order(conn, o) for o in orders[:MAX_ROWS]],
        "purchases": [
            {
                "channel": p.channel.value,
                "ref": p.external_ref,
                "at": p.at.isoformat(),
                "isReturn": p.is_return,
                "amountKopecks": p.amount_kopecks,
            }
            for p in purchases[:MAX_ROWS]
        ],
        "sourceRecords": [
            {
                "source": r.source.value,
                "name": r.name,
                "phone": r.phone_raw,
                "email": r.email_raw,
                "loyaltyCard": r.loyalty_card,
                "seenFirst": r.created_at.isoformat(),
            }
            for r in records
        ],
        "consents": [
            {
                "purpose": c.purpose,
                "channel": c.channel,
                "granted": c.granted,
                "textVersion": c.text_version,
                "source": c.source,
                "device": c.device,
                "at": c.at.isoformat(),
            }
            for c in consents
        ],
        "sessions": [
            {
                "device": s.user_agent,
                "ip": s.ip,
                "createdAt": s.created_at.isoformat(),
                "lastUsedAt": s.last_used_at.isoformat(),
                "revoked": s.revoked_at is not None,
            }
            for s in sessions
        ],
        "truncated": len(orders) > MAX_ROWS or len(purchases) > MAX_ROWS,
    }


def _account(c: Customer) -> dict[str, Any]:
    return {
        "id": c.guid,
        "email": c.email,
        "phone": c.phone,
        "firstName": c.first_name,
        "lastName": c.last_name,
        "createdAt": c.created_at.isoformat(),
    }


async def _order(conn: BaseDBAsyncClient, o: Order) -> dict[str, Any]:
    lines = await OrderLine.filter(order_id=o.id).using_db(conn)
    return {
        "number": o.number,
        "createdAt": o.created_at.isoformat(),
        "status": o.status.value,
        "totalKopecks": o.total,
        "email": o.email,
        "phone": o.phone,
        "name": f"{o.first_name} {o.last_name}".strip(),
        "address": o.delivery_address,
        "lines": [
            {
                "sku": x.sku,
                "name": x.product_name,
                "quantity": x.quantity,
                "unitPriceKopecks": x.unit_price,
            }
            for x in lines
        ],
    }


async def erase_customer(
    *, redis: Redis, customer_id: int, text_version: str, device: str, now: datetime
) -> list[OutboxEvent]:
    """Anonymise the customer (see the module's doc) in one transaction; the customer row is
    locked (FOR UPDATE on PostgreSQL) so two requests erase once. Sessions end after commit.
    Returns the outbox rows to announce."""
    async with in_transaction() as conn:
        query = Customer.filter(id=customer_id).using_db(conn)
        customer = await (query.select_for_update() if is_postgres(conn) else query).first()
        if customer is None:
            raise DomainError(ErrorCode.NOT_FOUND, "no such customer", ())
        site = await site_record(conn, customer, now)
        profile = site.profile_id
        ids = await outbound.system_ids(conn, profile)
        records = await profile_records(conn, profile)
        proof = Proof(
            source=ConsentSource.SITE, text_version=text_version, device=device, actor=customer.guid
        )
        events = await record_consent(
            conn,
            record_id=records[0],
            purpose=ConsentPurpose.PERSONAL_DATA,
            channel=None,
            granted=False,
            proof=proof,
            now=now,
        )
        erased, orders = await erasure.whom(conn, customer, records)
        await _anonymise_account(conn, customer, erased, orders)
        await _anonymise_records(conn, records, now)
        await erasure.scrub_copies(conn, erased, now)
        events += await outbound.write(
            conn,
            kind=EventKind.CUSTOMER_ERASED,
            aggregate=outbound.privacy_aggregate(profile),
            record=ErasureRecord(ids, now),
            now=now,
        )
    await end_all_sessions(redis=redis, customer_id=customer_id, now=now)
    return events


async def _anonymise_account(
    conn: BaseDBAsyncClient, customer: Customer, erased: erasure.Erased, orders: Q
) -> None:
    """The account and the profile's guest customers, their orders and carts (`orders`: by
    customer or by contact), and addresses."""
    blank = {"email": None, "phone": None, "phone_raw": None, "first_name": "", "last_name": ""}
    mine = list(erased.customer_ids)
    await Order.filter(orders).using_db(conn).update(**blank, delivery_address="")
    # a cart has the order's contact fields: a guest's cart holds the contacts, not the id
    await Cart.filter(orders).using_db(conn).update(**blank, delivery_address="")
    await Address.filter(customer_id__in=mine).using_db(conn).delete()
    await (
        Customer.filter(id__in=mine)
        .using_db(conn)
        .update(**blank, password_hash=None, email_verified_at=None, phone_verified_at=None)
    )
    await (
        CustomerSession.filter(customer_id=customer.id).using_db(conn).update(user_agent="", ip="")
    )


async def _anonymise_records(conn: BaseDBAsyncClient, records: list[int], now: datetime) -> None:
    await (
        IdentityRecord.filter(id__in=records)
        .using_db(conn)
        .update(
            name=None,
            phone=None,
            phone_raw=None,
            phone_verified=False,
            email=None,
            email_raw=None,
            email_verified=False,
            loyalty_card=None,
            erased_at=now,
            updated_at=now,
        )
    )
    # a till's record is keyed by what the till saw (a card, a phone): the key goes too, so the
    # person's next receipt starts a new, unlinked record
    await conn.execute_query(
        f"UPDATE {IdentityRecord._meta.db_table} SET external_id = 'erased:' || CAST(id AS TEXT)"
        f" WHERE source = 'shop_till' AND id IN ({', '.join(str(int(r)) for r in records)})"
    )
    # the graph keeps its shape (the figures stay one person's), not the values that made it
    await IdentityLink.filter(left_id__in=records).using_db(conn).update(value="")
    await (
        IdentitySuggestion.filter(Q(left_id__in=records) | Q(right_id__in=records))
        .using_db(conn)
        .delete()
    )
