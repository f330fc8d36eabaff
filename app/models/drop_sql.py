"""Variants read with their product and drop in one plain statement, for checkout's hot reads.

`Variant.get_or_none(...).select_related("product__collection")` and the cart-lines query with
`select_related("variant__product__collection")` are one statement each already, but tortoise
builds them anew on every call through pypika (copies of every term, quoting, aliasing): that
was most of a refused `addToCart`'s CPU and a third of a refused `placeOrder`'s. Here the text
is made once per dialect from the models' own columns and the rows become the same instances
tortoise's select_related makes (`_init_from_db`, related objects in `_<relation>`).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model

from app.models.catalog import Collection, Product, Variant
from app.models.checkout import CartLine
from app.models.sql import placeholders

# (alias prefix, table alias, model): the joined tables, outermost first
_VARIANT = ("v__", "v", Variant)
_PRODUCT = ("p__", "p", Product)
_COLLECTION = ("c__", "c", Collection)
_LINE = ("l__", "l", CartLine)
_JOINS = "JOIN product p ON p.id = v.product_id LEFT JOIN collection c ON c.id = p.collection_id"


def _columns(*tables: tuple[str, str, type[Model]]) -> str:
    return ", ".join(
        f'{alias}."{column}" AS "{prefix}{column}"'
        for prefix, alias, model in tables
        for column in model._meta.db_fields
    )


@cache
def _variant_sql(mark: str) -> str:
    return (
        f"SELECT {_columns(_VARIANT, _PRODUCT, _COLLECTION)} FROM variant v {_JOINS} "
        f"WHERE v.guid = {mark}"
    )


@cache
def _lines_sql(mark: str) -> str:
    return (
        f"SELECT {_columns(_LINE, _VARIANT, _PRODUCT, _COLLECTION)} FROM cart_line l "
        f"JOIN variant v ON v.id = l.variant_id {_JOINS} "
        f"WHERE l.cart_id = {mark} ORDER BY l.variant_id, l.id"
    )


def _part(row: dict[str, Any], prefix: str) -> dict[str, Any]:
    size = len(prefix)
    return {key[size:]: value for key, value in row.items() if key.startswith(prefix)}


def _variant_of(row: dict[str, Any]) -> Variant:
    """The variant with its product and the product's drop (None without one) in hand."""
    variant = Variant._init_from_db(**_part(row, "v__"))
    product = Product._init_from_db(**_part(row, "p__"))
    drop = _part(row, "c__")
    collection = Collection._init_from_db(**drop) if drop.get("id") is not None else None
    object.__setattr__(product, "_collection", collection)
    object.__setattr__(variant, "_product", product)
    return variant


async def variant_with_drop(conn: BaseDBAsyncClient, guid: str) -> Variant | None:
    """The variant with this GUID, its product and drop: one statement. None: unknown."""
    ((mark,),) = placeholders(conn, 1, 1)
    rows = await conn.execute_query_dict(_variant_sql(mark), [guid])
    return _variant_of(rows[0]) if rows else None


async def lines_with_drops(conn: BaseDBAsyncClient, cart_id: int) -> list[CartLine]:
    """The cart's lines in variant order (the lock order), each with its variant, product and
    drop: one statement."""
    ((mark,),) = placeholders(conn, 1, 1)
    lines = []
    for row in await conn.execute_query_dict(_lines_sql(mark), [cart_id]):
        line = CartLine._init_from_db(**_part(row, "l__"))
        object.__setattr__(line, "_variant", _variant_of(row))
        lines.append(line)
    return lines
