"""Shop till receipts from 1C:Розница: a batch in one transaction, repeats change nothing.

Every receipt of a call is checked first (text, GUIDs, money, the shop); a receipt with a fault
is reported at its path and written nowhere. The others are written together in one
transaction with bulk inserts, each put in the history of the customer the till saw
(`observe_customers` + `record_purchase`, the identity graph's entry points). A receipt GUID we
hold already is a repeat when its body is the same (nothing changes) and a CONFLICT when it is
not (a fiscalised receipt is never rewritten).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from asyncpg.exceptions import DeadlockDetectedError
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app.domain.errors import DomainError, ErrorCode, Problem
from app.domain.identity import Channel, CustomerSource, PurchaseLine
from app.domain.shop_sales import (
    RawReceipt,
    Receipt,
    ReceiptKind,
    customer_key,
    parse_receipt,
)
from app.models.catalog import Variant, Warehouse
from app.models.channels import ShopReceipt, ShopReceiptLine
from app.services.identity.batch import Sighting, observe_customers
from app.services.identity.observe import record_purchase

ACTOR = "1c:retail"  # who the identity graph says observed a till's customer
_CHUNK = 900  # keeps IN (...) lists under SQLite's parameter limit
_TILL_SHOP = "shop"  # the warehouse kind a till belongs to


@dataclass
class ShopSalesReport:
    recorded: int = 0
    duplicates: int = 0  # receipts we held already, with the same body
    problems: list[Problem] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Ready:
    index: int
    receipt: Receipt
    shop_id: int


async def record_shop_sales(
    *,
    receipts: Sequence[RawReceipt],
    max_receipts: int,
    max_lines: int,
    now: datetime,
    rejected: Mapping[int, Problem] | None = None,
) -> ShopSalesReport:
    """Check and record a batch of till receipts; receipts with a fault are named, the others
    land together. `rejected`: receipts the input validation refused, by index."""
    _check_size(receipts, max_receipts, max_lines)
    report = ShopSalesReport()
    parsed = _parse(receipts, report, rejected or {}, now)
    ready = await _in_shops(_once_per_batch(parsed, report), report)
    try:
        written = await _write(ready, now)
    except IntegrityError:  # a concurrent call wrote some of these GUIDs first: now repeats
        written = await _write(ready, now)
    except DeadlockDetectedError:  # batches whose customers cross: PostgreSQL rolled this
        written = await _write(ready, now)  # one back whole, and the other has committed
    report.recorded = written.recorded
    report.duplicates += written.duplicates
    report.problems = sorted([*report.problems, *written.problems], key=lambda p: int(p.path[1]))
    return report


def _check_size(receipts: Sequence[RawReceipt], max_receipts: int, max_lines: int) -> None:
    lines = sum(len(r.lines) for r in receipts)
    if len(receipts) > max_receipts or lines > max_lines:
        raise DomainError(
            ErrorCode.BATCH_TOO_LARGE,
            f"at most {max_receipts} receipts and {max_lines} lines per call: nothing was recorded",
            ("receipts",),
        )


def _parse(
    raw: Sequence[RawReceipt],
    report: ShopSalesReport,
    rejected: Mapping[int, Problem],
    now: datetime,
) -> list[tuple[int, Receipt]]:
    parsed: list[tuple[int, Receipt]] = []
    for index, receipt in enumerate(raw):
        if index in rejected:
            report.problems.append(rejected[index])
            continue
        try:
            parsed.append((index, parse_receipt(receipt, now=now, path=("receipts", index))))
        except DomainError as error:
            report.problems.append(error.as_problem())
    return parsed


def _once_per_batch(
    parsed: list[tuple[int, Receipt]], report: ShopSalesReport
) -> list[tuple[int, Receipt]]:
    """A GUID twice in one call: the same body again is a repeat, another is a CONFLICT."""
    first: dict[str, Receipt] = {}
    kept: list[tuple[int, Receipt]] = []
    for index, receipt in parsed:
        earlier = first.get(receipt.guid)
        if earlier is None:
            first[receipt.guid] = receipt
            kept.append((index, receipt))
        elif earlier.fingerprint() == receipt.fingerprint():
            report.duplicates += 1
        else:
            report.problems.append(_conflict(index, receipt.guid, "earlier in this call"))
    return kept


async def _in_shops(parsed: list[tuple[int, Receipt]], report: ShopSalesReport) -> list[_Ready]:
    shops = {
        guid: (wid, kind)
        for guid, wid, kind in await Warehouse.all().values_list("guid", "id", "kind")
    }
    ready: list[_Ready] = []
    for index, receipt in parsed:
        shop = shops.get(receipt.shop_guid)
        path = ("receipts", index, "shopGuid")
        if shop is None:
            message = f"no warehouse with GUID {receipt.shop_guid}"
            report.problems.append(Problem(ErrorCode.UNKNOWN_WAREHOUSE, path, message))
        elif str(shop[1]) != _TILL_SHOP:
            message = f"warehouse {receipt.shop_guid} is not a shop (kind {shop[1]})"
            report.problems.append(Problem(ErrorCode.INVALID, path, message))
        else:
            ready.append(_Ready(index, receipt, shop[0]))
    return ready


async def _write(ready: list[_Ready], now: datetime) -> ShopSalesReport:
    """One transaction for the whole batch: a failure inside it writes nothing at all.

    Lock order, so that overlapping calls queue instead of deadlocking: the customers' source
    records first (`observe_customers` locks those we hold, in id order), then the receipts,
    by GUID (a concurrent call holding one of them makes this one wait for its commit, then
    fail on the unique GUID and start again, finding them held: duplicates)."""
    report = ShopSalesReport()
    async with in_transaction() as conn:
        held = await _held_fingerprints(conn, [r.receipt.guid for r in ready])
        new: list[_Ready] = []
        for item in ready:
            stored = held.get(item.receipt.guid)
            if stored is None:
                new.append(item)
            elif stored == item.receipt.fingerprint():
                report.duplicates += 1
            else:
                report.problems.append(_conflict(item.index, item.receipt.guid, "already"))
        if not new:
            return report
        new.sort(key=lambda r: r.receipt.guid)  # rows in one order: overlapping calls queue
        variants = await _variant_ids(
            conn, {ln.variant_guid for r in new for ln in r.receipt.lines}
        )
        keys = await _customer_keys(conn, [r.receipt for r in new])
        records = await _observe(conn, new, keys, now)
        await _insert(conn, new, keys, records, variants, now)
        for item in new:
            await _record_purchase(conn, item.receipt, records[keys[item.receipt.guid]], variants)
        report.recorded = len(new)
    return report


async def _held_fingerprints(conn: BaseDBAsyncClient, guids: list[str]) -> dict[str, str]:
    held: dict[str, str] = {}
    for chunk in _chunks(sorted(set(guids))):
        rows = (
            await ShopReceipt.filter(guid__in=chunk)
            .using_db(conn)
            .values_list("guid", "fingerprint")
        )
        held.update((str(g), str(f)) for g, f in rows)
    return held


async def _variant_ids(conn: BaseDBAsyncClient, guids: set[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for chunk in _chunks(sorted(guids)):
        rows = await Variant.filter(guid__in=chunk).using_db(conn).values_list("guid", "id")
        found.update((str(g), int(i)) for g, i in rows)
    return found


async def _customer_keys(conn: BaseDBAsyncClient, receipts: list[Receipt]) -> dict[str, str]:
    """Whose history each receipt goes in. A return the till took without asking for the card
    goes to whoever made the sale, when we hold that sale (here or in this batch)."""
    keys = {r.guid: customer_key(r) for r in receipts}
    anonymous = [
        r for r in receipts if r.kind is ReceiptKind.RETURN and _is_anonymous(keys[r.guid])
    ]
    sales = [r.sale_guid for r in anonymous if r.sale_guid]
    stored: dict[str, str] = {}
    for chunk in _chunks(sorted(set(sales))):
        rows = (
            await ShopReceipt.filter(guid__in=chunk)
            .using_db(conn)
            .values_list("guid", "customer_key")
        )
        stored.update((str(g), str(k)) for g, k in rows)
    for r in anonymous:
        sale = r.sale_guid or ""
        keys[r.guid] = keys.get(sale) or stored.get(sale) or keys[r.guid]
    return keys


def _is_anonymous(key: str) -> bool:
    return key.startswith("receipt:")


async def _observe(
    conn: BaseDBAsyncClient, new: list[_Ready], keys: Mapping[str, str], now: datetime
) -> dict[str, int]:
    """One source record per customer the tills saw, observed once per call with what its
    receipts say, the newest value of each field winning (as observing them one by one, oldest
    first, would leave it). Sorted by key: two calls lock the records in one order."""
    seen: dict[str, dict[str, str]] = {}
    for item in sorted(new, key=lambda r: r.receipt.sold_at):
        key = keys[item.receipt.guid]
        fields = seen.setdefault(key, {})
        if customer_key(item.receipt) == key:  # not a return filed under its sale's customer
            fields.update((name, value) for name, value in _till_saw(item.receipt) if value)
    ordered = sorted(seen)
    sightings = [
        Sighting(
            source=CustomerSource.SHOP_TILL,
            external_id=key,
            phone=seen[key].get("phone"),
            email=seen[key].get("email"),
            loyalty_card=seen[key].get("loyalty_card"),
            onec_guid=seen[key].get("onec_guid"),
        )
        for key in ordered
    ]
    ids = await observe_customers(conn, sightings, now=now, actor=ACTOR)  # one batch
    return dict(zip(ordered, ids, strict=True))


def _till_saw(receipt: Receipt) -> list[tuple[str, str | None]]:
    return [
        ("phone", receipt.phone),
        ("email", receipt.email),
        ("loyalty_card", receipt.loyalty_card),
        ("onec_guid", receipt.customer_guid),
    ]


async def _insert(
    conn: BaseDBAsyncClient,
    new: list[_Ready],
    keys: Mapping[str, str],
    records: Mapping[str, int],
    variants: Mapping[str, int],
    now: datetime,
) -> None:
    await ShopReceipt.bulk_create(
        [_receipt_row(item, keys, records, now) for item in new], batch_size=500, using_db=conn
    )
    ids: dict[str, int] = {}
    for chunk in _chunks([item.receipt.guid for item in new]):
        rows = await ShopReceipt.filter(guid__in=chunk).using_db(conn).values_list("guid", "id")
        ids.update((str(g), int(i)) for g, i in rows)
    lines = [
        ShopReceiptLine(
            receipt_id=ids[item.receipt.guid],
            variant_guid=line.variant_guid,
            variant_id=variants.get(line.variant_guid),
            quantity=line.quantity,
            price=line.price,
            discount=line.discount,
            amount=line.amount,
        )
        for item in new
        for line in item.receipt.lines
    ]
    await ShopReceiptLine.bulk_create(lines, batch_size=1000, using_db=conn)


def _receipt_row(
    item: _Ready, keys: Mapping[str, str], records: Mapping[str, int], now: datetime
) -> ShopReceipt:
    receipt = item.receipt
    key = keys[receipt.guid]
    return ShopReceipt(
        guid=receipt.guid,
        kind=receipt.kind,
        shop_id=item.shop_id,
        sold_at=receipt.sold_at,
        sale_guid=receipt.sale_guid,
        phone=receipt.phone,
        loyalty_card=receipt.loyalty_card,
        email=receipt.email,
        customer_guid=receipt.customer_guid,
        customer_key=key,
        identity_record_id=records[key],
        total=receipt.total,
        fingerprint=receipt.fingerprint(),
        received_at=now,
    )


async def _record_purchase(
    conn: BaseDBAsyncClient, receipt: Receipt, record_id: int, variants: Mapping[str, int]
) -> None:
    sign = -1 if receipt.kind is ReceiptKind.RETURN else 1
    await record_purchase(
        conn,
        record_id=record_id,
        channel=Channel.SHOP,
        external_ref=receipt.guid,
        at=receipt.sold_at,
        lines=[
            PurchaseLine(variants.get(ln.variant_guid), sign * ln.quantity, sign * ln.amount)
            for ln in receipt.lines
        ],
        is_return=receipt.kind is ReceiptKind.RETURN,
    )


def _conflict(index: int, guid: str, when: str) -> Problem:
    return Problem(
        ErrorCode.CONFLICT,
        ("receipts", index, "guid"),
        f"receipt {guid} was sent {when} with another body: a receipt is never rewritten",
    )


def _chunks(values: Iterable[str]) -> Iterable[list[str]]:
    ordered = list(values)
    for start in range(0, len(ordered), _CHUNK):
        yield ordered[start : start + _CHUNK]
