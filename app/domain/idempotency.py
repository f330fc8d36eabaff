"""Client idempotency keys: a repeated request with the same key returns the first outcome."""

from __future__ import annotations

from app.domain.errors import DomainError, ErrorCode

MIN_KEY_LENGTH, MAX_KEY_LENGTH = 8, 100


def check_idempotency_key(key: str, path: tuple[str | int, ...] = ("idempotencyKey",)) -> str:
    """The key as stored (surrounding blanks dropped); 8 to 100 characters."""
    key = key.strip()
    if not MIN_KEY_LENGTH <= len(key) <= MAX_KEY_LENGTH:
        raise DomainError(
            ErrorCode.INVALID, f"{MIN_KEY_LENGTH} to {MAX_KEY_LENGTH} characters", path
        )
    return key
