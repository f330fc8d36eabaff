"""Passwords: reset by an e-mailed link, change while signed in. Either ends every session."""

from __future__ import annotations

import asyncio
import time
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
from app.services.accounts.messages import digest, new_secret, record_message
from app.services.accounts.passwords import hash_password, verify_password
from app.services.accounts.sessions import Tokens, end_all_sessions, start_session

_RESET_KEY = "vitrina:account:reset:"
ANSWER_FLOOR = 0.05  # seconds; the work takes ~10 ms (p90 ~16 ms on a loaded 2-core box)
_NOBODY = ""  # the owner of a reset token made for an address without an account


async def request_password_reset(
    *,
    call: AccountCall,
    email: str,
) -> None:
    """E-mail a one-time reset link if the address has an account; answer the same if not.

    The time taken must not tell either, so both cases do the same work, then wait out a floor:
    - the same round trips: a token and its digest are made and written to redis with the same
      expiry (owned by nobody, so `reset_password` refuses it), and the message row is inserted
      in a transaction that is committed, or rolled back when there is no account. Neither case
      wakes the notify worker (its sweep finds the message within a second). This holds under
      any load, but a commit still costs a disk flush that a rollback does not (about 2 ms);
    - `ANSWER_FLOOR`: the answer is held back until the floor has passed, which hides that
      residue and the jitter while the work stays under it; past it, only the residue shows.
    """
    try:
        email = normalise_email(email)
    except DomainError:
        return  # not an address: there is nothing to hide
    await throttle.admit_message(call=call, to=email, path=("email",))
    started = time.monotonic()
    try:
        customer = await Customer.get_or_none(email=email, password_hash__isnull=False)
        token = new_secret()
        owner = str(customer.id) if customer is not None else _NOBODY
        ttl = call.settings.password_reset_minutes * 60
        await call.redis.set(_RESET_KEY + digest(token), owner, ex=ttl)
        await _queue_reset_link(call, email, token, send=customer is not None)
    finally:
        await asyncio.sleep(max(0.0, started + ANSWER_FLOOR - time.monotonic()))


class _NotSent(Exception):
    """Rolls back the reset message of an address without an account."""


async def _queue_reset_link(call: AccountCall, email: str, token: str, *, send: bool) -> None:
    try:
        async with in_transaction():
            await record_message(
                channel=MessageChannel.EMAIL,
                to=email,
                template="password_reset",
                params={
                    "link": f"{call.settings.resolved_storefront_url}reset-password?token={token}",
                    "minutes": str(call.settings.password_reset_minutes),
                },
                now=call.now,
            )
            if not send:
                raise _NotSent
    except _NotSent:
        pass


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
