"""Sign-in throttling in redis: attempts per account and per client address, in a fixed window."""

from __future__ import annotations

from redis.asyncio import Redis

from app.domain.accounts import AttemptCounts, LoginLimits, login_wait, too_many_attempts
from app.settings import Settings

_ACCOUNT_KEY = "vitrina:login:account:"
_IP_KEY = "vitrina:login:ip:"


def limits(settings: Settings) -> LoginLimits:
    return LoginLimits(
        per_account=settings.login_failures_per_account,
        per_ip=settings.login_failures_per_ip,
        window_seconds=settings.login_window_minutes * 60,
    )


async def admit_attempt(*, redis: Redis, email: str, ip: str, settings: Settings) -> None:
    """Count this attempt against the account and the address, or refuse it (TOO_MANY_ATTEMPTS)
    when either has had too many failures in the window, before any password is checked.

    The attempt is counted first, atomically (INCR), so parallel guesses cannot all slip in
    under the limit; a successful sign-in takes its attempt back (`forget_failures`).
    """
    window = limits(settings)
    account_key, ip_key = _ACCOUNT_KEY + email, _IP_KEY + ip
    async with redis.pipeline(transaction=True) as pipe:
        pipe.incr(account_key)
        pipe.expire(account_key, window.window_seconds, nx=True)
        pipe.ttl(account_key)
        pipe.incr(ip_key)
        pipe.expire(ip_key, window.window_seconds, nx=True)
        pipe.ttl(ip_key)
        account, _, account_ttl, from_ip, _, ip_ttl = await pipe.execute()
    wait = login_wait(AttemptCounts(account, account_ttl, from_ip, ip_ttl), window)
    if wait is not None:
        raise too_many_attempts(wait)


async def forget_failures(*, redis: Redis, email: str, ip: str) -> None:
    """A successful sign-in: the account's counter starts again; this attempt was no failure."""
    await redis.delete(_ACCOUNT_KEY + email)
    await redis.eval(_TAKE_BACK, 1, _IP_KEY + ip)  # type: ignore[misc]


# Decrement only a live counter: a window that just ended must not come back without a TTL.
_TAKE_BACK = "if redis.call('exists', KEYS[1]) == 1 then return redis.call('decr', KEYS[1]) end"
