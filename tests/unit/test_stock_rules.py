"""Which 1C stock figure wins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.domain.errors import DomainError, ErrorCode
from app.domain.stock import (
    MAX_CLOCK_SKEW,
    SnapshotOutcome,
    StockSnapshot,
    judge_snapshot,
    latest_per_position,
    parse_instant,
    parse_snapshot,
)

T = datetime(2026, 11, 1, 9, tzinfo=UTC)
V = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
W = "16fd2706-8baf-433b-82eb-8c7fada847da"


def snap(qty: int, minutes: int = 0, variant: str = V) -> StockSnapshot:
    return StockSnapshot(variant, W, qty, T + timedelta(minutes=minutes))


def test_the_first_figure_for_a_position_applies() -> None:
    assert judge_snapshot(None, None, snap(3)) is SnapshotOutcome.APPLIED


def test_a_newer_figure_applies_an_older_one_is_stale() -> None:
    assert judge_snapshot(T, 3, snap(1, minutes=1)) is SnapshotOutcome.APPLIED
    assert judge_snapshot(T, 3, snap(1, minutes=-1)) is SnapshotOutcome.STALE


def test_the_same_figure_again_is_a_duplicate() -> None:
    assert judge_snapshot(T, 3, snap(3)) is SnapshotOutcome.DUPLICATE


def test_a_different_figure_at_the_same_instant_does_not_flip_stock() -> None:
    assert judge_snapshot(T, 3, snap(4)) is SnapshotOutcome.STALE


def test_the_newest_figure_per_position_wins_within_a_batch() -> None:
    batch = [snap(1, 5), snap(2, 9), snap(3, 1), snap(4, 0, variant=W)]
    assert latest_per_position(batch) == ([1, 3], [0, 2])


def test_instants_need_an_offset_and_come_back_in_utc() -> None:
    assert parse_instant("2026-11-01T12:00:00+03:00") == T
    assert parse_instant("2026-11-01T09:00:00Z") == T
    with pytest.raises(DomainError) as naive:
        parse_instant("2026-11-01T09:00:00")
    assert naive.value.code is ErrorCode.INVALID_DATETIME


@pytest.mark.parametrize(
    ("fields", "code", "where"),
    [
        ({"quantity": -1}, ErrorCode.NEGATIVE_QUANTITY, "quantity"),
        ({"quantity": 10**7}, ErrorCode.INVALID, "quantity"),
        ({"variant_guid": "x"}, ErrorCode.INVALID_GUID, "variantGuid"),
        ({"warehouse_guid": ""}, ErrorCode.INVALID_GUID, "warehouseGuid"),
        ({"as_of": "soon"}, ErrorCode.INVALID_DATETIME, "asOf"),
    ],
)
def test_a_malformed_row_names_its_field(
    fields: dict[str, object], code: ErrorCode, where: str
) -> None:
    row: dict[str, object] = {
        "variant_guid": V,
        "warehouse_guid": W,
        "quantity": 1,
        "as_of": T.isoformat(),
        **fields,
    }
    with pytest.raises(DomainError) as error:
        parse_snapshot(path=("rows", 3), now=T, **row)  # type: ignore[arg-type]
    assert (error.value.code, tuple(error.value.path)) == (code, ("rows", 3, where))


def test_guids_are_normalised_to_lower_case() -> None:
    row = parse_snapshot(
        variant_guid=V.upper(), warehouse_guid=W, quantity=0, as_of=T.isoformat(), now=T, path=()
    )
    assert row.variant_guid == V


def test_a_figure_from_a_clock_far_ahead_is_refused_not_allowed_to_freeze_stock() -> None:
    ahead = (T + MAX_CLOCK_SKEW).isoformat()
    too_far = (T + MAX_CLOCK_SKEW + timedelta(seconds=1)).isoformat()
    row = {"variant_guid": V, "warehouse_guid": W, "quantity": 1, "now": T, "path": ()}
    assert parse_snapshot(as_of=ahead, **row).as_of == T + MAX_CLOCK_SKEW  # type: ignore[arg-type]
    with pytest.raises(DomainError) as error:
        parse_snapshot(as_of=too_far, **row)  # type: ignore[arg-type]
    assert error.value.code is ErrorCode.INVALID_DATETIME
