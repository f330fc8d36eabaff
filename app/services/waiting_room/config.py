"""The waiting room's figures, read once from the settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from app.settings import Settings

_DEV_KEY = "vitrina-dev-queue-secret-key"


@dataclass(frozen=True, slots=True, kw_only=True)
class RoomConfig:
    key: bytes  # HMAC-SHA256 key of tickets and passes
    pass_duration: timedelta
    opens_before: timedelta
    tick: timedelta
    admit_per_tick: int
    pass_extend: timedelta = timedelta(minutes=5)  # a pass in use lasts at least this longer
    pass_cap: timedelta = timedelta(minutes=30)  # after its admission, at most
    stream_lag: timedelta = timedelta(seconds=1)  # a streamed figure shows a commit this late

    @classmethod
    def of(cls, settings: Settings) -> RoomConfig:
        return cls(
            key=queue_key(settings),
            pass_duration=timedelta(minutes=settings.queue_pass_minutes),
            opens_before=timedelta(minutes=settings.queue_opens_minutes),
            tick=timedelta(seconds=settings.queue_tick_seconds),
            admit_per_tick=settings.queue_admit_per_tick,
            pass_extend=timedelta(minutes=settings.queue_pass_extend_minutes),
            pass_cap=timedelta(minutes=settings.queue_pass_cap_minutes),
            stream_lag=timedelta(milliseconds=settings.queue_stream_lag_ms),
        )


def queue_key(settings: Settings) -> bytes:
    """QUEUE_SECRET_KEY; outside prod a fixed one stands in (dev tokens are then forgeable:
    never use it for a real drop). In prod without one, nothing verifies: every pass is
    refused and nobody can join (the queue stays closed)."""
    if settings.queue_secret_key or settings.environment == "prod":
        return settings.queue_secret_key.encode()
    return _DEV_KEY.encode()
