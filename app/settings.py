"""Configuration, read once from the environment (prefix-free, documented in the README)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATA_DIR = Path("var")


class Settings(BaseSettings):
    """Everything the service reads from its environment."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    environment: Literal["dev", "test", "prod"] = "dev"
    data_dir: Path = DEFAULT_DATA_DIR
    database_url: str | None = Field(
        default=None, description="postgres://… or sqlite://…; default: SQLite file in data_dir"
    )
    redis_url: str | None = Field(
        default=None, description="redis://…; default: an embedded redis-server in data_dir"
    )
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "INFO"
    log_json: bool = False

    graphiql: bool | None = Field(default=None, description="default: on unless prod")
    introspection: bool | None = Field(default=None, description="default: on unless prod")
    max_query_depth: int = 10
    max_aliases: int = 30
    max_tokens: int = 5000
    max_intake_batch: int = 20000
    payment_timeout_minutes: int = Field(default=15, description="unpaid orders cancel after")
    payment_return_url: str = "http://127.0.0.1:8000/"

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite://{(self.data_dir / 'vitrina.sqlite3').resolve()}"

    @property
    def graphiql_enabled(self) -> bool:
        return self.graphiql if self.graphiql is not None else self.environment != "prod"

    @property
    def introspection_enabled(self) -> bool:
        if self.introspection is not None:
            return self.introspection
        return self.environment != "prod"
