"""What every account use case needs of the request it serves, built once per request."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from redis.asyncio import Redis

from app.services.jobs import JobQueue
from app.settings import Settings


@dataclass(frozen=True)
class Device:
    """Who is calling, as far as we can tell: shown in session lists, used by throttles."""

    user_agent: str = ""
    ip: str = ""


@dataclass(frozen=True, kw_only=True)
class AccountCall:
    redis: Redis  # pending codes, throttles, access tokens
    jobs: JobQueue  # wakes the notify and delivery workers after commit
    settings: Settings
    device: Device  # the caller's user agent and address (sessions, throttles)
    now: datetime

    @property
    def ip(self) -> str:
        return self.device.ip
