"""The publisher: after commit only, once per burst of writes, notes kept while redis is down."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis
from tortoise.transactions import in_transaction

from app.db import is_sqlite
from app.models.catalog import Variant, Warehouse
from app.models.stock import shrink_buffer, try_reserve, written_versions
from app.services.stock_stream import StockPublisher
from app.settings import Settings
from tests import factories
from tests.services.stock_stream.conftest import published, until
from tests.services.stock_stream.proxy import RedisCut

DRESS = factories.guid("variant/Dress/M/black")


async def _dress() -> tuple[int, int]:
    await factories.warehouses()
    await factories.product("Dress")
    await factories.stock(DRESS, factories.ONLINE, 5)
    online = await Warehouse.get(guid=factories.ONLINE)
    return (await Variant.get(guid=DRESS)).id, online.id


async def test_writes_are_published_in_the_background_once_per_burst(
    db: str, publisher: StockPublisher, redis: Redis, stream_settings: Settings
) -> None:
    variant_id, online = await _dress()
    written_versions.forget_all()
    await publisher.start()
    try:
        async with in_transaction() as conn:  # three writes in one transaction: one figure
            for _ in range(3):
                assert await try_reserve(conn, variant_id, online, 1)

        await until(lambda: publisher.published == 1)
        await asyncio.sleep(0.05)  # nothing more comes
        figures = await published(redis, stream_settings.stock_stream_key)
    finally:
        await publisher.close()

    assert [(f.variant_id, f.available, f.version) for f in figures] == [(variant_id, 2, 4)]
    assert written_versions.pending() == {}


async def test_a_write_is_published_only_after_its_transaction_commits(
    db: str, publisher: StockPublisher, redis: Redis, stream_settings: Settings
) -> None:
    if is_sqlite():
        pytest.skip("SQLite has one writer: a read waits until the transaction ends")
    variant_id, online = await _dress()
    await publisher.publish_pending()
    key = stream_settings.stock_stream_key
    before = len(await published(redis, key))

    go = asyncio.Event()

    async def publish_when_told() -> int:
        await go.wait()
        return await publisher.publish_pending()

    outside = asyncio.create_task(publish_when_told())  # a task of its own: not in the transaction
    async with in_transaction() as conn:
        assert await try_reserve(conn, variant_id, online, 2)
        go.set()
        assert await outside == 0  # the read sees the committed (older) version: wait
        assert len(await published(redis, key)) == before
    assert await publisher.publish_pending() == 1

    figures = (await published(redis, key))[before:]
    assert [(f.available, f.version) for f in figures] == [(3, 2)]


async def test_a_rolled_back_write_is_dropped_after_the_note_ttl(
    db: str, publisher: StockPublisher, monkeypatch: pytest.MonkeyPatch
) -> None:
    variant_id, online = await _dress()
    await publisher.publish_pending()
    monkeypatch.setattr(written_versions, "ttl", 0.05)

    with pytest.raises(RuntimeError):
        async with in_transaction() as conn:
            await shrink_buffer(conn, variant_id, online, 0)
            raise RuntimeError("the service failed after its write")
    assert await publisher.publish_pending() == 0  # not committed (yet, as far as we know)
    await asyncio.sleep(0.06)

    assert await publisher.publish_pending() == 1  # the figure as committed, harmless
    assert written_versions.pending() == {}


async def test_notes_survive_redis_being_down_and_go_out_once_it_is_back(
    db: str, redis_url: str, redis: Redis, stream_settings: Settings
) -> None:
    variant_id, online = await _dress()
    written_versions.forget_all()
    cut = RedisCut(redis_url)
    await cut.restore()
    through = Redis.from_url(cut.url)
    publisher = StockPublisher(through, stream_settings, clock=lambda: datetime.now(UTC))
    try:
        await cut.cut()
        async with in_transaction() as conn:
            assert await try_reserve(conn, variant_id, online, 1)
        with pytest.raises(Exception):  # noqa: B017 (redis' connection error, whichever)
            await publisher.publish_pending()
        assert len(written_versions.pending()) == 1

        await cut.restore()
        assert await publisher.publish_pending() == 1
    finally:
        await through.aclose()
        await cut.cut()

    figures = await published(redis, stream_settings.stock_stream_key)
    assert [(f.variant_id, f.available) for f in figures] == [(variant_id, 4)]
