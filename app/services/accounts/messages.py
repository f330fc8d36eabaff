"""Messages to customers through the outbox, and the one-time secrets they carry."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime

from redis.asyncio import Redis

from app.domain.accounts import CODE_DIGITS, MAX_CODE_TRIES
from app.domain.outbound import CustomerMessageRecord, MessageChannel
from app.domain.outbox import EventKind, Target, aggregate_key
from app.models.outbox import OutboxEvent
from app.services.accounts.caller import AccountCall
from app.services.jobs import JobQueue
from app.services.outbox.record import announce, write_event


async def record_message(
    *, channel: MessageChannel, to: str, template: str, params: dict[str, str], now: datetime
) -> OutboxEvent:
    """Queue a message to a customer (an outbox row for the notify worker; call it inside the
    transaction of the change it tells about, if any)."""
    record = CustomerMessageRecord(str(uuid.uuid4()), channel, to, template, params)
    aggregate = aggregate_key(EventKind.CUSTOMER_MESSAGE, None, None, record.guid)
    return await write_event(Target.NOTIFY, aggregate, EventKind.CUSTOMER_MESSAGE, record, now)


async def send_now(jobs: JobQueue, event: OutboxEvent) -> None:
    """After commit: wake the notify worker (its per-second sweep would find it anyway)."""
    await announce(jobs, [event])


async def send_code(
    *,
    call: AccountCall,
    channel: MessageChannel,
    to: str,
    template: str,
    pending_key: str,
    subject: str,
    fields: dict[str, str],
) -> None:
    """Keep a request that waits for a code (sign-up, a phone) and send the code to `to`.

    Redis keeps only a digest of `subject` and the code; the message carries the code and how
    many minutes it stays valid.
    """
    code = new_code()
    minutes = call.settings.verification_code_minutes
    await keep_pending(call.redis, pending_key, digest(subject, code), fields, minutes * 60)
    event = await record_message(
        channel=channel,
        to=to,
        template=template,
        params={"code": code, "minutes": str(minutes)},
        now=call.now,
    )
    await send_now(call.jobs, event)


def new_code() -> str:
    """A short numeric code for a person to type (sign-up, phone)."""
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def new_secret() -> str:
    """A long random secret for a link (password reset)."""
    return secrets.token_urlsafe(32)


def digest(*parts: str) -> str:
    """SHA-256 of the parts: what redis and the database keep instead of a secret."""
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


# Check a code against a pending request kept as a redis hash, atomically: count the try, give up
# after too many (the request is gone), and on a match hand the request over exactly once.
_TAKE_IF_CODE = """
if redis.call('exists', KEYS[1]) == 0 then return nil end
local tries = redis.call('hincrby', KEYS[1], 'tries', 1)
if tries > tonumber(ARGV[2]) then redis.call('del', KEYS[1]) return nil end
if redis.call('hget', KEYS[1], 'code') ~= ARGV[1] then return nil end
local all = redis.call('hgetall', KEYS[1])
redis.call('del', KEYS[1])
return all
"""


async def keep_pending(
    redis: Redis, key: str, code_hash: str, fields: dict[str, str], ttl_seconds: int
) -> None:
    """Store a request that waits for a code (a new request replaces the previous one)."""
    async with redis.pipeline(transaction=True) as pipe:
        pipe.delete(key)
        pipe.hset(key, mapping={**fields, "code": code_hash, "tries": "0"})
        pipe.expire(key, ttl_seconds)
        await pipe.execute()


async def take_pending(redis: Redis, key: str, code_hash: str) -> dict[str, str] | None:
    """The request if the code is right (it is then used up), else None (one try spent)."""
    found = await redis.eval(_TAKE_IF_CODE, 1, key, code_hash, str(MAX_CODE_TRIES))  # type: ignore[misc]
    if not found:
        return None
    flat = [item.decode() for item in found]
    return dict(zip(flat[::2], flat[1::2], strict=True))
