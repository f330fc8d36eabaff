"""A variant's published stock figure: read in one query, carried by the stream, kept by feeds."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from app.domain.availability import StockPosition, availability_by_warehouse, available
from app.domain.reservations import ReservationState
from app.models.sql import is_postgres, sql_instant

Position = tuple[int, int]  # variant_id, warehouse_id


@dataclass(frozen=True, slots=True)
class VariantStock:
    """A variant's availability as of `version` (Σ of its stock rows' versions).

    `by_warehouse` holds the sellable warehouses only (as `availability_by_warehouse`), zeros
    included. The figure counted live cart holds; `valid_until` is the earliest expiry among
    them (None: none counted), after which the figure is unknown and must be read live.
    """

    variant_id: int  # variant pk
    available: int
    by_warehouse: Mapping[int, int]  # warehouse pk -> quantity
    version: int
    valid_until: datetime | None

    def is_valid_at(self, now: datetime) -> bool:
        """Whether the figure still holds at `now` (no hold it counted has expired)."""
        return self.valid_until is None or now < self.valid_until

    def encode(self) -> bytes:
        """The stream entry's payload (compact JSON)."""
        until = None if self.valid_until is None else self.valid_until.isoformat()
        body = {
            "v": self.variant_id,
            "a": self.available,
            "w": {str(k): q for k, q in self.by_warehouse.items()},
            "n": self.version,
            "u": until,
        }
        return json.dumps(body, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, payload: bytes) -> VariantStock:
        body = json.loads(payload)
        until = body["u"]
        return cls(
            variant_id=int(body["v"]),
            available=int(body["a"]),
            by_warehouse={int(k): int(q) for k, q in body["w"].items()},
            version=int(body["n"]),
            valid_until=None if until is None else datetime.fromisoformat(until),
        )


@dataclass(frozen=True, slots=True)
class FigureRead:
    """What one read found: a figure per variant and each stock row's committed version."""

    figures: dict[int, VariantStock]
    row_versions: dict[Position, int]


_CHUNK = 400  # variants per statement: SQLite's parameter limit, and a bounded result


async def read_figures(
    conn: BaseDBAsyncClient, variant_ids: Sequence[int], *, now: datetime
) -> FigureRead:
    """Current figures of these variants, one statement per 400 variants (usually one).

    Every warehouse appears (zeros included); a cart hold past its expiry is not counted even
    if no job released it yet (as `inventory.availability.stock_positions`).
    """
    figures: dict[int, VariantStock] = {}
    versions: dict[Position, int] = {}
    ordered = sorted(set(variant_ids))
    for start in range(0, len(ordered), _CHUNK):
        rows = await conn.execute_query_dict(
            *_figures_sql(conn, ordered[start : start + _CHUNK], now)
        )
        found = _figures_of(rows)
        figures.update(found.figures)
        versions.update(found.row_versions)
    return FigureRead(figures=figures, row_versions=versions)


async def read_behind(conn: BaseDBAsyncClient, held: Mapping[int, int]) -> dict[int, int]:
    """The variants whose committed figure version (Σ of their stock rows' versions) is above
    the one held, with that version: one indexed statement whatever the count, the comparison
    made by the database so only the few behind come back (what a feed's catch-up asks)."""
    if not held:
        return {}
    variants, versions = list(held), list(held.values())
    if is_postgres(conn):
        pairs = "unnest($1::int[], $2::bigint[]) AS h(v, n)"
        params: list[Any] = [variants, versions]
    else:  # one JSON parameter: no limit on how many
        pairs = (
            "(SELECT json_extract(value, '$[0]') AS v, json_extract(value, '$[1]') AS n "
            "FROM json_each(?)) AS h"
        )
        params = [json.dumps(list(zip(variants, versions, strict=True)))]
    rows = await conn.execute_query_dict(
        "SELECT s.variant_id AS variant_id, SUM(s.version) AS version FROM stock_level s "
        f"JOIN {pairs} ON s.variant_id = h.v GROUP BY s.variant_id, h.n "
        "HAVING SUM(s.version) > h.n",
        params,
    )
    return {row["variant_id"]: int(row["version"]) for row in rows}


def _figures_sql(
    conn: BaseDBAsyncClient, variant_ids: list[int], now: datetime
) -> tuple[str, list[Any]]:
    held = ReservationState.HELD.value
    at = sql_instant(conn, now)
    if is_postgres(conn):
        ids, state, instant = "ANY($1::int[])", "$2", "$3"
        params: list[Any] = [variant_ids, held, at]
        ids_clause = f"v.id = {ids}"
    else:
        state, instant = "?", "?"
        ids_clause = f"v.id IN ({', '.join('?' * len(variant_ids))})"
        params = [held, at, held, at, *variant_ids]
    holds = (
        "FROM reservation r WHERE r.variant_id = v.id AND r.warehouse_id = w.id "
        f"AND r.state = {state} AND r.expires_at"
    )
    sql = (
        "SELECT v.id AS variant_id, w.id AS warehouse_id, w.sellable_online AS sellable, "
        "COALESCE(s.on_hand, 0) AS on_hand, COALESCE(s.buffer, 0) AS buffer, "
        "COALESCE(s.version, 0) AS version, "
        f"(SELECT COALESCE(SUM(r.quantity), 0) {holds} <= {instant}) AS expired, "
        f"(SELECT MIN(r.expires_at) {holds} > {instant}) AS next_expiry "
        "FROM variant v CROSS JOIN warehouse w "
        "LEFT JOIN stock_level s ON s.variant_id = v.id AND s.warehouse_id = w.id "
        f"WHERE {ids_clause}"
    )
    return sql, params


def _figures_of(rows: list[dict[str, Any]]) -> FigureRead:
    positions: dict[int, list[StockPosition]] = defaultdict(list)
    versions: dict[Position, int] = {}
    expiries: dict[int, list[datetime]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: (r["variant_id"], r["warehouse_id"])):
        variant_id, warehouse_id = row["variant_id"], row["warehouse_id"]
        sellable = bool(row["sellable"])
        positions[variant_id].append(
            StockPosition(
                warehouse_id=warehouse_id,
                on_hand=row["on_hand"],
                buffer=row["buffer"] - int(row["expired"]),
                sellable=sellable,
            )
        )
        versions[(variant_id, warehouse_id)] = row["version"]
        if sellable and row["next_expiry"] is not None:
            expiries[variant_id].append(_instant(row["next_expiry"]))
    figures = {
        variant_id: VariantStock(
            variant_id=variant_id,
            available=available(found),
            by_warehouse=availability_by_warehouse(found),
            version=sum(versions[(variant_id, p.warehouse_id)] for p in found),
            valid_until=min(expiries[variant_id], default=None),
        )
        for variant_id, found in positions.items()
    }
    return FigureRead(figures=figures, row_versions=versions)


def _instant(value: datetime | str) -> datetime:
    """An instant as the driver returns it (text on SQLite), in UTC."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
