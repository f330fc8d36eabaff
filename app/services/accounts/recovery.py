"""Passwords: reset by an e-mailed link, change while signed in. Either ends every session."""

from __future__ import annotations

from datetime import datetime

from redis.asyncio import Redis
from tortoise.transactions import in_transaction

from app.domain.accounts import check_password
from app.domain.contact import normalise_email
from app.domain.errors import DomainError, ErrorCode
from app.domain.outbound import MessageChannel
from app.models.customers import Customer
from app.services.accounts import throttle
from app.services.accounts.messages import digest, new_secret, record_message, send_now
from app.services.accounts.passwords import hash_password, verify_password
from app.services.accounts.sessions import Device, Tokens, end_all_sessions, start_session
from app.services.jobs import JobQueue
from app.settings import Settings

_RESET_KEY = "vitrina:account:reset:"


async def request_password_reset(
    *, redis: Redis, jobs: JobQueue, email: str, now: datetime, settings: Settings, ip: str = ""
) -> None:
    """E-mail a one-time reset link if the address has an account; answer the same if not."""
    try:
        email = normalise_email(email)
    except DomainError:
        return
    await throttle.admit_message(redis=redis, to=email, ip=ip, settings=settings, path=("email",))
    customer = await Customer.get_or_none(email=email, password_hash__isnull=False)
    if customer is None:
        return
    token = new_secret()
    ttl = settings.password_reset_minutes * 60
    await redis.set(_RESET_KEY + digest(token), str(customer.id), ex=ttl)
    event = await record_message(
        channel=MessageChannel.EMAIL,
        to=email,
        template="password_reset",
        params={
            "link": f"{settings.resolved_storefront_url}reset-password?token={token}",
            "minutes": str(settings.password_reset_minutes),
        },
        now=now,
    )
    await send_now(jobs, event)


def _invalid_token() -> DomainError:
    return DomainError(
        ErrorCode.INVALID_TOKEN, "the link is wrong, used or has expired", ("token",)
    )


async def reset_password(
    *,
    redis: Redis,
    token: str,
    new_password: str,
    device: Device,
    now: datetime,
    settings: Settings,
) -> Tokens:
    """Set a new password with a reset link (once), end every session, sign in here."""
    key = _RESET_KEY + digest(token.strip())
    held = await redis.get(key)
    customer = await Customer.get_or_none(id=int(held)) if held else None
    if customer is None:
        raise _invalid_token()
    check_password(new_password, customer.email, ("newPassword",))
    password_hash = await hash_password(new_password, settings)
    if await redis.getdel(key) is None:  # used by a concurrent request a moment ago
        raise _invalid_token()
    changes: dict[str, object] = {"password_hash": password_hash}
    if customer.email_verified_at is None:
        changes["email_verified_at"] = now  # the link reached the mailbox
    await _set_password(redis, customer.id, changes, now)
    return await start_session(
        redis=redis, customer_id=customer.id, device=device, now=now, settings=settings
    )


async def change_password(
    *,
    redis: Redis,
    customer_id: int,
    current_password: str,
    new_password: str,
    device: Device,
    now: datetime,
    settings: Settings,
) -> Tokens:
    """Change the password (the current one is checked, throttled like sign-in); every session
    ends and this device gets a new one."""
    customer = await Customer.get(id=customer_id)
    email = customer.email or ""
    check_password(new_password, email, ("newPassword",))
    await throttle.admit_attempt(redis=redis, email=email, ip=device.ip, settings=settings)
    if not await verify_password(customer.password_hash, current_password, settings):
        raise DomainError(
            ErrorCode.INVALID_CREDENTIALS, "the current password is wrong", ("currentPassword",)
        )
    await throttle.forget_failures(redis=redis, email=email, ip=device.ip)
    changes: dict[str, object] = {"password_hash": await hash_password(new_password, settings)}
    await _set_password(redis, customer.id, changes, now)
    return await start_session(
        redis=redis, customer_id=customer.id, device=device, now=now, settings=settings
    )


async def _set_password(
    redis: Redis, customer_id: int, changes: dict[str, object], now: datetime
) -> None:
    async with in_transaction():
        await Customer.filter(id=customer_id).update(**changes)
        await end_all_sessions(redis=redis, customer_id=customer_id, now=now)
