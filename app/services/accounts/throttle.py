"""Sign-in throttling in redis: attempts per account and per client address, in a fixed window."""

from __future__ import annotations

from redis.asyncio import Redis

from app.domain.accounts import (
    AttemptCounts,
    LoginLimits,
    login_wait,
    too_many_attempts,
    too_many_messages,
)
from app.services.accounts.caller import AccountCall
from app.settings import Settings

_ACCOUNT_KEY = "vitrina:login:account:"
_IP_KEY = "vitrina:login:ip:"
_MESSAGE_TO_KEY = "vitrina:messages:to:"
_MESSAGE_IP_KEY = "vitrina:messages:ip:"


def limits(settings: Settings) -> LoginLimits:
    return LoginLimits(
        per_account=settings.login_failures_per_account,
        per_ip=settings.login_failures_per_ip,
        window_seconds=settings.login_window_minutes * 60,
    )


async def admit_attempt(
    *,
    call: AccountCall,
    email: str,
) -> None:
    """Count this attempt against the account and the address, or refuse it (TOO_MANY_ATTEMPTS)
    when either has had too many failures in the window, before any password is checked.

    The attempt is counted first, atomically (INCR), so parallel guesses cannot all slip in
    under the limit; a successful sign-in takes its attempt back (`forget_failures`).
    """
    counts = await _count(
        call.redis, _ACCOUNT_KEY + email, _IP_KEY + call.ip, limits(call.settings)
    )
    wait = login_wait(counts, limits(call.settings))
    if wait is not None:
        raise too_many_attempts(wait)


async def admit_message(
    *,
    call: AccountCall,
    to: str,
    path: tuple[str, ...],
) -> None:
    """Count a code or link about to be sent to `to` at a client's request; refuse it
    (TOO_MANY_ATTEMPTS) beyond the limits per address and per client address. Counted whether
    or not the address has an account, so the answer still tells nothing."""
    window = LoginLimits(
        per_account=call.settings.messages_per_address,
        per_ip=call.settings.messages_per_ip,
        window_seconds=call.settings.message_window_minutes * 60,
    )
    counts = await _count(call.redis, _MESSAGE_TO_KEY + to, _MESSAGE_IP_KEY + call.ip, window)
    wait = login_wait(counts, window)
    if wait is not None:
        raise too_many_messages(wait, path)


async def _count(redis: Redis, first: str, second: str, window: LoginLimits) -> AttemptCounts:
    """Count one more in both fixed windows, atomically; the counts and their seconds left."""
    async with redis.pipeline(transaction=True) as pipe:
        for key in (first, second):
            pipe.incr(key)
            pipe.expire(key, window.window_seconds, nx=True)
            pipe.ttl(key)
        one, _, one_ttl, two, _, two_ttl = await pipe.execute()
    return AttemptCounts(one, one_ttl, two, two_ttl)


async def forget_failures(
    *,
    call: AccountCall,
    email: str,
) -> None:
    """A successful sign-in: the account's counter starts again; this attempt was no failure."""
    await call.redis.delete(_ACCOUNT_KEY + email)
    await call.redis.eval(_TAKE_BACK, 1, _IP_KEY + call.ip)  # type: ignore[misc]


# Decrement only a live counter: a window that just ended must not come back without a TTL.
_TAKE_BACK = "if redis.call('exists', KEYS[1]) == 1 then return redis.call('decr', KEYS[1]) end"
