"""Customer sessions: short-lived access tokens in redis, rotated refresh tokens in the database.

An access token (`vca_…`) is looked up in redis by its SHA-256 and expires on its own; a refresh
token (`vcr_…`) is kept hashed in `customer_session` and replaced by a new one on every refresh.
Presenting a refresh token that was already replaced means someone else holds a copy: the whole
session is revoked.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from redis.asyncio import Redis

from app.domain.accounts import CustomerPrincipal
from app.domain.errors import DomainError, ErrorCode
from app.models.customers import CustomerSession
from app.services.accounts.caller import AccountCall
from app.services.accounts.messages import digest
from app.settings import Settings

ACCESS_PREFIX = "vca_"
REFRESH_PREFIX = "vcr_"
_ACCESS_KEY = "vitrina:account:access:"
REUSE_GRACE = timedelta(seconds=10)


@dataclass(frozen=True)
class Tokens:
    customer_id: int
    access_token: str
    access_expires_at: datetime
    refresh_token: str
    refresh_expires_at: datetime


def _new(prefix: str) -> tuple[str, str]:
    raw = prefix + secrets.token_urlsafe(32)
    return raw, digest(raw)


async def _grant_access(
    redis: Redis, customer_id: int, session_id: int, settings: Settings
) -> tuple[str, str]:
    raw, hashed = _new(ACCESS_PREFIX)
    ttl = timedelta(minutes=settings.access_token_minutes)
    await redis.set(_ACCESS_KEY + hashed, f"{customer_id}:{session_id}", ex=ttl)
    return raw, hashed


async def start_session(*, call: AccountCall, customer_id: int) -> Tokens:
    """Sign a customer in on one device: a new session and its first pair of tokens."""
    refresh, refresh_hash = _new(REFRESH_PREFIX)
    expires_at = call.now + timedelta(days=call.settings.refresh_token_days)
    session = await CustomerSession.create(
        customer_id=customer_id,
        refresh_hash=refresh_hash,
        user_agent=call.device.user_agent[:200],
        ip=call.device.ip[:64],
        created_at=call.now,
        last_used_at=call.now,
        expires_at=expires_at,
    )
    access, access_hash = await _grant_access(call.redis, customer_id, session.id, call.settings)
    await CustomerSession.filter(id=session.id).update(access_hash=access_hash)
    access_expires = call.now + timedelta(minutes=call.settings.access_token_minutes)
    return Tokens(customer_id, access, access_expires, refresh, expires_at)


def _invalid_refresh() -> DomainError:
    return DomainError(
        ErrorCode.INVALID_TOKEN, "the session has ended; sign in again", ("refreshToken",)
    )


async def refresh_session(
    *,
    call: AccountCall,
    refresh_token: str,
) -> Tokens:
    """Swap a refresh token for a new pair; the old refresh and access tokens stop working.

    The swap is a conditional update from the old hash: of two refreshes with one token, only
    one can win. A token that was already swapped revokes its session (it was copied).
    """
    old_hash = digest(refresh_token)
    session = await CustomerSession.get_or_none(
        refresh_hash=old_hash, revoked_at=None, expires_at__gt=call.now
    )
    if session is None:
        await _revoke_if_reused(call.redis, old_hash, call.now)
        raise _invalid_refresh()
    refresh, refresh_hash = _new(REFRESH_PREFIX)
    expires_at = call.now + timedelta(days=call.settings.refresh_token_days)
    won = await CustomerSession.filter(
        id=session.id, refresh_hash=old_hash, revoked_at=None
    ).update(
        refresh_hash=refresh_hash,
        previous_refresh_hash=old_hash,
        last_used_at=call.now,
        expires_at=expires_at,
        user_agent=call.device.user_agent[:200] or session.user_agent,
        ip=call.device.ip[:64] or session.ip,
    )
    if not won:
        raise _invalid_refresh()
    access, access_hash = await _grant_access(
        call.redis, session.customer_id, session.id, call.settings
    )
    if session.access_hash:
        await call.redis.delete(_ACCESS_KEY + session.access_hash)
    # Stored only if no revocation has marked the session since our swap: `_revoke` reads the
    # tokens after it marks, so either it sees this one or this update sees its mark.
    stored = await CustomerSession.filter(
        id=session.id, refresh_hash=refresh_hash, revoked_at=None
    ).update(access_hash=access_hash)
    if not stored:
        await call.redis.delete(_ACCESS_KEY + access_hash)
        raise _invalid_refresh()
    access_expires = call.now + timedelta(minutes=call.settings.access_token_minutes)
    return Tokens(session.customer_id, access, access_expires, refresh, expires_at)


async def _revoke_if_reused(redis: Redis, presented_hash: str, now: datetime) -> None:
    reused = await CustomerSession.get_or_none(
        previous_refresh_hash=presented_hash, revoked_at=None
    )
    # Within a few seconds of the swap it is the same client racing itself (two tabs): refuse,
    # but keep the session that the other request just renewed.
    if reused is not None and reused.last_used_at + REUSE_GRACE <= now:
        await _revoke(redis, [reused], now)


async def end_session(*, redis: Redis, session_id: int, now: datetime) -> None:
    """Sign out one device: its refresh and access tokens stop working at once."""
    await _revoke(redis, list(await CustomerSession.filter(id=session_id, revoked_at=None)), now)


async def end_all_sessions(*, redis: Redis, customer_id: int, now: datetime) -> None:
    """Sign the customer out everywhere (password changed or reset)."""
    live = await CustomerSession.filter(customer_id=customer_id, revoked_at=None)
    await _revoke(redis, list(live), now)


async def _revoke(redis: Redis, sessions: list[CustomerSession], now: datetime) -> None:
    if not sessions:
        return
    ids = [s.id for s in sessions]
    await CustomerSession.filter(id__in=ids).update(revoked_at=now)
    # The access tokens are read after the sessions are marked: a refresh racing us has either
    # stored its new token by now, or will find the mark and withdraw the token itself.
    hashes = await CustomerSession.filter(id__in=ids, access_hash__isnull=False).values_list(
        "access_hash", flat=True
    )
    keys = [_ACCESS_KEY + str(h) for h in hashes if h]
    if keys:
        await redis.delete(*keys)


async def principal_of(*, redis: Redis, access_token: str) -> CustomerPrincipal | None:
    """Who an access token belongs to, or None for an unknown, expired or revoked one."""
    if not access_token.startswith(ACCESS_PREFIX):
        return None
    value = await redis.get(_ACCESS_KEY + digest(access_token))
    if value is None:
        return None
    customer_id, _, session_id = value.decode().partition(":")
    return CustomerPrincipal(int(customer_id), int(session_id))
