"""Checkout's merged statements: what addToCart and placeOrder read in one round trip each.

Each helper is one SQL statement that replaces several ORM reads (the cart and its lock, the
warehouses and their stock figures), on PostgreSQL and SQLite alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from app.domain.availability import StockPosition
from app.domain.reservations import ReservationState
from app.models.catalog import HoldMode, Warehouse
from app.models.checkout import Cart
from app.models.sql import is_postgres, placeholders, sql_instant

_HELD = ReservationState.HELD.value


async def touch_cart(
    conn: BaseDBAsyncClient, token: str, *, now: datetime, device: str | None
) -> Cart | None:
    """Lock the cart with this token, record the shopper's activity (and device) and read it,
    in one statement (`lock_and_touch_cart` by token, returning the row). None: no such cart."""
    at, dev, tok = placeholders(conn, 1, 3)[0]
    rows = await conn.execute_query_dict(
        f"UPDATE cart SET updated_at = {at}, device = coalesce({dev}, device) "
        f"WHERE token = {tok} RETURNING *",
        [sql_instant(conn, now), device, token],
    )
    return Cart._init_from_db(**rows[0]) if rows else None


@dataclass(frozen=True)
class LockedCart:
    """The cart, locked, and the order an idempotency key already placed (if any)."""

    cart: Cart
    earlier_order_id: int | None
    earlier_cart_id: int | None


async def lock_cart_for_key(conn: BaseDBAsyncClient, token: str, key: str) -> LockedCart | None:
    """Lock and read the cart with this token, and look up the order `key` placed, in one
    statement. None: no such cart."""
    k, tok = placeholders(conn, 1, 2)[0]  # in the order they stand in the text (SQLite: ?)
    lock = " FOR UPDATE OF cart" if is_postgres(conn) else ""  # SQLite: one writer at a time
    rows = await conn.execute_query_dict(
        "SELECT cart.*, o.id AS earlier__id, o.cart_id AS earlier__cart_id FROM cart "
        f"LEFT JOIN orders o ON o.idempotency_key = {k} WHERE cart.token = {tok}{lock}",
        [key, token],
    )
    if not rows:
        return None
    row = rows[0]
    earlier_id, earlier_cart = row.pop("earlier__id"), row.pop("earlier__cart_id")
    return LockedCart(Cart._init_from_db(**row), earlier_id, earlier_cart)


@dataclass
class StockView:
    """Every warehouse (allocation order: priority, id) and, per variant and warehouse, the
    stored figures, the units of holds whose time is over, and the cart's own live holds."""

    warehouses: list[Warehouse]
    levels: dict[tuple[int, int], tuple[int, int]] = field(default_factory=dict)
    expired: dict[tuple[int, int], int] = field(default_factory=dict)
    own_holds: dict[int, dict[int, int]] = field(default_factory=dict)  # variant -> wh -> units

    def positions(self, variant_id: int) -> list[StockPosition]:
        """The variant's position in every warehouse, as `stock_positions` gives it: zeros
        included, and a hold whose time is over not counted even if nothing released it yet."""
        return [
            StockPosition(
                warehouse_id=w.id,
                on_hand=self.levels.get((variant_id, w.id), (0, 0))[0],
                buffer=self.levels.get((variant_id, w.id), (0, 0))[1]
                - self.expired.get((variant_id, w.id), 0),
                sellable=w.sellable_online,
            )
            for w in self.warehouses
        ]


_WAREHOUSE_COLUMNS = (
    "id",
    "guid",
    "name",
    "kind",
    "address",
    "sellable_online",
    "priority",
    "slack_channel",
    "slack_on_duty",
)


async def stock_view(
    conn: BaseDBAsyncClient, variant_ids: list[int], *, cart_id: int | None, now: datetime
) -> StockView:
    """The warehouses and the stock of these variants in them, in one statement (a row per
    warehouse and variant; a warehouse appears even without variants or stock rows)."""
    ids = sorted(set(variant_ids)) or [0]  # no variant: the warehouses alone
    marks = placeholders(conn, 1, len(ids) + 5)[0]
    held, at, cart, held2, at2 = marks[:5]  # in the order they stand in the text (SQLite: ?)
    variant_marks = ", ".join(marks[5:])
    columns = ", ".join(f"w.{c}" for c in _WAREHOUSE_COLUMNS)
    sql = (
        f"SELECT {columns}, v.id AS s__variant, s.on_hand AS s__on_hand, s.buffer AS s__buffer, "
        "(SELECT coalesce(sum(r.quantity), 0) FROM reservation r WHERE r.variant_id = v.id "
        f"AND r.warehouse_id = w.id AND r.state = {held} AND r.expires_at <= {at}) AS s__expired, "
        "(SELECT coalesce(sum(r.quantity), 0) FROM reservation r JOIN cart_line l "
        f"ON l.id = r.cart_line_id WHERE l.cart_id = {cart} AND r.variant_id = v.id "
        f"AND r.warehouse_id = w.id AND r.state = {held2} AND r.expires_at > {at2}) AS s__own "
        f"FROM warehouse w LEFT JOIN variant v ON v.id IN ({variant_marks}) "
        "LEFT JOIN stock_level s ON s.variant_id = v.id AND s.warehouse_id = w.id "
        "ORDER BY w.priority, w.id, v.id"
    )
    instant = sql_instant(conn, now)
    params: list[Any] = [_HELD, instant, cart_id or 0, _HELD, instant, *ids]
    view = StockView(warehouses=[])
    seen: set[int] = set()
    for row in await conn.execute_query_dict(sql, params):
        if row["id"] not in seen:
            seen.add(row["id"])
            view.warehouses.append(Warehouse._init_from_db(**row))
        variant = row["s__variant"]
        if variant is None:
            continue
        position = (variant, row["id"])
        if row["s__on_hand"] is not None:
            view.levels[position] = (row["s__on_hand"], row["s__buffer"])
        if row["s__expired"]:
            view.expired[position] = int(row["s__expired"])
        if row["s__own"]:
            view.own_holds.setdefault(variant, {})[row["id"]] = int(row["s__own"])
    return view


async def live_holds_to_touch(
    conn: BaseDBAsyncClient, cart_id: int, *, now: datetime
) -> dict[int, list[int]]:
    """The cart's live holds in AT_CART drops, grouped by their drop's hold minutes."""
    cart, state, at, mode = placeholders(conn, 1, 4)[0]
    rows = await conn.execute_query_dict(
        "SELECT r.id, c.hold_minutes FROM reservation r "
        "JOIN cart_line l ON l.id = r.cart_line_id JOIN variant v ON v.id = l.variant_id "
        "JOIN product p ON p.id = v.product_id JOIN collection c ON c.id = p.collection_id "
        f"WHERE l.cart_id = {cart} AND r.state = {state} AND r.expires_at > {at} "
        f"AND c.hold_mode = {mode} ORDER BY r.id",
        [cart_id, _HELD, sql_instant(conn, now), HoldMode.AT_CART.value],
    )
    grouped: dict[int, list[int]] = {}
    for row in rows:
        grouped.setdefault(int(row["hold_minutes"]), []).append(int(row["id"]))
    return grouped
