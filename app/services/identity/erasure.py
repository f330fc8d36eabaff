"""Erasure's reach beyond the account and the graph, in the erasure's transaction: the shop
receipts of the profile's records (the till's view of the customer), our outbox copies of what
1C, RetailCRM, the payment provider and partners were told of the customer's orders and of the
customer, and the messages queued or kept for them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q

from app.domain.erasure import PersonalData, anonymised_message, anonymised_payload
from app.domain.outbox import EventKind, EventState, Target
from app.models.channels import ShopReceipt
from app.models.customers import Address, Customer
from app.models.identity import IdentityRecord
from app.models.orders import Order
from app.models.outbox import OutboxEvent
from app.models.sql import is_postgres, placeholders

NOT_SENT = "not sent: the recipient's data was erased"
_CORE = (Target.ONEC, Target.RETAILCRM, Target.RECEIPTS)  # their events are keyed by aggregate


@dataclass(frozen=True, slots=True)
class Erased:
    """Whom an erasure is about, read before anything is anonymised."""

    customer_ids: tuple[int, ...]  # the account and the guest customers of its profile
    customer_guids: tuple[str, ...]
    order_guids: tuple[str, ...]
    records: tuple[int, ...]
    person: PersonalData


async def whom(
    conn: BaseDBAsyncClient, account: Customer, records: Sequence[int]
) -> tuple[Erased, Q]:
    """The erasure's subject, and the filter of their orders and carts (theirs, or with their
    contacts). Guest customers of the profile are the same person; other accounts are not
    touched (a person signs in to each to erase it)."""
    linked = await IdentityRecord.filter(id__in=records, customer_id__not_isnull=True).using_db(
        conn
    )
    guest_ids = [r.customer_id for r in linked if r.customer_id != account.id]
    guests = await Customer.filter(id__in=guest_ids, password_hash__isnull=True).using_db(conn)
    customers = [account, *guests]
    orders = Q(customer_id__in=[c.id for c in customers])
    if emails := [c.email for c in customers if c.email]:
        orders |= Q(email__in=emails)
    if phones := [c.phone for c in customers if c.phone]:
        orders |= Q(phone__in=phones)
    order_rows = await Order.filter(orders).using_db(conn)
    values = await _values(conn, customers, order_rows, records)
    erased = Erased(
        customer_ids=tuple(c.id for c in customers),
        customer_guids=tuple(c.guid for c in customers),
        order_guids=tuple(o.guid for o in order_rows),
        records=tuple(records),
        person=PersonalData.of(values),
    )
    return erased, orders


async def _values(
    conn: BaseDBAsyncClient,
    customers: Sequence[Customer],
    orders: Sequence[Order],
    records: Sequence[int],
) -> list[str | None]:
    values: list[str | None] = []
    for c in customers:
        values += [c.email, c.phone, c.phone_raw, c.first_name, c.last_name]
        values.append(f"{c.first_name} {c.last_name}")
    for o in orders:
        values += [o.email, o.phone, o.phone_raw, o.first_name, o.last_name, o.delivery_address]
        values.append(f"{o.first_name} {o.last_name}")
    for r in await IdentityRecord.filter(id__in=records).using_db(conn):
        values += [r.name, r.phone, r.phone_raw, r.email, r.email_raw, r.loyalty_card]
    for a in await Address.filter(customer_id__in=[c.id for c in customers]).using_db(conn):
        values += [a.recipient, a.phone]
    receipts = ShopReceipt.filter(identity_record_id__in=records).using_db(conn)
    for phone, email, card in await receipts.values_list("phone", "email", "loyalty_card"):
        values += [phone, email, card]
    return values


async def scrub_copies(conn: BaseDBAsyncClient, erased: Erased, now: datetime) -> None:
    """Anonymise the receipts, outbox copies and messages of the erased person."""
    await _receipts(conn, erased.records)
    await _outbox_copies(conn, erased)
    await _messages(conn, erased.person, now)


async def _receipts(conn: BaseDBAsyncClient, records: Sequence[int]) -> None:
    """The till's view of the customer goes; the receipt (GUIDs, amounts, lines) stays. Its key
    becomes its (anonymised) source record's own, so a return still finds its sale's record."""
    if not records:
        return
    ids = ", ".join(str(int(r)) for r in records)
    await conn.execute_query(
        "UPDATE shop_receipt SET phone = NULL, email = NULL, loyalty_card = NULL,"
        " customer_key = 'erased:' || CAST(identity_record_id AS TEXT)"
        f" WHERE identity_record_id IN ({ids})"
    )


async def _outbox_copies(conn: BaseDBAsyncClient, erased: Erased) -> None:
    """Pending and delivered events of the customer's aggregates (their upserts, their orders'
    events to 1C, RetailCRM and the payment provider, partners' copies of their orders) and of
    segment exports naming them: contacts rewritten, so a pending event delivers anonymised
    data. The other system's answer is dropped too (it may echo the person)."""
    aggregates = [f"customer:{g}" for g in erased.customer_guids]
    aggregates += [f"order:{g}" for g in erased.order_guids]
    mine = Q(target__in=list(_CORE), aggregate__in=aggregates) if aggregates else Q(id=-1)
    for guid in erased.order_guids:
        mine |= Q(target=Target.PARTNER, aggregate__endswith=f":order:{guid}")
    # A closing receipt not registered yet keeps the contact it goes to: 54-FZ requires the
    # buyer's e-mail or phone on it (a legal duty, a basis of its own under 152-FZ), and
    # without one the provider refuses it. One registered before the erasure is scrubbed with
    # the rest; one registered after it is marked `erased`, and loses the contact in our row
    # the moment the provider has it (`kept_after_delivery`, in the delivery's update).
    # Marked first (a conditional update, state still pending), then the rest is read: a
    # receipt delivered in between is no longer pending, so it is scrubbed below.
    fiscal = Q(target=Target.RECEIPTS, state=EventState.PENDING)
    for event in await OutboxEvent.filter(mine & fiscal).using_db(conn):
        await (
            OutboxEvent.filter(id=event.id, state=EventState.PENDING)
            .using_db(conn)
            .update(payload={**event.payload, "erased": True}, response_body="", last_error="")
        )
    exports = await _naming(conn, erased.person, Target.RETAILCRM, EventKind.SEGMENT_EXPORTED)
    for event in [*await OutboxEvent.filter(mine & ~fiscal).using_db(conn), *exports]:
        await _rewrite(conn, event, erased.person)


