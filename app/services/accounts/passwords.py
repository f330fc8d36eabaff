"""Password hashing with argon2id, off the event loop (each hash costs tens of milliseconds)."""

from __future__ import annotations

import asyncio
import secrets
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app.settings import Settings


@lru_cache(maxsize=8)
def _hasher(time_cost: int, memory_kib: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=1)


def hasher(settings: Settings) -> PasswordHasher:
    return _hasher(settings.password_time_cost, settings.password_memory_kib)


@lru_cache(maxsize=8)
def _dummy_hash(time_cost: int, memory_kib: int) -> str:
    return _hasher(time_cost, memory_kib).hash(secrets.token_urlsafe(16))


async def hash_password(password: str, settings: Settings) -> str:
    """The argon2id hash of a password (salted; parameters from the settings)."""
    return await asyncio.to_thread(hasher(settings).hash, password)


async def verify_password(password_hash: str | None, password: str, settings: Settings) -> bool:
    """True if the password matches. Without a hash (no account, or a guest) the check still
    runs against a dummy hash, so the answer takes as long either way."""
    ph = hasher(settings)
    if password_hash is None:
        dummy = await asyncio.to_thread(
            _dummy_hash, settings.password_time_cost, settings.password_memory_kib
        )
        await asyncio.to_thread(_verify, ph, dummy, password)
        return False
    return await asyncio.to_thread(_verify, ph, password_hash, password)


def _verify(ph: PasswordHasher, password_hash: str, password: str) -> bool:
    try:
        return ph.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str, settings: Settings) -> bool:
    """True if the hash was made with other parameters than the settings' (rehash on login)."""
    return hasher(settings).check_needs_rehash(password_hash)
