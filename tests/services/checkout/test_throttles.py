"""Token buckets in redis, and the checkout throttles per client address and per device."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from redis.asyncio import Redis

from app.domain.checkout import CheckoutCall
from app.domain.errors import DomainError, ErrorCode
from app.redis_setup import free_port
from app.services.checkout import throttles
from app.services.throttles import Bucket, take
from app.settings import Settings

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
PHONE = "1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b"
LAPTOP = "6fa459ea-ee8a-3ca4-894e-db77e160355e"


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    await client.flushdb()  # buckets of an earlier test must not count here
    yield client
    await client.aclose()


def _settings(tmp_path: Path, **figures: int) -> Settings:
    base = Settings(environment="test", data_dir=tmp_path, checkout_throttles=True)
    return base.model_copy(update=figures)


async def _admit(
    redis: Redis, settings: Settings, address: str, device: str | None, at: datetime = NOW
) -> int | None:
    """None if the call may go on, else the seconds it was told to wait."""
    try:
        await throttles.admit(
            redis=redis,
            settings=settings,
            call=CheckoutCall.CREATE_CART,
            address=address,
            device_id=device,
            now=at,
        )
    except DomainError as error:
        assert error.code is ErrorCode.TOO_MANY_ATTEMPTS
        return error.retry_after
    return None


# --- the token bucket ----------------------------------------------------------------------


async def test_a_call_takes_from_every_bucket_or_from_none(redis: Redis) -> None:
    small, large = Bucket("t:small", 2, 1.0), Bucket("t:large", 5, 1.0)
    spent = [await take(redis=redis, buckets=[small, large], cost=1, now=NOW) for _ in range(3)]
    assert [(s.admitted, s.remaining, s.retry_after) for s in spent] == [
        (True, 1, 0),
        (True, 0, 0),
        (False, 0, 1),
    ]
    # the refused call cost the large bucket nothing: 3 of its 5 are left
    alone = await take(redis=redis, buckets=[large], cost=1, now=NOW)
    assert (alone.admitted, alone.remaining) == (True, 2)


async def test_a_bucket_refills_at_its_rate_and_says_when(redis: Redis) -> None:
    bucket = Bucket("t:slow", 3, 0.05)  # 3 a minute
    for _ in range(3):
        assert (await take(redis=redis, buckets=[bucket], cost=1, now=NOW)).admitted
    refused = await take(redis=redis, buckets=[bucket], cost=1, now=NOW)
    assert (refused.admitted, refused.retry_after) == (False, 20)
    early = await take(redis=redis, buckets=[bucket], cost=1, now=NOW + timedelta(seconds=19))
    assert early.admitted is False
    on_time = await take(redis=redis, buckets=[bucket], cost=1, now=NOW + timedelta(seconds=20))
    assert on_time.admitted is True
    # a clock that goes back refills nothing
    back = await take(redis=redis, buckets=[bucket], cost=1, now=NOW)
    assert back.admitted is False
    assert 0 < await redis.pttl("t:slow") <= 61_000  # an idle bucket leaves redis once full


# --- checkout: per address and per device ----------------------------------------------------


async def test_a_device_has_its_own_limit_and_the_address_is_the_floor(
    redis: Redis, tmp_path: Path
) -> None:
    settings = _settings(
        tmp_path, throttle_create_cart_per_device=2, throttle_create_cart_per_address=5
    )
    home = "203.0.113.7"
    assert [await _admit(redis, settings, home, PHONE) for _ in range(3)] == [None, None, 30]
    # another device behind the same address has its own two
    assert [await _admit(redis, settings, home, LAPTOP) for _ in range(3)] == [None, None, 30]
    # without a device id, the address alone counts: 4 of its 5 are gone
    assert [await _admit(redis, settings, home, None) for _ in range(2)] == [None, 12]
    # a new device id does not get past the address either
    assert await _admit(redis, settings, home, "0f8fad5b-d9cb-469f-a165-70867728950e") == 12
    # nor does another address of the same IPv6 /64; another address is untouched
    v6 = _settings(tmp_path, throttle_create_cart_per_address=1)
    assert await _admit(redis, v6, "2001:db8:1:2::1", None) is None
    assert await _admit(redis, v6, "2001:db8:1:2::2", None) == 60
    assert await _admit(redis, settings, "198.51.100.1", None) is None
    # a minute later the device may again
    assert await _admit(redis, settings, home, PHONE, NOW + timedelta(minutes=1)) is None


async def test_a_throttle_at_zero_is_off_and_tests_have_none_by_default(
    redis: Redis, tmp_path: Path
) -> None:
    off = _settings(tmp_path, throttle_create_cart_per_device=0, throttle_create_cart_per_address=0)
    assert [await _admit(redis, off, "203.0.113.7", PHONE) for _ in range(100)] == [None] * 100
    default = Settings(environment="test", data_dir=tmp_path)
    assert default.checkout_throttles_on is False
    assert Settings(environment="prod", data_dir=tmp_path).checkout_throttles_on is True
    assert await redis.dbsize() == 0


async def test_a_redis_that_does_not_answer_lets_shoppers_through(tmp_path: Path) -> None:
    gone = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.5)
    try:
        settings = _settings(tmp_path, throttle_create_cart_per_address=1)
        assert [await _admit(gone, settings, "203.0.113.7", None) for _ in range(3)] == [None] * 3
    finally:
        await gone.aclose()