async def _rewrite(conn: BaseDBAsyncClient, event: OutboxEvent, person: PersonalData) -> None:
    payload = anonymised_payload(event.payload, person)
    await (
        OutboxEvent.filter(id=event.id)
        .using_db(conn)
        .update(payload=payload, response_body="", last_error="")
    )


async def _messages(conn: BaseDBAsyncClient, person: PersonalData, now: datetime) -> None:
    """Messages to the person (their e-mail or phone): no recipient, no text; one not sent yet
    is parked, never sent (nobody is left to send it to)."""
    for event in await _naming(conn, person, Target.NOTIFY, EventKind.CUSTOMER_MESSAGE):
        pending = event.state is EventState.PENDING
        await (
            OutboxEvent.filter(id=event.id)
            .using_db(conn)
            .update(
                payload=anonymised_message(event.payload, person),
                state=EventState.DEAD if pending else event.state,
                last_error=NOT_SENT if pending else event.last_error,
                response_body="",
            )
        )


async def _naming(
    conn: BaseDBAsyncClient, person: PersonalData, to: Target, of: EventKind
) -> list[OutboxEvent]:
    """Events of a kind whose contact (a message's recipient, a segment member's address) is
    the person's: one statement, matched inside the JSON (erasure is rare; these events are not
    keyed by customer)."""
    contacts = sorted(person.values)
    if not contacts:
        return []
    field = "to" if of is EventKind.CUSTOMER_MESSAGE else "contact"
    params = [to.value, of.value, *contacts]
    target, kind, *marks = (m[0] for m in placeholders(conn, len(params), 1))
    recipient = (
        f"payload->>'{field}'" if is_postgres(conn) else f"json_extract(payload, '$.{field}')"
    )
    rows = await conn.execute_query_dict(
        f"SELECT id FROM outbox_event WHERE target = {target} AND kind = {kind}"
        f" AND lower({recipient}) IN ({', '.join(marks)})",
        params,
    )
    ids = [int(r["id"]) for r in rows]
    return await OutboxEvent.filter(id__in=ids).using_db(conn) if ids else []
