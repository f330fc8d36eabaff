"""Stock aggregate: 1C's last figure per variant and warehouse, and the reservation buffer."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
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
    version = fields.IntField(
        default=0, db_default=0, description="bumped by every write of on_hand or buffer"
    )

    variant_id: int
    warehouse_id: int

    class Meta:
        table = "stock_level"
        unique_together = (("variant", "warehouse"),)


Position = tuple[int, int]  # variant_id, warehouse_id


class WrittenVersions:
    """Stock rows this process wrote, each with the version its write gave it (RETURNING).

    The stock-change publisher reads these variants after their transactions committed: a
    row whose committed version reached the noted one was written (a note left behind by a
    rollback is dropped after `ttl` seconds). Noting is a dict update and an event set, in
    the writer's own task: no round trip. Without a publisher the notes still expire.
    """

    def __init__(self, ttl: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._notes: OrderedDict[Position, tuple[int, float]] = OrderedDict()
        # publishers' wake-ups; the first is woken (`vitrina dev` runs the API and the workers,
        # two publishers, in one process: one is enough, the other takes over when it stops)
        self.listeners: list[Callable[[], None]] = []
        self._reset = False

    def note(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Remember rows as RETURNING gave them (variant_id, warehouse_id, version)."""
        now = self._clock()
        for row in rows:
            position = (row["variant_id"], row["warehouse_id"])
            self._notes[position] = (row["version"], now)
            self._notes.move_to_end(position)
        self._expire(now)
        if self.listeners:
            self.listeners[0]()

    def note_reset(self) -> None:
        """Every published figure may be wrong (a warehouse stopped or started selling
        online): consumers drop what they hold. Harmless if the change rolls back."""
        self._reset = True
        if self.listeners:
            self.listeners[0]()

    def take_reset(self) -> bool:
        """Whether a reset is due (and clear it; the caller publishes it)."""
        due, self._reset = self._reset, False
        return due

    def pending(self) -> dict[Position, tuple[int, float]]:
        """Every note still waiting: position -> (version written, when noted)."""
        self._expire(self._clock())
        return dict(self._notes)

    def settle(self, done: Mapping[Position, int]) -> None:
        """Forget notes that were published, unless a newer write replaced them meanwhile."""
        for position, version in done.items():
            note = self._notes.get(position)
            if note is not None and note[0] <= version:
                del self._notes[position]

    def forget_all(self) -> None:
        """Drop every note and a reset not yet published (tests start from a clean slate)."""
        self._notes.clear()
        self._reset = False

    def age(self, noted_at: float) -> float:
        """Seconds since a note was taken."""
        return self._clock() - noted_at

    def is_stale(self, noted_at: float) -> bool:
        """Whether a note has waited longer than a transaction may (its writer rolled back)."""
        return self.age(noted_at) > self.ttl

    def _expire(self, now: float) -> None:
        while self._notes:  # oldest first: a note is moved to the end when written again
            position, (_, noted_at) = next(iter(self._notes.items()))
            if now - noted_at <= 2 * self.ttl:  # the publisher drops them at `ttl` itself
                break
            del self._notes[position]


written_versions = WrittenVersions()  # one per process: every helper below notes into it


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
        written_versions.note(result)
    return written


def _upsert_sql(conn: BaseDBAsyncClient, count: int) -> str:
    marks = placeholders(conn, count, 5)
    values = ", ".join(f"({m[0]}, {m[1]}, {m[2]}, 0, {m[3]}, {m[4]}, 1)" for m in marks)
    return (
        "INSERT INTO stock_level "
        "(variant_id, warehouse_id, on_hand, buffer, as_of, updated_at, version) "
        f"VALUES {values} ON CONFLICT (variant_id, warehouse_id) DO UPDATE SET "
        "on_hand = excluded.on_hand, as_of = excluded.as_of, updated_at = excluded.updated_at, "
        "version = stock_level.version + 1 "
        "WHERE stock_level.as_of IS NULL OR stock_level.as_of < excluded.as_of "
        "RETURNING variant_id, warehouse_id, version"
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


# Every write of on_hand or buffer bumps the row's version and hands it back in the same
# statement, for the stock-change stream (app/services/stock_stream): no extra round trip.
_RETURNING = "RETURNING variant_id, warehouse_id, version"


async def try_reserve(
    conn: BaseDBAsyncClient, variant_id: int, warehouse_id: int, qty: int
) -> bool:
    """Add `qty` to the buffer if that many units are free: one conditional UPDATE, atomic."""
    marks = placeholders(conn, 1, 4)[0]
    rows = await conn.execute_query_dict(
        f"UPDATE stock_level SET buffer = buffer + {marks[0]}, version = version + 1 "
        f"WHERE variant_id = {marks[1]} AND warehouse_id = {marks[2]} "
        f"AND on_hand - buffer >= {marks[3]} {_RETURNING}",
        [qty, variant_id, warehouse_id, qty],
    )
    written_versions.note(rows)
    return len(rows) == 1


async def shrink_buffer(
    conn: BaseDBAsyncClient, variant_id: int, warehouse_id: int, qty: int
) -> None:
    """Take `qty` out of the buffer (its reservations just left the held/active states)."""
    marks = placeholders(conn, 1, 3)[0]
    rows = await conn.execute_query_dict(
        f"UPDATE stock_level SET buffer = buffer - {marks[0]}, version = version + 1 "
        f"WHERE variant_id = {marks[1]} AND warehouse_id = {marks[2]} {_RETURNING}",
        [qty, variant_id, warehouse_id],
    )
    written_versions.note(rows)


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
