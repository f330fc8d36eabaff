"""The Instagram account we sync: its long-lived token, encrypted at rest, kept alive."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import structlog
from cryptography.fernet import Fernet, InvalidToken

from app.domain.instashop import TOKEN_LIFETIME, TokenStatus, token_status
from app.integrations.instagram.client import InstagramApiError, TokenExpiredError
from app.integrations.instagram.mapping import RefreshedToken
from app.models.instashop import InstagramAccount
from app.settings import Settings

DEV_KEY_SEED = b"vitrina-dev-instagram-token-key"
log = structlog.get_logger(__name__)


class InstashopOff(Exception):
    """Instashop is not configured, or its token cannot be used (a person must act)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class InstashopConfig:
    """What a sync needs of the settings, read once."""

    user_id: str
    initial_token: str
    token_key: str
    page_size: int = 25
    usage_pause_percent: int = 80
    lease: timedelta = timedelta(minutes=10)
    auto_link: bool = False  # INSTASHOP_AUTO_LINK=sku: accept article suggestions at sync

    @classmethod
    def of(cls, settings: Settings) -> InstashopConfig:
        return cls(
            user_id=settings.instagram_user_id,
            initial_token=settings.instagram_access_token,
            token_key=token_key(settings),
            page_size=max(1, min(100, settings.instagram_page_size)),
            usage_pause_percent=settings.instagram_usage_pause_percent,
            auto_link=settings.instashop_auto_link == "sku",
        )


class TokenRefresher(Protocol):
    """What refreshing needs of the Instagram client."""

    async def refresh_token(self, token: str) -> RefreshedToken: ...


def instashop_enabled(settings: Settings) -> bool:
    return bool(settings.instagram_access_token)


def token_key(settings: Settings) -> str:
    """INSTAGRAM_TOKEN_KEY; outside prod a fixed key stands in (never for a real account)."""
    if settings.instagram_token_key or settings.environment == "prod":
        return settings.instagram_token_key
    return base64.urlsafe_b64encode(hashlib.sha256(DEV_KEY_SEED).digest()).decode()


def _fernet(config: InstashopConfig) -> Fernet:
    if not config.token_key:
        raise InstashopOff("INSTAGRAM_TOKEN_KEY is required to store the Instagram token")
    try:
        return Fernet(config.token_key.encode())
    except ValueError as exc:
        raise InstashopOff("INSTAGRAM_TOKEN_KEY is not a Fernet key") from exc


async def ensure_account(config: InstashopConfig, now: datetime) -> InstagramAccount:
    """The account row, made from INSTAGRAM_ACCESS_TOKEN on the first sync (treated as just
    issued: its real age is unknown, so the first refresh is a day later). Once the stored
    token has expired, a new INSTAGRAM_ACCESS_TOKEN (a person logged in again) replaces it."""
    account = await InstagramAccount.get_or_none(ig_user_id=config.user_id)
    if account is not None:
        if account.token_expired and config.initial_token:
            if read_token(account, config) != config.initial_token:
                fresh = RefreshedToken(config.initial_token, TOKEN_LIFETIME)
                await store_token(account, config, fresh, now)
        return account
    if not config.initial_token:
        raise InstashopOff("INSTAGRAM_ACCESS_TOKEN is not set")
    account, _ = await InstagramAccount.get_or_create(
        ig_user_id=config.user_id,
        defaults={
            "token_encrypted": _fernet(config).encrypt(config.initial_token.encode()).decode(),
            "token_issued_at": now,
            "token_expires_at": now + TOKEN_LIFETIME,
        },
    )
    return account


def read_token(account: InstagramAccount, config: InstashopConfig) -> str:
    try:
        return _fernet(config).decrypt(account.token_encrypted.encode()).decode()
    except InvalidToken as exc:
        raise InstashopOff("the stored token does not open with INSTAGRAM_TOKEN_KEY") from exc


async def usable_token(
    account: InstagramAccount, client: TokenRefresher, config: InstashopConfig, now: datetime
) -> str:
    """The token to call Instagram with, refreshed first when it is at least a day old."""
    if account.token_expired:
        raise InstashopOff("the Instagram token expired or was revoked: log in again")
    status = token_status(
        issued_at=account.token_issued_at, expires_at=account.token_expires_at, now=now
    )
    if status is TokenStatus.EXPIRED:
        await mark_token_expired(account, "the Instagram token is past its 60 days")
        raise InstashopOff("the Instagram token expired: log in again")
    token = read_token(account, config)
    if status is TokenStatus.REFRESH:
        try:
            fresh = await client.refresh_token(token)
        except InstagramApiError as exc:
            if isinstance(exc, TokenExpiredError):
                raise
            log.warning("instashop.refresh_refused", error=exc.message)
            return token  # still valid: the next sync tries the refresh again
        await store_token(account, config, fresh, now)
        token = fresh.access_token
    return token


async def store_token(
    account: InstagramAccount, config: InstashopConfig, fresh: RefreshedToken, now: datetime
) -> None:
    account.token_encrypted = _fernet(config).encrypt(fresh.access_token.encode()).decode()
    account.token_issued_at, account.token_expires_at = now, now + fresh.expires_in
    account.token_expired = False
    await account.save(
        update_fields=["token_encrypted", "token_issued_at", "token_expires_at", "token_expired"]
    )


async def mark_token_expired(account: InstagramAccount, reason: str) -> None:
    account.token_expired, account.last_error = True, reason[:500]
    await account.save(update_fields=["token_expired", "last_error"])
