"""Purchase facts in SQL, the same on SQLite and PostgreSQL: every line of a paid site order
and of a purchase or return in another channel, with the profile it belongs to."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from app.domain.orders import OrderStatus
from app.models.sql import is_postgres, sql_instant

# Site orders that were bought (paid at some point); cancelled and unpaid ones are not.
BOUGHT = (
    OrderStatus.PAID,
    OrderStatus.READY_FOR_SHIPPING,
    OrderStatus.SHIPPED,
    OrderStatus.DELIVERED,
    OrderStatus.PARTLY_RETURNED,
    OrderStatus.RETURNED,
)


@dataclass
class Params:
    """Bind parameters with the dialect's markers ($n on PostgreSQL, ? on SQLite)."""

    conn: BaseDBAsyncClient
    values: list[Any] = field(default_factory=list)

    def add(self, value: Any) -> str:
        if isinstance(value, datetime):
            value = sql_instant(self.conn, value)
        self.values.append(value)
        return f"${len(self.values)}" if is_postgres(self.conn) else "?"

    def many(self, values: list[Any]) -> str:
        return ", ".join(self.add(v) for v in values) if values else "NULL"


def facts_sql(params: Params, profile_ids: list[int] | None = None) -> str:
    """A SELECT of (profile_id, channel, purchase, at, variant_id, quantity, amount, is_return,
    category_id, collection_id, size): site lines first, then other channels' lines."""
    statuses = params.many([s.value for s in BOUGHT])
    only_site = only_other = ""
    if profile_ids is not None:
        only_site = f" AND r.profile_id IN ({params.many(list(profile_ids))})"
        only_other = f" AND r.profile_id IN ({params.many(list(profile_ids))})"
    return f"""
        SELECT x.profile_id AS profile_id, x.channel AS channel, x.purchase AS purchase,
               x.at AS at, x.variant_id AS variant_id, x.quantity AS quantity,
               x.amount AS amount, x.is_return AS is_return, pr.category_id AS category_id,
               pr.collection_id AS collection_id, v.size AS size
        FROM (
            SELECT r.profile_id AS profile_id, 'site' AS channel, o.number AS purchase,
                   o.created_at AS at, ol.variant_id AS variant_id, ol.quantity AS quantity,
                   ol.quantity * ol.unit_price AS amount, 0 AS is_return
            FROM orders o
            JOIN order_line ol ON ol.order_id = o.id
            JOIN identity_record r ON r.customer_id = o.customer_id AND r.source = 'site'
            WHERE o.status IN ({statuses}){only_site}
            UNION ALL
            SELECT r.profile_id, p.channel, p.external_ref, p.at, l.variant_id, l.quantity,
                   l.amount_kopecks, CASE WHEN p.is_return THEN 1 ELSE 0 END
            FROM channel_purchase p
            JOIN channel_purchase_line l ON l.purchase_id = p.id
            JOIN identity_record r ON r.id = p.record_id
            WHERE 1 = 1{only_other}
        ) x
        LEFT JOIN variant v ON v.id = x.variant_id
        LEFT JOIN product pr ON pr.id = v.product_id
    """


async def category_roots(conn: BaseDBAsyncClient) -> dict[int, tuple[int, str]]:
    """Each category's top-level ancestor (id, name): `clothes`, `shoes`…"""
    rows = await conn.execute_query_dict("SELECT id, parent_id, name FROM category")
    parents = {int(r["id"]): r["parent_id"] for r in rows}
    names = {int(r["id"]): str(r["name"]) for r in rows}
    roots: dict[int, tuple[int, str]] = {}
    for cid in parents:
        top, hops = cid, 0
        while parents.get(top) is not None and hops < 32:
            top, hops = int(parents[top]), hops + 1
        roots[cid] = (top, names[top])
    return roots
