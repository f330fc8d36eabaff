"""A pass in use: extended while the shopper is active (up to its cap), expiring when idle; the
cart's holds and the order tell admission at once (no database read at the next tick)."""

from __future__ import annotations

from datetime import timedelta

from redis.asyncio import Redis

from app.domain.waiting_room import WaiterState
from app.models.catalog import Collection
from app.models.orders import Order
from app.services.checkout import carts
from app.services.waiting_room.passes import keep_alive
from app.services.waiting_room.store import Keys
from tests.services.waiting_room.conftest import (
    CONFIG,
    RELEASE,
    Shopper,
    device,
    given_drop,
    tick,
    variant_guid,
)
from tests.services.waiting_room.test_passes import _admitted, _refused

AFTER = RELEASE + timedelta(seconds=1)
MINUTE = timedelta(minutes=1)


async def test_an_active_shopper_keeps_the_pass_past_its_first_expiry(
    db: str, redis: Redis
) -> None:
    collection = await given_drop(redis, [5])
    (anna,) = await _admitted(redis, collection, 1)
    assert anna.view is not None and anna.view.pass_expires_at == AFTER + 10 * MINUTE

    await anna.add(variant_guid(0), AFTER + 8 * MINUTE)  # in use: 5 more minutes from now
    await tick(redis, collection, AFTER + 11 * MINUTE)  # past the first expiry
    placed = await anna.order(AFTER + 12 * MINUTE)  # the token says 10; redis says 13

    assert placed.created
    assert await Order.all().count() == 1
    assert (await anna.ask(AFTER + 12 * MINUTE)).state is WaiterState.USED


async def test_an_idle_shoppers_pass_expires_as_given(db: str, redis: Redis) -> None:
    collection = await given_drop(redis, [5])
    (anna,) = await _admitted(redis, collection, 1)

    await tick(redis, collection, AFTER + CONFIG.pass_duration)

    assert (await anna.ask(AFTER + CONFIG.pass_duration)).state is WaiterState.EXPIRED
    await _refused(anna.add(variant_guid(0), AFTER + CONFIG.pass_duration))


async def test_a_pass_in_use_never_lasts_past_its_cap(db: str, redis: Redis) -> None:
    collection = await given_drop(redis, [50])
    (anna,) = await _admitted(redis, collection, 1)
    for minutes in range(4, 29, 4):  # active every 4 minutes for 28 minutes
        await anna.add(variant_guid(0), AFTER + minutes * MINUTE)

    view = await anna.ask(AFTER + 29 * MINUTE)
    assert view.pass_expires_at == AFTER + 30 * MINUTE  # the cap, not 28 + 5
    await _refused(anna.add(variant_guid(0), AFTER + 30 * MINUTE))


async def test_a_checkout_step_with_the_pass_extends_it_and_another_devices_does_not(
    db: str, redis: Redis
) -> None:
    collection = await given_drop(redis, [5])
    (anna,) = await _admitted(redis, collection, 1)
    thief = Shopper(redis, device(2), view=anna.view)

    await keep_alive(thief.gate(), device=thief.device, now=AFTER + 9 * MINUTE)
    untouched = (await anna.ask(AFTER)).pass_expires_at
    await keep_alive(anna.gate(), device=anna.device, now=AFTER + 9 * MINUTE)

    assert untouched == AFTER + 10 * MINUTE
    assert (await anna.ask(AFTER)).pass_expires_at == AFTER + 14 * MINUTE


async def test_a_hold_marks_the_pass_served_and_removing_the_line_unmarks_it(
    db: str, redis: Redis
) -> None:
    collection = await given_drop(redis, [5], hold="at_cart")
    (anna,) = await _admitted(redis, collection, 1)
    keys = Keys(collection)

    await anna.add(variant_guid(0), AFTER)
    held = await redis.hget(keys.served, "1")  # type: ignore[misc]
    await carts.set_line(
        cart_token=anna.cart,
        variant_guid=variant_guid(0),
        quantity=0,
        now=AFTER,
        device=anna.device,
        queue_gate=anna.gate(),
    )

    assert held is not None
    at, until = (int(part) for part in held.decode().split(":"))
    hold = timedelta(minutes=(await Collection.get(id=collection)).hold_minutes)
    assert until == int((AFTER + hold).timestamp() * 1000)  # the hold's expiry
    assert await redis.hget(keys.served, "1") is None  # type: ignore[misc]


async def test_an_order_uses_its_pass_at_once_and_no_other(db: str, redis: Redis) -> None:
    collection = await given_drop(redis, [2])
    anna, boris = await _admitted(redis, collection, 1, 2)
    await anna.add(variant_guid(0), AFTER)
    await boris.add(variant_guid(0), AFTER)

    await anna.order(AFTER)

    status = Keys(collection).status
    assert await redis.hget(status, "1") == b"u"  # type: ignore[misc]  # before any tick
    assert await redis.hget(status, "2") == b"a"  # type: ignore[misc]  # still his to use
    assert await redis.zscore(Keys(collection).spent, "1") is not None
