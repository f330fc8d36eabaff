"""When an integration token works, and how often its last use is worth writing down."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from app.domain.errors import DomainError, ErrorCode

# A busy 1C calls many times a minute; its token's last use is written at most once a minute.
LAST_USE_RESOLUTION = timedelta(minutes=1)
MAX_TOKEN_ID = 2**31 - 1  # the column is a 32-bit integer: a larger id names no token


class TokenState(StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"


def token_state(
    *, revoked_at: datetime | None, expires_at: datetime | None, now: datetime
) -> TokenState:
    """Revoked beats expired; a token with no expiry never expires."""
    if revoked_at is not None:
        return TokenState.REVOKED
    if expires_at is not None and expires_at <= now:
        return TokenState.EXPIRED
    return TokenState.ACTIVE


def use_not_recorded_since(now: datetime) -> datetime:
    """A last use before this instant is stale: record the new one."""
    return now - LAST_USE_RESOLUTION


def use_worth_recording(last_used_at: datetime | None, now: datetime) -> bool:
    return last_used_at is None or last_used_at < use_not_recorded_since(now)


def parse_token_id(raw: str) -> int:
    """A token id as the admin typed it; ids beyond the column's range name no token."""
    text = raw.strip()
    if not text.isdecimal() or not text.isascii():
        raise DomainError(ErrorCode.INVALID, f"a token id is a number, not {raw[:40]!r}", ("id",))
    # the length first: int() of thousands of digits is slow, and refused beyond 4300
    digits = text.lstrip("0") or "0"
    if len(digits) > len(str(MAX_TOKEN_ID)) or not 1 <= int(digits) <= MAX_TOKEN_ID:
        raise DomainError(ErrorCode.NOT_FOUND, f"no integration token has id {text[:40]}", ("id",))
    return int(digits)
