"""Stock aggregate: 1C's last figure per variant and warehouse, and the reservation buffer."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tortoise import fields
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model

from app.models.catalog import Variant, Warehouse
from app.models.sql import placeholders, sql_instant


class StockLevel(Model):
    """On-hand as 1C last reported it (at `as_of`, 1C's clock) and what we hold against it."""

    id = fields.IntField(primary_key=True)
    variant: fields.ForeignKeyRelation[Variant] = fields.ForeignKeyField(
        "models.Variant", related_name="stock_levels", on_delete=fields.CASCADE
    )
    warehouse: fields.ForeignKeyRelation[Warehouse] = fields.ForeignKeyField(
        "models.Warehouse", related_name="stock_levels", on_delete=fields.CASCADE
    )
    on_hand = fields.IntField(default=0)
    buffer = fields.IntField(default=0, description="reserved, not yet in 1C's figure")
    as_of = fields.DatetimeField(null=True)
    updated_at = fields.DatetimeField(auto_now=True)

    variant_id: int
    warehouse_id: int

    class Meta:
        table = "stock_level"
        unique_together = (("variant", "warehouse"),)


NewLevel = tuple[int, int, int, datetime]  # variant_id, warehouse_id, on_hand, as_of (UTC)

_UPSERT_CHUNK = 500


async def upsert_newer_levels(
    conn: BaseDBAsyncClient, rows: list[NewLevel]
) -> set[tuple[int, int]]:
    """Write figures that are newer than the stored ones, in one statement per chunk.

    The `WHERE … as_of <` guard makes the write itself refuse an older figure, so two 1C
    messages racing each other cannot leave the older one in place. Returns the positions
    that were written.
    """
    written: set[tuple[int, int]] = set()
    now = datetime.now(UTC)
    for start in range(0, len(rows), _UPSERT_CHUNK):
        chunk = rows[start : start + _UPSERT_CHUNK]
        sql = _upsert_sql(conn, len(chunk))
        params: list[Any] = []
        for variant_id, warehouse_id, on_hand, as_of in chunk:
            params += [
                variant_id,
                warehouse_id,
                on_hand,
                sql_instant(conn, as_of),
                sql_instant(conn, now),
            ]
        result = await conn.execute_query_dict(sql, params)  # fetches RETURNING rows on both
        written.update((r["variant_id"], r["warehouse_id"]) for r in result)
    return written


def _upsert_sql(conn: BaseDBAsyncClient, count: int) -> str:
    marks = placeholders(conn, count, 5)
    values = ", ".join(f"({m[0]}, {m[1]}, {m[2]}, 0, {m[3]}, {m[4]})" for m in marks)
    return (
        "INSERT INTO stock_level (variant_id, warehouse_id, on_hand, buffer, as_of, updated_at) "
        f"VALUES {values} ON CONFLICT (variant_id, warehouse_id) DO UPDATE SET "
        "on_hand = excluded.on_hand, as_of = excluded.as_of, updated_at = excluded.updated_at "
        "WHERE stock_level.as_of IS NULL OR stock_level.as_of < excluded.as_of "
        "RETURNING variant_id, warehouse_id"
    )
