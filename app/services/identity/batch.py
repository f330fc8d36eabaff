"""Many source records observed at once (a batch of shop receipts, a bulk load), in the
caller's transaction, with a few statements for the whole batch instead of a few per record.

The outcome is what `observe_customer` on each sighting would give, with one order fixed:
records we hold are changed first (in the batch's order), then the new ones are written, then
linked (in the batch's order), then any repeated sighting of a record is applied one by one.
A new record is linked against every carrier its values have once the whole batch is written
(so a shop's own number typed for many people in one batch is shared from the start).

Statements for a batch: one SELECT of the records we hold, FOR UPDATE in id order on
PostgreSQL (two batches lock the records they share in one order; a record changed by a batch
is then changed as `observe_customer` would: retract, then link); one multi-row INSERT ... ON
CONFLICT DO NOTHING of the new ones (a record another transaction created meanwhile is
applied one by one after, like a repeat) and one UPDATE giving each its own profile; one
SELECT of every record carrying any of the new records' values (at most shared_cap + 2 rows a
value). Only a record that shares a value with another runs the linking rules, whose links
lock their two profiles' records (`graph.link_records`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q

from app.domain.errors import DomainError, ErrorCode
from app.domain.identity import DEFAULT_POLICY, CustomerSource, Evidence, Identifier, IdentityPolicy
from app.models.identity import IDENTIFIER_COLUMN, IdentityRecord
from app.models.sql import is_postgres, sql_instant
from app.services.identity.graph import link_by_evidence, profile_of, record_evidence
from app.services.identity.observe import (
    _COLUMNS,
    _changes,
    apply_changes,
    first_sighting,
    observe_customer,
)

MAX_SIGHTINGS = 5000  # a recordShopSales call's receipts
_ROWS_PER_INSERT = 500  # 500 x 17 parameters: well under both drivers' limits
Key = tuple[CustomerSource, str]


@dataclass(frozen=True, slots=True, kw_only=True)
class Sighting:
    """One source record as a system saw it (the arguments of `observe_customer`)."""

    source: CustomerSource
    external_id: str
    name: str | None = None
    phone: str | None = None
    phone_verified: bool = False
    email: str | None = None
    email_verified: bool = False
    loyalty_card: str | None = None
    onec_guid: str | None = None
    retailcrm_id: str | None = None
    customer_id: int | None = None

    def key(self) -> Key:
        key = self.external_id.strip()[:100]
        if not key:
            raise DomainError(ErrorCode.INVALID, "a source record needs its id", ("externalId",))
        return self.source, key

    def wanted(self) -> dict[str, Any]:
        fields = asdict(self)
        for name in ("source", "external_id", "customer_id"):
            fields.pop(name)
        return fields


async def observe_customers(
    conn: BaseDBAsyncClient,
    sightings: Sequence[Sighting],
    *,
    now: datetime,
    actor: str,
    policy: IdentityPolicy = DEFAULT_POLICY,
) -> list[int]:
    """Observe many source records in the caller's transaction; each sighting's record id."""
    if len(sightings) > MAX_SIGHTINGS:
        raise DomainError(ErrorCode.BATCH_TOO_LARGE, f"at most {MAX_SIGHTINGS}", ("sightings",))
    keys = [s.key() for s in sightings]
    first: dict[Key, int] = {}
    for index, key in enumerate(keys):
        first.setdefault(key, index)
    held = await _lock_held(conn, list(first))
    for key, index in first.items():
        if key in held:
            await _change(conn, held[key], sightings[index], now, actor)
    fresh = [sightings[i] for k, i in first.items() if k not in held]
    created = await _insert_new(conn, fresh, now, actor)
    await _link_new(conn, [created[k] for k in first if k in created], now, actor, policy)
    ids: list[int] = []
    for index, (sighting, key) in enumerate(zip(sightings, keys, strict=True)):
        record = held.get(key) or created.get(key)
        if record is not None and first[key] == index:
            ids.append(record.id)
        else:  # a repeat in this batch, or created by another transaction meanwhile
            ids.append(await _one_by_one(conn, sighting, now, actor))
    return ids


async def _lock_held(conn: BaseDBAsyncClient, keys: list[Key]) -> dict[Key, IdentityRecord]:
    """The records we hold, locked FOR UPDATE in id order (PostgreSQL)."""
    if not keys:
        return {}
    by_source: dict[CustomerSource, list[str]] = {}
    for source, key in keys:
        by_source.setdefault(source, []).append(key)
    match = Q(
        *(Q(source=s, external_id__in=sorted(k)) for s, k in sorted(by_source.items())),
        join_type="OR",
    )
    query = IdentityRecord.filter(match).order_by("id").using_db(conn)
    rows = await (query.select_for_update() if is_postgres(conn) else query)
    return {(r.source, r.external_id): r for r in rows}


async def _change(
    conn: BaseDBAsyncClient, record: IdentityRecord, sighting: Sighting, now: datetime, actor: str
) -> None:
    if record.erased_at is not None:
        return  # forgotten on request: a system still sending the person changes nothing
    if sighting.customer_id is not None and record.customer_id is None:
        record.customer_id = sighting.customer_id
        await (
            IdentityRecord.filter(id=record.id)
            .using_db(conn)
            .update(customer_id=sighting.customer_id)
        )
    mirror = sighting.source is CustomerSource.SITE
    changes = _changes(record, mirror=mirror, **sighting.wanted())
    if changes:
        await apply_changes(conn, record=record, changes=changes, now=now, actor=actor)


async def _insert_new(
    conn: BaseDBAsyncClient, sightings: list[Sighting], now: datetime, actor: str
) -> dict[Key, IdentityRecord]:
    """First sightings written whole, many rows an INSERT; ON CONFLICT DO NOTHING leaves out a
    record another transaction created meanwhile (the caller applies it one by one)."""
    blanks = {s.key(): _blank(s, now, actor) for s in sightings}
    found: dict[Key, IdentityRecord] = {}
    items = list(blanks.items())
    for start in range(0, len(items), _ROWS_PER_INSERT):
        chunk = items[start : start + _ROWS_PER_INSERT]
        values: list[Any] = []
        for _, blank in chunk:
            cells = [getattr(blank, c) for c in _COLUMNS]
            cells[0] = blank.source.value
            values += [sql_instant(conn, v) if isinstance(v, datetime) else v for v in cells]
        marks = _marks(conn, len(chunk), len(_COLUMNS))
        table = IdentityRecord._meta.db_table
        rows = await conn.execute_query_dict(
            f"INSERT INTO {table} ({', '.join(_COLUMNS)}) VALUES {marks}"
            " ON CONFLICT (source, external_id) DO NOTHING RETURNING id, source, external_id",
            values,
        )
        for row in rows:
            key = (CustomerSource(row["source"]), str(row["external_id"]))
            blanks[key].id = blanks[key].profile_id = int(row["id"])
            found[key] = blanks[key]
    if found:  # a profile of its own until a rule links it
        table = IdentityRecord._meta.db_table
        ids = sorted(r.id for r in found.values())
        await conn.execute_query(
            f"UPDATE {table} SET profile_id = id WHERE id IN ({', '.join(map(str, ids))})"
        )
    return found


def _blank(sighting: Sighting, now: datetime, actor: str) -> IdentityRecord:
    source, key = sighting.key()
    mirror = source is CustomerSource.SITE
    wanted = sighting.wanted()
    return first_sighting(source, key, now, actor, sighting.customer_id, mirror, wanted)


def _marks(conn: BaseDBAsyncClient, rows: int, width: int) -> str:
    if is_postgres(conn):
        return ", ".join(
            "(" + ", ".join(f"${r * width + c + 1}" for c in range(width)) + ")"
            for r in range(rows)
        )
    return ", ".join("(" + ", ".join("?" * width) + ")" for _ in range(rows))


async def _link_new(
    conn: BaseDBAsyncClient,
    records: list[IdentityRecord],
    now: datetime,
    actor: str,
    policy: IdentityPolicy,
) -> None:
    """The identity rules for each new record, in order, on the carriers read for all at once;
    a record sharing no value with another has nothing to link, suggest or drop."""
    evidence = {r.id: record_evidence(r) for r in records}
    pool = await _carriers(conn, [e for found in evidence.values() for e in found], policy)
    dropped: set[tuple[Identifier, str]] = set()
    weighed: set[int] = set()  # records an earlier one of this batch may have joined
    for record in records:
        carriers = {
            e: [o for o in pool.get((e.kind, e.value), []) if o.id != record.id][
                : policy.shared_cap + 1
            ]
            for e in evidence[record.id]
        }
        if not _work(carriers, dropped, policy):
            continue
        if record.id in weighed:
            record.profile_id = await profile_of(conn, record.id)
        weighed.update(o.id for others in carriers.values() for o in others)
        await link_by_evidence(
            conn,
            record=record,
            now=now,
            actor=actor,
            policy=policy,
            carriers=carriers,
            dropped=dropped,
        )


def _work(
    carriers: dict[Evidence, list[IdentityRecord]],
    dropped: set[tuple[Identifier, str]],
    policy: IdentityPolicy,
) -> bool:
    """Is there anything to link, suggest or drop? Not when no value is shared with another
    record, nor when the only ones shared are shared values this batch has dropped already."""
    for e, others in carriers.items():
        shared = len(others) + 1 > policy.shared_cap
        if others and not (shared and (e.kind, e.value) in dropped):
            return True
    return False


_CARRIER_COLUMNS = ("id", "profile_id", "phone_verified", "email_verified")


async def _carriers(
    conn: BaseDBAsyncClient, evidence: list[Evidence], policy: IdentityPolicy
) -> dict[tuple[Identifier, str], list[IdentityRecord]]:
    """Every record carrying each value (oldest first, at most shared_cap + 2 a value: enough
    to tell a shared value), for all the values in one statement."""
    wanted: dict[Identifier, set[str]] = {}
    for e in evidence:
        wanted.setdefault(e.kind, set()).add(e.value)
    if not wanted:
        return {}
    chunks = [
        (kind, chunk)
        for kind, values in sorted(wanted.items())
        for chunk in _chunked(sorted(values), _VALUES_PER_STATEMENT)
    ]
    rows: list[dict[str, Any]] = []
    while chunks:  # a value's carriers are all in one part: parts may go in any statement
        taken, size = [], 0
        while chunks and size + len(chunks[0][1]) <= _VALUES_PER_STATEMENT:
            taken.append(chunks.pop(0))
            size += len(taken[-1][1])
        rows += await _carrier_rows(conn, taken, policy.shared_cap + 2)
    pool: dict[tuple[Identifier, str], list[IdentityRecord]] = {}
    for row in sorted(rows, key=lambda r: int(r["id"])):
        other = IdentityRecord(
            id=int(row["id"]),
            profile_id=int(row["profile_id"]),
            phone_verified=bool(row["phone_verified"]),
            email_verified=bool(row["email_verified"]),
        )
        pool.setdefault((Identifier(row["kind"]), str(row["value"])), []).append(other)
    return pool


_VALUES_PER_STATEMENT = 2000  # parameters: far under SQLite's and PostgreSQL's limits


def _chunked(values: list[str], size: int) -> list[list[str]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


async def _carrier_rows(
    conn: BaseDBAsyncClient, parts: list[tuple[Identifier, list[str]]], per_value: int
) -> list[dict[str, Any]]:
    table = IdentityRecord._meta.db_table
    params: list[str] = []
    selects: list[str] = []
    for kind, values in parts:
        column = IDENTIFIER_COLUMN[kind]
        marks = [_mark(conn, len(params) + n) for n in range(len(values))]
        params += values
        selects.append(
            f"SELECT '{kind.value}' AS kind, {column} AS value, {', '.join(_CARRIER_COLUMNS)}"
            f" FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY {column} ORDER BY id) AS n"
            f" FROM {table} WHERE {column} IN ({', '.join(marks)}) AND erased_at IS NULL) q"
            f" WHERE n <= {per_value}"
        )
    return list(await conn.execute_query_dict(" UNION ALL ".join(selects), params))


def _mark(conn: BaseDBAsyncClient, index: int) -> str:
    return f"${index + 1}" if is_postgres(conn) else "?"


async def _one_by_one(conn: BaseDBAsyncClient, s: Sighting, now: datetime, actor: str) -> int:
    return await observe_customer(
        conn,
        source=s.source,
        external_id=s.external_id,
        now=now,
        actor=actor,
        customer_id=s.customer_id,
        **s.wanted(),
    )
