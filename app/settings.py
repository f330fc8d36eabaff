"""Configuration, read once from the environment (prefix-free, documented in the README)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.domain.outbox import RetryPolicy

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

    # 1C HTTP service and RetailCRM; unset in dev: local simulators stand in (`vitrina dev`).
    onec_url: str | None = Field(
        default=None, description="e.g. https://1c.brand.ru/base/hs/vitrina"
    )
    onec_username: str = ""
    onec_password: str = ""
    retailcrm_url: str | None = Field(
        default=None, description="e.g. https://brand.retailcrm.ru/api/v5"
    )
    retailcrm_api_key: str = ""
    retailcrm_site: str = "vitrina"
    retailcrm_max_rps: float = Field(
        default=9, description="RetailCRM allows 10 per API key; 9 leaves room for clock jitter"
    )
    onec_lanes: int = Field(default=8, description="aggregates delivered to 1C at once")
    retailcrm_lanes: int = Field(default=2, description="aggregates sent to RetailCRM at once")
    outbox_max_attempts: int = 12
    outbox_backoff_base_seconds: float = 1.0
    outbox_backoff_cap_seconds: float = 600.0

    @property
    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            base=timedelta(seconds=self.outbox_backoff_base_seconds),
            cap=timedelta(seconds=self.outbox_backoff_cap_seconds),
            max_attempts=self.outbox_max_attempts,
        )

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
