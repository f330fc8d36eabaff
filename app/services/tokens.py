"""Integration tokens: issue, authenticate, list, revoke. Only a SHA-256 of the token is stored.

Nothing is cached: every request reads its token's row, so a revocation or an expiry takes
effect on the next call.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime

from app.domain.access import IntegrationPrincipal, Scope, parse_scopes
from app.domain.errors import DomainError, ErrorCode
from app.domain.tokens import (
    TokenState,
    parse_token_id,
    token_state,
    use_not_recorded_since,
    use_worth_recording,
)
from app.models.auth import IntegrationToken

TOKEN_PREFIX = "vit_"


def _digest(raw: str) -> str:
    # Tokens carry 256 bits of randomness, so a fast hash is enough (no dictionary to attack).
    return hashlib.sha256(raw.encode()).hexdigest()


def state_of(token: IntegrationToken, now: datetime) -> TokenState:
    return token_state(revoked_at=token.revoked_at, expires_at=token.expires_at, now=now)


async def create_token(
    *, name: str, scopes: list[Scope], expires_at: datetime | None = None
) -> str:
    """Issue a token and return it in clear text: the only time anyone sees it."""
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    await IntegrationToken.create(
        name=name,
        token_hash=_digest(raw),
        scopes=sorted(s.value for s in scopes),
        expires_at=expires_at,
    )
    return raw


async def token_row(raw: str) -> IntegrationToken | None:
    """The row of a token in clear text (just issued), whatever its state."""
    return await IntegrationToken.get_or_none(token_hash=_digest(raw))


async def authenticate_token(*, raw: str, now: datetime) -> IntegrationPrincipal | None:
    """Return who a bearer token belongs to, or None for an unknown, revoked or expired token."""
    if not raw.startswith(TOKEN_PREFIX):
        return None
    token = await IntegrationToken.get_or_none(token_hash=_digest(raw))
    if token is None or state_of(token, now) is not TokenState.ACTIVE:
        return None
    # Read first, write rarely: most calls of a busy 1C find the last use fresh and send no
    # UPDATE at all; the conditional one lets only one of many simultaneous calls write.
    if use_worth_recording(token.last_used_at, now):
        await IntegrationToken.record_use(
            token.id, now=now, unless_since=use_not_recorded_since(now)
        )
    return IntegrationPrincipal(token.id, token.name, parse_scopes(list(token.scopes)))


async def list_tokens() -> list[IntegrationToken]:
    """Every token, revoked and expired ones included, oldest first."""
    return await IntegrationToken.all().order_by("id")


async def revoke_token(*, token_id: int | str, now: datetime | None = None) -> IntegrationToken:
    """Revoke a token by id; it stops working at once. Revoking it again changes nothing."""
    number = parse_token_id(str(token_id))
    await IntegrationToken.revoke(number, now=now or datetime.now(UTC))
    token = await IntegrationToken.get_or_none(id=number)
    if token is None:
        raise DomainError(ErrorCode.NOT_FOUND, f"no integration token has id {number}", ("id",))
    return token


async def revoke_token_named(*, name: str, now: datetime) -> IntegrationToken:
    """Revoke the one working token called `name`; several of that name must go by id."""
    candidates = await IntegrationToken.filter(name=name, revoked_at__isnull=True).order_by("id")
    working = [t for t in candidates if state_of(t, now) is TokenState.ACTIVE]
    if not working:
        raise DomainError(ErrorCode.NOT_FOUND, f"no working token is named {name!r}", ("name",))
    if len(working) > 1:
        ids = ", ".join(str(t.id) for t in working)
        raise DomainError(
            ErrorCode.INVALID,
            f"{len(working)} working tokens are named {name!r} (ids {ids}): revoke one by id",
            ("name",),
        )
    return await revoke_token(token_id=working[0].id, now=now)


def tokens_table(tokens: list[IntegrationToken], now: datetime) -> str:
    """The tokens as text: id, name, state, scopes and their instants (UTC, to the minute)."""
    header = (
        f"{'id':>5}  {'name':<24}  {'state':<7}  {'scopes':<40}  "
        f"{'created':<16}  {'expires':<16}  {'last used':<16}  revoked"
    )
    lines = [header]
    for t in tokens:
        name = t.name if len(t.name) <= 24 else t.name[:23] + "…"
        row = (
            f"{t.id:>5}  {name:<24}  {state_of(t, now).value:<7}  {','.join(t.scopes):<40}  "
            f"{_minute(t.created_at):<16}  {_minute(t.expires_at):<16}  "
            f"{_minute(t.last_used_at):<16}  {_minute(t.revoked_at)}"
        )
        lines.append(row.rstrip())
    return "\n".join(lines)


def _minute(instant: datetime | None) -> str:
    return "-" if instant is None else instant.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
