"""Apply stock figures from 1C: newest figure wins, repeats change nothing, bad rows are named."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from tortoise.transactions import in_transaction

from app.domain.errors import DomainError, ErrorCode, Problem
from app.domain.stock import (
    SnapshotOutcome,
    StockSnapshot,
    judge_snapshot,
    latest_per_position,
    parse_snapshot,
)
from app.models.catalog import Variant, Warehouse
from app.models.stock import NewLevel, StockLevel, upsert_newer_levels
from app.services.inventory.reconciliation import reconcile_snapshots
from app.services.partners import recording as partner_events

_LOOKUP_CHUNK = 900  # keeps IN (...) lists under SQLite's parameter limit


@dataclass(frozen=True, slots=True)
class RawStockSnapshot:
    variant_guid: str
    warehouse_guid: str
    quantity: int
    as_of: str


@dataclass
class StockIntakeReport:
    applied: int = 0
    duplicates: int = 0
    reconciled: int = 0  # reserved units the new figures already count: left the buffer
    stale_rows: list[int] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


async def apply_stock_snapshots(
    *, rows: list[RawStockSnapshot], max_rows: int, rejected: Mapping[int, Problem] | None = None
) -> StockIntakeReport:
    """Validate, resolve and apply a batch of 1C stock snapshots; valid rows land. Rows the
    caller's input validation refused (`rejected`, by index) are reported as given."""
    if len(rows) > max_rows:
        raise DomainError(ErrorCode.BATCH_TOO_LARGE, f"at most {max_rows} rows per call", ("rows",))
    report = StockIntakeReport()
    now = datetime.now(UTC)
    parsed = _parse_rows(rows, report, now=now, rejected=rejected or {})
    resolved = await _resolve_positions(parsed, report)
    keep, older = latest_per_position([snap for _, snap, _ in resolved])
    for i in older:
        _report_stale(report, resolved[i][0])  # a newer figure for it is in this batch
    candidates = [resolved[i] for i in keep]
    async with in_transaction() as conn:
        stored = await _stored_levels(candidates)
        to_write: list[tuple[int, NewLevel]] = []
        for index, snap, position in candidates:
            on_hand, as_of = stored.get(position, (None, None))
            outcome = judge_snapshot(as_of, on_hand, snap)
            if outcome is SnapshotOutcome.APPLIED:
                to_write.append((index, (*position, snap.quantity, snap.as_of)))
            elif outcome is SnapshotOutcome.DUPLICATE:
                report.duplicates += 1
            else:
                _report_stale(report, index)
        to_write.sort(key=lambda item: (item[1][0], item[1][1]))  # lock order: see inventory
        written = await upsert_newer_levels(conn, [row for _, row in to_write])
        applied = {(r[0], r[1]): r[3] for _, r in to_write if (r[0], r[1]) in written}
        report.reconciled = await reconcile_snapshots(conn, applied, now=now)
        await partner_events.record_stock_change((v for v, _ in applied), now=now)
    for index, row in to_write:
        if (row[0], row[1]) in written:
            report.applied += 1
        else:  # a newer figure landed concurrently between our read and our write
            _report_stale(report, index)
    report.stale_rows.sort()
    report.problems.sort(key=lambda p: int(p.path[1]))
    return report


def _parse_rows(
    rows: list[RawStockSnapshot],
    report: StockIntakeReport,
    *,
    now: datetime,
    rejected: Mapping[int, Problem],
) -> list[tuple[int, StockSnapshot]]:
    parsed: list[tuple[int, StockSnapshot]] = []
    for index, row in enumerate(rows):
        if index in rejected:
            report.problems.append(rejected[index])
            continue
        try:
            snap = parse_snapshot(
                variant_guid=row.variant_guid,
                warehouse_guid=row.warehouse_guid,
                quantity=row.quantity,
                as_of=row.as_of,
                now=now,
                path=("rows", index),
            )
        except DomainError as error:
            report.problems.append(error.as_problem())
        else:
            parsed.append((index, snap))
    return parsed


Position = tuple[int, int]


async def _resolve_positions(
    parsed: list[tuple[int, StockSnapshot]], report: StockIntakeReport
) -> list[tuple[int, StockSnapshot, Position]]:
    variant_ids = await _variant_ids({snap.variant_guid for _, snap in parsed})
    warehouse_ids = dict(await Warehouse.all().values_list("guid", "id"))
    resolved: list[tuple[int, StockSnapshot, Position]] = []
    for index, snap in parsed:
        variant_id = variant_ids.get(snap.variant_guid)
        warehouse_id = warehouse_ids.get(snap.warehouse_guid)
        if variant_id is None:
            report.problems.append(
                Problem(
                    ErrorCode.UNKNOWN_VARIANT,
                    ("rows", index, "variantGuid"),
                    f"no variant with GUID {snap.variant_guid}",
                )
            )
        elif warehouse_id is None:
            report.problems.append(
                Problem(
                    ErrorCode.UNKNOWN_WAREHOUSE,
                    ("rows", index, "warehouseGuid"),
                    f"no warehouse with GUID {snap.warehouse_guid}",
                )
            )
        else:
            resolved.append((index, snap, (variant_id, warehouse_id)))
    return resolved


async def _variant_ids(guids: set[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    ordered = sorted(guids)
    for start in range(0, len(ordered), _LOOKUP_CHUNK):
        chunk = ordered[start : start + _LOOKUP_CHUNK]
        found.update(await Variant.filter(guid__in=chunk).values_list("guid", "id"))
    return found


async def _stored_levels(
    candidates: list[tuple[int, StockSnapshot, Position]],
) -> dict[Position, tuple[int, datetime | None]]:
    variant_ids = sorted({position[0] for _, _, position in candidates})
    stored: dict[Position, tuple[int, datetime | None]] = {}
    for start in range(0, len(variant_ids), _LOOKUP_CHUNK):
        chunk = variant_ids[start : start + _LOOKUP_CHUNK]
        rows = await StockLevel.filter(variant_id__in=chunk).values_list(
            "variant_id", "warehouse_id", "on_hand", "as_of"
        )
        for variant_id, warehouse_id, on_hand, as_of in rows:
            stored[(variant_id, warehouse_id)] = (on_hand, as_of)
    return stored


def _report_stale(report: StockIntakeReport, index: int) -> None:
    report.stale_rows.append(index)
