"""Integration tokens: issue, authenticate, revoke. Only a SHA-256 of the token is stored."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime

from app.domain.access import IntegrationPrincipal, Scope, parse_scopes
from app.models.auth import IntegrationToken

TOKEN_PREFIX = "vit_"


def _digest(raw: str) -> str:
    # Tokens carry 256 bits of randomness, so a fast hash is enough (no dictionary to attack).
    return hashlib.sha256(raw.encode()).hexdigest()


async def create_token(*, name: str, scopes: list[Scope]) -> str:
    """Issue a token and return it in clear text: the only time anyone sees it."""
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    await IntegrationToken.create(
        name=name, token_hash=_digest(raw), scopes=sorted(s.value for s in scopes)
    )
    return raw


async def authenticate_token(*, raw: str) -> IntegrationPrincipal | None:
    """Return who a bearer token belongs to, or None for an unknown or revoked token."""
    if not raw.startswith(TOKEN_PREFIX):
        return None
    token = await IntegrationToken.get_or_none(token_hash=_digest(raw), revoked_at=None)
    if token is None:
        return None
    await IntegrationToken.filter(id=token.id).update(last_used_at=datetime.now(UTC))
    return IntegrationPrincipal(token.id, token.name, parse_scopes(list(token.scopes)))


async def revoke_token(*, token_id: int) -> bool:
    """Revoke a token; True if it was active."""
    changed = await IntegrationToken.filter(id=token_id, revoked_at=None).update(
        revoked_at=datetime.now(UTC)
    )
    return changed > 0
