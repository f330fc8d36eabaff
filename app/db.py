"""Tortoise configuration and lifecycle, shared by the API, the worker and the CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg
from tortoise import Tortoise
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.migrations.api import migrate

from app.models import MODEL_MODULES

APP_LABEL = "models"


def tortoise_config(database_url: str) -> dict[str, Any]:
    if database_url.startswith("sqlite://"):
        Path(database_url.removeprefix("sqlite://")).parent.mkdir(parents=True, exist_ok=True)
    return {
        "connections": {"default": _connection(database_url)},
        "apps": {
            APP_LABEL: {
                "models": MODEL_MODULES,
                "default_connection": "default",
                "migrations": "app.migrations",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


class LeanConnection(asyncpg.Connection):  # type: ignore[misc]
    """A pooled PostgreSQL connection handed back without asyncpg's reset statement.

    asyncpg sends `SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL;` each time
    a connection goes back to the pool, and tortoise takes one from the pool for every statement
    outside a transaction: a second round trip per statement. Nothing here leaves session state
    on a pooled connection (no session advisory locks, cursors, LISTEN or SET; locks are row
    locks and end with their transaction), and an open transaction is still rolled back on
    release (asyncpg does that before the reset query)."""

    def get_reset_query(self) -> str:
        return ""


def _connection(database_url: str) -> str | dict[str, Any]:
    if not database_url.startswith(("postgres://", "postgresql://", "asyncpg://")):
        return database_url
    config = expand_db_url(database_url)
    config["credentials"]["connection_class"] = LeanConnection
    return config


async def init_db(database_url: str) -> None:
    await Tortoise.init(config=tortoise_config(database_url), _enable_global_fallback=True)
    if is_sqlite():
        # WAL lets the storefront read while 1C writes; a busy writer waits instead of failing.
        await connection().execute_script("PRAGMA journal_mode=WAL; PRAGMA busy_timeout=5000;")


async def close_db() -> None:
    await Tortoise.close_connections()


async def run_migrations(database_url: str) -> None:
    """Apply every pending migration (tortoise's own migration engine)."""
    try:
        await migrate(config=tortoise_config(database_url))
    finally:
        # a failed migration must not leave aiosqlite's thread holding the process open
        await Tortoise.close_connections()


def connection() -> BaseDBAsyncClient:
    return Tortoise.get_connection("default")


def is_sqlite() -> bool:
    return connection().capabilities.dialect == "sqlite"


def __getattr__(name: str) -> Any:
    # `tortoise -c app.db.TORTOISE_ORM makemigrations` reads the config from the environment.
    if name == "TORTOISE_ORM":
        from app.settings import Settings

        return tortoise_config(Settings().resolved_database_url)
    raise AttributeError(name)
