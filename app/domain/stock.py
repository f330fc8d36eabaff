"""Rules for stock figures that 1C sends: which one wins, which are invalid."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from app.domain.catalog import parse_guid
from app.domain.errors import DomainError, ErrorCode


class SnapshotOutcome(StrEnum):
    APPLIED = "APPLIED"
    STALE = "STALE"
    DUPLICATE = "DUPLICATE"


@dataclass(frozen=True, slots=True)
class StockSnapshot:
    """1C's figure for one variant in one warehouse at `as_of` (1C's clock)."""

    variant_guid: str
    warehouse_guid: str
    quantity: int
    as_of: datetime


def judge_snapshot(
    stored_as_of: datetime | None, stored_quantity: int | None, snapshot: StockSnapshot
) -> SnapshotOutcome:
    """Decide whether a snapshot replaces the stored figure.

    A figure older than the stored one is stale; the same instant with the same quantity is a
    re-delivery. The same instant with another quantity cannot come from one 1C clock, so the
    first one stays and the second is reported as stale rather than silently flipping stock.
    """
    if stored_as_of is None:
        return SnapshotOutcome.APPLIED
    if snapshot.as_of > stored_as_of:
        return SnapshotOutcome.APPLIED
    if snapshot.as_of == stored_as_of and snapshot.quantity == stored_quantity:
        return SnapshotOutcome.DUPLICATE
    return SnapshotOutcome.STALE


def latest_per_position(snapshots: list[StockSnapshot]) -> tuple[list[int], list[int]]:
    """Split a batch into the indexes that carry the newest figure per position and the rest.

    1C may send several figures for one variant and warehouse in one batch; the newest wins,
    whatever order they arrive in, and the older ones are reported as stale.
    """
    newest: dict[tuple[str, str], int] = {}
    for index, snap in enumerate(snapshots):
        key = (snap.variant_guid, snap.warehouse_guid)
        current = newest.get(key)
        if current is None or snap.as_of > snapshots[current].as_of:
            newest[key] = index
    keep = sorted(newest.values())
    kept = set(keep)
    return keep, [i for i in range(len(snapshots)) if i not in kept]


MAX_QUANTITY = 1_000_000
# A figure from further ahead than this is a wrong clock, not news: applying it would freeze the
# position until our clock caught up (every true figure would look older).
MAX_CLOCK_SKEW = timedelta(minutes=10)


def parse_instant(text: str, *, path: tuple[str | int, ...] = ()) -> datetime:
    """Parse an ISO 8601 instant that names its offset (1C's clock); naive times are refused."""
    try:
        value = datetime.fromisoformat(text.strip())
    except (ValueError, AttributeError):
        raise DomainError(ErrorCode.INVALID_DATETIME, f"not ISO 8601: {text!r}", path) from None
    if value.tzinfo is None or value.utcoffset() is None:
        raise DomainError(ErrorCode.INVALID_DATETIME, f"needs an offset: {text!r}", path)
    return value.astimezone(UTC)


def parse_snapshot(
    *,
    variant_guid: str,
    warehouse_guid: str,
    quantity: int,
    as_of: str,
    now: datetime,
    path: tuple[str | int, ...],
) -> StockSnapshot:
    """Validate one snapshot row as 1C sent it, against our clock reading `now`."""
    if quantity < 0:
        raise DomainError(ErrorCode.NEGATIVE_QUANTITY, "quantity must be ≥ 0", (*path, "quantity"))
    if quantity > MAX_QUANTITY:
        raise DomainError(ErrorCode.INVALID, f"quantity over {MAX_QUANTITY}", (*path, "quantity"))
    instant = parse_instant(as_of, path=(*path, "asOf"))
    if instant > now + MAX_CLOCK_SKEW:
        raise DomainError(
            ErrorCode.INVALID_DATETIME, f"asOf is in the future: {as_of}", (*path, "asOf")
        )
    return StockSnapshot(
        variant_guid=parse_guid(variant_guid, path=(*path, "variantGuid")),
        warehouse_guid=parse_guid(warehouse_guid, path=(*path, "warehouseGuid")),
        quantity=quantity,
        as_of=instant,
    )
