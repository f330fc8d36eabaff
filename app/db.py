"""Tortoise configuration and lifecycle, shared by the API, the worker and the CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tortoise import Tortoise
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.migrations.api import migrate

from app.models import MODEL_MODULES

APP_LABEL = "models"


def tortoise_config(database_url: str) -> dict[str, Any]:
    if database_url.startswith("sqlite://"):
        Path(database_url.removeprefix("sqlite://")).parent.mkdir(parents=True, exist_ok=True)
    return {
        "connections": {"default": database_url},
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
