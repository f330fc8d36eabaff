"""The little that raw SQL needs to know about the two dialects we run on."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient


def is_postgres(conn: BaseDBAsyncClient) -> bool:
    return conn.capabilities.dialect == "postgres"


def placeholders(conn: BaseDBAsyncClient, rows: int, width: int) -> list[list[str]]:
    """Parameter markers for `rows` rows of `width` values: $n on PostgreSQL, ? on SQLite."""
    if is_postgres(conn):
        return [[f"${r * width + c + 1}" for c in range(width)] for r in range(rows)]
    return [["?"] * width for _ in range(rows)]


def sql_instant(conn: BaseDBAsyncClient, value: datetime) -> Any:
    """A UTC instant as the driver stores it.

    On SQLite tortoise stores `isoformat(" ")` text; in UTC that text sorts as time does, so
    raw SQL writes the very same form and comparisons in SQL stay right.
    """
    value = value.astimezone(UTC)
    if is_postgres(conn):
        return value
    return value.isoformat(" ")
