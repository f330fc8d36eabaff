"""Stock aggregate: 1C's last figure per variant and warehouse, and the reservation buffer."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model

from app.domain.reservations import ReservationState, ShopConfirmation
from app.models.catalog import Variant, Warehouse
from app.models.sql import is_postgres, placeholders, sql_instant

if TYPE_CHECKING:
    from app.models.checkout import CartLine
    from app.models.orders import OrderLine


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


class Reservation(Model):
    """Units of one variant in one warehouse held for a cart or an order: the buffer's rows.

    `stock_level.buffer` is the sum of quantities in the held and active states; every change
    of state that enters or leaves those states moves the buffer in the same transaction.
    """

    id = fields.IntField(primary_key=True)
    variant: fields.ForeignKeyRelation[Variant] = fields.ForeignKeyField(
        "models.Variant", related_name="reservations", on_delete=fields.RESTRICT
    )
    warehouse: fields.ForeignKeyRelation[Warehouse] = fields.ForeignKeyField(
        "models.Warehouse", related_name="reservations", on_delete=fields.RESTRICT
    )
    quantity = fields.IntField()
    state = fields.CharEnumField(ReservationState, max_length=16)
    cart_line: fields.ForeignKeyNullableRelation[CartLine] = fields.ForeignKeyField(
        "models.CartLine", related_name="holds", null=True, on_delete=fields.SET_NULL
    )
    order_line: fields.ForeignKeyNullableRelation[OrderLine] = fields.ForeignKeyField(
        "models.OrderLine", related_name="reservations", null=True, on_delete=fields.RESTRICT
    )
    shop_confirmation = fields.CharEnumField(
        ShopConfirmation, max_length=16, default=ShopConfirmation.NOT_NEEDED
    )
    expires_at = fields.DatetimeField(null=True, description="holds only")
    registered_at = fields.DatetimeField(null=True, description="1C's clock, from 1C's answer")
    created_at = fields.DatetimeField(auto_now_add=True)
    closed_at = fields.DatetimeField(null=True, description="when released or reconciled")

    variant_id: int
    warehouse_id: int
    cart_line_id: int | None
    order_line_id: int | None

    class Meta:
        table = "reservation"
        indexes = (("variant_id", "warehouse_id", "state"), ("state", "expires_at"))


async def try_reserve(
    conn: BaseDBAsyncClient, variant_id: int, warehouse_id: int, qty: int
) -> bool:
    """Add `qty` to the buffer if that many units are free: one conditional UPDATE, atomic."""
    marks = placeholders(conn, 1, 4)[0]
    rowcount, _ = await conn.execute_query(
        f"UPDATE stock_level SET buffer = buffer + {marks[0]} "
        f"WHERE variant_id = {marks[1]} AND warehouse_id = {marks[2]} "
        f"AND on_hand - buffer >= {marks[3]}",
        [qty, variant_id, warehouse_id, qty],
    )
    return rowcount == 1


async def shrink_buffer(
    conn: BaseDBAsyncClient, variant_id: int, warehouse_id: int, qty: int
) -> None:
    """Take `qty` out of the buffer (its reservations just left the held/active states)."""
    marks = placeholders(conn, 1, 3)[0]
    await conn.execute_query(
        f"UPDATE stock_level SET buffer = buffer - {marks[0]} "
        f"WHERE variant_id = {marks[1]} AND warehouse_id = {marks[2]}",
        [qty, variant_id, warehouse_id],
    )


async def lock_levels(
    conn: BaseDBAsyncClient, variant_id: int, warehouse_ids: list[int]
) -> dict[int, tuple[int, int]]:
    """(on_hand, buffer) per warehouse for one variant, rows locked in warehouse-id order.

    Every writer takes stock rows in (variant, warehouse) order, so two orders with the same
    variants in opposite order wait for each other instead of deadlocking. SQLite serialises
    writers itself and has no row locks.
    """
    if not warehouse_ids:
        return {}
    marks = placeholders(conn, 1, len(warehouse_ids) + 1)[0]
    lock = " FOR UPDATE" if is_postgres(conn) else ""
    rows = await conn.execute_query_dict(
        "SELECT warehouse_id, on_hand, buffer FROM stock_level "
        f"WHERE variant_id = {marks[0]} AND warehouse_id IN ({', '.join(marks[1:])}) "
        f"ORDER BY warehouse_id{lock}",
        [variant_id, *sorted(warehouse_ids)],
    )
    return {r["warehouse_id"]: (r["on_hand"], r["buffer"]) for r in rows}


async def close_reservations(
    conn: BaseDBAsyncClient,
    ids: list[int],
    *,
    from_states: tuple[ReservationState, ...],
    to_state: ReservationState,
    now: datetime,
) -> list[dict[str, Any]]:
    """Move reservations out of `from_states`; return the ones that moved (each moves once)."""
    if not ids:
        return []
    id_marks = placeholders(conn, 1, len(ids) + len(from_states) + 2)[0]
    state_mark, at_mark = id_marks[0], id_marks[1]
    from_marks = id_marks[2 : 2 + len(from_states)]
    id_list = id_marks[2 + len(from_states) :]
    return await conn.execute_query_dict(
        f"UPDATE reservation SET state = {state_mark}, closed_at = {at_mark} "
        f"WHERE state IN ({', '.join(from_marks)}) AND id IN ({', '.join(id_list)}) "
        "RETURNING id, variant_id, warehouse_id, quantity",
        [to_state.value, sql_instant(conn, now), *(s.value for s in from_states), *ids],
    )
