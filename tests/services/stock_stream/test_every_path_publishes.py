"""Every path that moves on_hand or the buffer publishes the variant's new figure: the notes
are taken in app/models/stock.py, so no service can forget them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest
from redis.asyncio import Redis

from app.db import connection
from app.domain.shop_confirmation import DeclineReason
from app.models.catalog import Collection, HoldMode, Variant
from app.models.shops import ShopRequest
from app.services.checkout import carts
from app.services.checkout.idle_carts import clear_idle_carts
from app.services.checkout.orders import cancel_order, release_expired_holds
from app.services.inventory.reconciliation import register_order
from app.services.shops import deciding
from app.services.stock_stream import StockPublisher, VariantStock, read_figures
from app.settings import Settings
from tests import factories
from tests.services.shops import test_shop_confirmation as shops
from tests.services.stock_stream.conftest import published

DRESS = factories.guid("variant/Dress/M/black")
T = factories.T0 + timedelta(days=1)


async def _dress(*, holds: bool = False, online: int = 3) -> int:
    await factories.warehouses()
    drop = await factories.collection("Drop", factories.T0)
    if holds:
        await Collection.filter(guid=drop).update(hold_mode=HoldMode.AT_CART, hold_minutes=10)
    await factories.product("Dress", collection_guid=drop)
    await factories.stock(DRESS, factories.ONLINE, online)
    return (await Variant.get(guid=DRESS)).id


class Stream:
    """What the publisher puts on the test's stream after one action."""

    def __init__(self, publisher: StockPublisher, redis: Redis, settings: Settings) -> None:
        self.publisher, self.redis, self.key = publisher, redis, settings.stock_stream_key

    async def after(self, action: Callable[[], Awaitable[object]]) -> list[VariantStock]:
        await self.publisher.publish_pending()  # what the setup wrote is out of the way
        before = len(await published(self.redis, self.key))
        await action()
        await self.publisher.publish_pending()
        return (await published(self.redis, self.key))[before:]


@pytest.fixture
def stream(publisher: StockPublisher, redis: Redis, stream_settings: Settings) -> Stream:
    at_t = StockPublisher(redis, stream_settings, clock=lambda: T)  # the tests' clock
    return Stream(at_t, redis, stream_settings)


async def _live(variant_id: int) -> VariantStock:
    return (await read_figures(connection(), [variant_id], now=T)).figures[variant_id]


async def _assert_published(figures: list[VariantStock], variant_id: int, available: int) -> None:
    assert [(f.variant_id, f.available) for f in figures] == [(variant_id, available)]
    live = await _live(variant_id)
    assert (figures[0].version, figures[0].by_warehouse) == (live.version, live.by_warehouse)


async def test_a_stock_figure_from_1c_publishes(db: str, stream: Stream) -> None:
    variant_id = await _dress(online=3)

    figures = await stream.after(
        lambda: factories.stock(DRESS, factories.ONLINE, 7, as_of=factories.later(5))
    )

    await _assert_published(figures, variant_id, 7)


async def test_an_add_to_cart_hold_publishes_with_its_expiry(db: str, stream: Stream) -> None:
    variant_id = await _dress(holds=True, online=3)
    cart = await carts.create_cart()

    figures = await stream.after(
        lambda: carts.set_line(cart_token=cart.token, variant_guid=DRESS, quantity=2, now=T)
    )

    await _assert_published(figures, variant_id, 1)
    assert figures[0].valid_until is not None
    assert figures[0].valid_until > T


async def test_the_hold_expiry_sweep_publishes(db: str, stream: Stream) -> None:
    variant_id = await _dress(holds=True, online=3)
    cart = await carts.create_cart()
    await carts.set_line(cart_token=cart.token, variant_guid=DRESS, quantity=2, now=T)

    figures = await stream.after(lambda: release_expired_holds(now=T + timedelta(hours=1)))

    await _assert_published(figures, variant_id, 3)
    assert figures[0].valid_until is None


