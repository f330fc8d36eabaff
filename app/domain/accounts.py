"""Customer account rules: what a password must be, when sign-in attempts must wait."""

from __future__ import annotations

import math
from dataclasses import dataclass

from app.domain.errors import DomainError, ErrorCode

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256  # argon2 takes any length; this only keeps requests small
CODE_DIGITS = 6
MAX_CODE_TRIES = 5


@dataclass(frozen=True)
class CustomerPrincipal:
    """A signed-in customer: who, and through which session (device)."""

    customer_id: int
    session_id: int


def check_password(password: str, email: str | None, path: tuple[str, ...] = ("password",)) -> None:
    """Refuse passwords that are too short, too long, one repeated character or the e-mail."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise _weak(f"at least {MIN_PASSWORD_LENGTH} characters", path)
    if len(password) > MAX_PASSWORD_LENGTH:
        raise _weak(f"at most {MAX_PASSWORD_LENGTH} characters", path)
    if len(set(password)) == 1:
        raise _weak("not one character repeated", path)
    if email and password.strip().lower() in {email.lower(), email.split("@")[0].lower()}:
        raise _weak("not your e-mail address", path)


def _weak(rule: str, path: tuple[str, ...]) -> DomainError:
    return DomainError(ErrorCode.WEAK_PASSWORD, f"the password must be {rule}", path)


@dataclass(frozen=True)
class LoginLimits:
    per_account: int
    per_ip: int
    window_seconds: int


@dataclass(frozen=True)
class AttemptCounts:
    """Sign-in attempts in the current window, this one included, and the seconds it has left."""

    account: int
    account_ttl: int
    ip: int
    ip_ttl: int


def login_wait(counts: AttemptCounts, limits: LoginLimits) -> int | None:
    """Seconds the caller must wait before trying again, or None if this attempt may go on.

    An attempt beyond the limit of failures for the account, or for the address it comes from,
    waits for that window to end, whatever the password is.
    """
    waits = []
    if counts.account > limits.per_account:
        waits.append(_left(counts.account_ttl, limits))
    if counts.ip > limits.per_ip:
        waits.append(_left(counts.ip_ttl, limits))
    return max(waits) if waits else None


def _left(ttl: int, limits: LoginLimits) -> int:
    return ttl if 0 < ttl <= limits.window_seconds else limits.window_seconds


def too_many_attempts(wait_seconds: int, path: tuple[str, ...] = ("email",)) -> DomainError:
    minutes = math.ceil(wait_seconds / 60)
    when = f"{minutes} minute{'s' if minutes != 1 else ''}"
    return DomainError(
        ErrorCode.TOO_MANY_ATTEMPTS,
        f"too many failed sign-in attempts; try again in {when}",
        path,
        retry_after=wait_seconds,
    )


def too_many_messages(wait_seconds: int, path: tuple[str, ...]) -> DomainError:
    """Codes and links are limited per address and per client (nobody floods an inbox or runs
    up the SMS bill through us)."""
    minutes = math.ceil(wait_seconds / 60)
    when = f"{minutes} minute{'s' if minutes != 1 else ''}"
    return DomainError(
        ErrorCode.TOO_MANY_ATTEMPTS,
        f"too many codes or links sent; try again in {when}",
        path,
        retry_after=wait_seconds,
    )


def invalid_credentials() -> DomainError:
    """One answer for an unknown e-mail, a guest without a password and a wrong password."""
    return DomainError(ErrorCode.INVALID_CREDENTIALS, "wrong e-mail or password", ("password",))
