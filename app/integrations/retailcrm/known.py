"""What RetailCRM was last told of each customer, so that an unchanged one is not sent again.

A drop's buyers are mostly the brand's returning customers: RetailCRM has them, and each order
carries its customer as she is, usually as she was last time. Event by event that is an edit
per order which changes nothing; in a batch it would be a refused upload and then that edit.
So the client remembers, per API key and customer, a digest of the payload RetailCRM took last
(created, or edited in), and leaves out a customer whose payload is the same: RetailCRM already
holds every one of its fields. A cache in redis: a miss (flushed, expired, never sent) costs
only the edit that would have been made anyway, and a write that fails forgets the customer.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.integrations.retailcrm.budget import key_digest

_KEY = "vitrina:retailcrm:customer:"
# Every key its digest, with the expiry last among the arguments: one command, whatever the count.
_SET_ALL = """
for i, key in ipairs(KEYS) do redis.call('SET', key, ARGV[i], 'EX', ARGV[#ARGV]) end
"""
Json = dict[str, Any]


class KnownCustomers(Protocol):
    async def unchanged(self, payloads: Mapping[str, Json]) -> set[str]: ...
    async def remember(self, payloads: Mapping[str, Json]) -> None: ...
    async def forget(self, guids: Iterable[str]) -> None: ...


def digest(payload: Json) -> str:
    """A payload's fingerprint (the same fields and values, the same digest)."""
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class RedisKnownCustomers:
    """The digests in redis, for `ttl` after RetailCRM took each (drops are monthly: a year
    and a month covers a customer of last year's); redis trouble is a miss."""

    def __init__(self, redis_url: str, api_key: str, ttl: timedelta = timedelta(days=400)) -> None:
        self._redis = Redis.from_url(redis_url)
        self._prefix = f"{_KEY}{key_digest(api_key)}:"
        self._ttl = ttl

    async def unchanged(self, payloads: Mapping[str, Json]) -> set[str]:
        """The customers RetailCRM holds as these payloads would leave them."""
        guids = list(payloads)
        if not guids:
            return set()
        try:
            stored = await self._redis.mget([self._prefix + g for g in guids])
        except RedisError:
            return set()
        return {
            guid
            for guid, known in zip(guids, stored, strict=True)
            if known is not None and known.decode() == digest(payloads[guid])
        }

    async def remember(self, payloads: Mapping[str, Json]) -> None:
        """RetailCRM took these payloads."""
        if not payloads:
            return
        keys = [self._prefix + g for g in payloads]
        digests = [digest(p) for p in payloads.values()]
        seconds = str(int(self._ttl.total_seconds()))
        try:
            await self._redis.eval(_SET_ALL, len(keys), *keys, *digests, seconds)
        except RedisError:
            await self.forget(payloads)

    async def forget(self, guids: Iterable[str]) -> None:
        """What RetailCRM holds of these is not known (a write failed, or may have)."""
        keys = [self._prefix + g for g in guids]
        if not keys:
            return
        try:
            await self._redis.delete(*keys)
        except RedisError:
            pass  # the budget, in the same redis, holds every call back until it is back

    async def aclose(self) -> None:
        await self._redis.aclose()