async def test_the_idle_cart_clean_up_publishes(db: str, stream: Stream) -> None:
    variant_id = await _dress(holds=True, online=3)
    cart = await carts.create_cart()
    await carts.set_line(cart_token=cart.token, variant_guid=DRESS, quantity=1, now=T)
    later = T + timedelta(minutes=5)

    figures = await stream.after(lambda: clear_idle_carts(now=later, idle=timedelta(minutes=1)))

    await _assert_published(figures, variant_id, 3)


async def test_placing_an_order_and_cancelling_it_publish(db: str, stream: Stream) -> None:
    variant_id = await _dress(online=3)
    cart = await factories.cart_with([(DRESS, 2)], now=T)
    placed: list[int] = []

    async def place() -> None:
        placed.append((await factories.place(cart, now=T)).order.id)

    reserved = await stream.after(place)
    cancelled = await stream.after(lambda: cancel_order(order_id=placed[0], reason="test", now=T))

    await _assert_published(cancelled, variant_id, 3)
    assert [(f.variant_id, f.available) for f in reserved] == [(variant_id, 1)]
    assert reserved[0].version < cancelled[0].version


async def test_reconciliation_on_1c_registration_publishes(db: str, stream: Stream) -> None:
    variant_id = await _dress(online=3)
    cart = await factories.cart_with([(DRESS, 1)], now=T)
    order = (await factories.place(cart, now=T)).order
    # 1C's newer figure already counts the order's unit: 2 on hand, 1 of them still buffered
    await factories.stock(DRESS, factories.ONLINE, 2, as_of=T + timedelta(hours=1))
    assert (await _live(variant_id)).available == 1

    figures = await stream.after(
        lambda: register_order(
            order_guid=order.guid, registered_at=T + timedelta(minutes=30), onec_number="1", now=T
        )
    )

    await _assert_published(figures, variant_id, 2)  # reconciled: out of the buffer


async def test_a_shop_timeout_moving_the_line_to_the_next_shop_publishes(
    db: str, stream: Stream
) -> None:
    await shops._given(shop_a=1, shop_b=1)
    variant_id = (await Variant.get(guid=shops.DRESS)).id
    await shops._paid_order()
    slack = shops.FakeSlack()
    request, _ = await shops._open_request(slack)
    deadline = request.deadline
    assert deadline is not None

    figures = await stream.after(
        lambda: deciding.time_out_request(request_id=request.id, rules=shops.RULES, now=deadline)
    )

    await _assert_published(figures, variant_id, 1)  # shop A's unit back, shop B's held
    moved = await ShopRequest.filter(warehouse__guid=factories.SHOP_B).count()
    assert moved == 1


async def test_a_shop_decline_moving_the_line_to_the_next_shop_publishes(
    db: str, stream: Stream
) -> None:
    await shops._given(shop_a=1, shop_b=1)
    variant_id = (await Variant.get(guid=shops.DRESS)).id
    await shops._paid_order()
    request, line = await shops._open_request(shops.FakeSlack())
    decline = shops._click(line, request, "decline", DeclineReason.NOT_FOUND)

    figures = await stream.after(
        lambda: deciding.handle_click(decline, rules=shops.RULES, now=shops.NOW)
    )

    await _assert_published(figures, variant_id, 0)  # A's unit withheld, B's reserved


async def test_a_warehouse_written_again_publishes_a_reset(
    db: str, stream: Stream, redis: Redis, stream_settings: Settings
) -> None:
    # given a dress in stock online, its figure published
    await _dress()
    await stream.publisher.publish_pending()
    before = len(await redis.xrange(stream_settings.stock_stream_key))

    # when 1C sends the warehouses again (whether one sells online may have changed)
    await factories.warehouses()
    await stream.publisher.publish_pending()

    # then one reset goes out, and no figure (no stock row was written)
    entries = (await redis.xrange(stream_settings.stock_stream_key))[before:]
    assert [fields for _, fields in entries] == [{b"reset": b"1"}]
