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
from app.services.accounts.caller import AccountCall
from app.services.accounts.messages import digest, new_secret, record_message, send_now
from app.services.accounts.passwords import hash_password, verify_password
from app.services.accounts.sessions import Tokens, end_all_sessions, start_session

_RESET_KEY = "vitrina:account:reset:"


async def request_password_reset(
    *,
    call: AccountCall,
    email: str,
) -> None:
    """E-mail a one-time reset link if the address has an account; answer the same if not."""
    try:
        email = normalise_email(email)
    except DomainError:
        return
    await throttle.admit_message(call=call, to=email, path=("email",))
    customer = await Customer.get_or_none(email=email, password_hash__isnull=False)
    if customer is None:
        return
    token = new_secret()
    ttl = call.settings.password_reset_minutes * 60
    await call.redis.set(_RESET_KEY + digest(token), str(customer.id), ex=ttl)
    event = await record_message(
        channel=MessageChannel.EMAIL,
        to=email,
        template="password_reset",
        params={
            "link": f"{call.settings.resolved_storefront_url}reset-password?token={token}",
            "minutes": str(call.settings.password_reset_minutes),
        },
        now=call.now,
    )
    await send_now(call.jobs, event)


def _invalid_token() -> DomainError:
    return DomainError(
        ErrorCode.INVALID_TOKEN, "the link is wrong, used or has expired", ("token",)
    )


async def reset_password(
    *,
    call: AccountCall,
    token: str,
    new_password: str,
) -> Tokens:
    """Set a new password with a reset link (once), end every session, sign in here."""
    key = _RESET_KEY + digest(token.strip())
    held = await call.redis.get(key)
    customer = await Customer.get_or_none(id=int(held)) if held else None
    if customer is None:
        raise _invalid_token()
    check_password(new_password, customer.email, ("newPassword",))
    password_hash = await hash_password(new_password, call.settings)
    if await call.redis.getdel(key) is None:  # used by a concurrent request a moment ago
        raise _invalid_token()
    changes: dict[str, object] = {"password_hash": password_hash}
    if customer.email_verified_at is None:
        changes["email_verified_at"] = call.now  # the link reached the mailbox
    await _set_password(call.redis, customer.id, changes, call.now)
    return await start_session(call=call, customer_id=customer.id)


async def change_password(
    *,
    call: AccountCall,
    customer_id: int,
    current_password: str,
    new_password: str,
) -> Tokens:
    """Change the password (the current one is checked, throttled like sign-in); every session
    ends and this device gets a new one."""
    customer = await Customer.get(id=customer_id)
    email = customer.email or ""
    check_password(new_password, email, ("newPassword",))
    await throttle.admit_attempt(call=call, email=email)
    if not await verify_password(customer.password_hash, current_password, call.settings):
        raise DomainError(
            ErrorCode.INVALID_CREDENTIALS, "the current password is wrong", ("currentPassword",)
        )
    await throttle.forget_failures(call=call, email=email)
    changes: dict[str, object] = {"password_hash": await hash_password(new_password, call.settings)}
    await _set_password(call.redis, customer.id, changes, call.now)
    return await start_session(call=call, customer_id=customer.id)


async def _set_password(
    redis: Redis, customer_id: int, changes: dict[str, object], now: datetime
) -> None:
    async with in_transaction():
        await Customer.filter(id=customer_id).update(**changes)
        await end_all_sessions(redis=redis, customer_id=customer_id, now=now)
