"""A stream of its own per test (a unique key on the test's redis), a publisher and feeds."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from app.models.stock import written_versions
from app.services.stock_stream import StockFeed, StockPublisher, VariantStock
from app.settings import Settings


@pytest.fixture
def stream_settings(tmp_path: Path) -> Settings:
    return Settings(
        environment="test",
        data_dir=tmp_path,
        stock_stream_key=f"test:stock:{uuid.uuid4().hex}",
        stock_stream_coalesce_ms=2,
        stock_stream_block_ms=200,
        stock_feed_refresh_ms=50,
    )


@pytest.fixture
async def redis(redis_url: str, stream_settings: Settings) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.delete(stream_settings.stock_stream_key)
    await client.aclose()


@pytest.fixture
async def publisher(redis: Redis, stream_settings: Settings) -> StockPublisher:
    """Published by hand (`publish_pending`): the tests decide when."""
    written_versions.forget_all()  # writes of earlier tests are not this test's
    return StockPublisher(redis, stream_settings)


@pytest.fixture
async def new_feed(
    redis: Redis, stream_settings: Settings
) -> AsyncIterator[Callable[..., StockFeed]]:
    """Feeds ("processes") on the test's stream; each is closed after the test."""
    feeds: list[StockFeed] = []

    def make(client: Redis | None = None, **kwargs: Any) -> StockFeed:
        feed = StockFeed(client or redis, stream_settings, **kwargs)
        feeds.append(feed)
        return feed

    yield make
    for feed in feeds:
        await feed.close()


async def until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    """Wait for `condition` (a feed works in the background)."""
    async with asyncio.timeout(seconds):
        while not condition():
            await asyncio.sleep(0.005)


async def published(redis: Redis, key: str) -> list[VariantStock]:
    """Every figure the stream holds, oldest first (not its resets: a warehouse written)."""
    entries = await redis.xrange(key)
    return [VariantStock.decode(fields[b"f"]) for _, fields in entries if b"f" in fields]


def at(feed: StockFeed, variant_id: int, now: datetime) -> int | None:
    figure = feed.latest(variant_id, now)
    return None if figure is None else figure.available
