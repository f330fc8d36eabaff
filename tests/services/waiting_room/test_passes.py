"""The pass a queued drop needs at the cart and at checkout (QUEUE_PASS_REQUIRED), what a
drop without a queue costs (nothing), and a queue whose redis is lost or reset (closed)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

import pytest
from redis.asyncio import Redis

from app.domain.errors import DomainError, ErrorCode
from app.domain.waiting_room import WaiterState
from app.models.checkout import CartLine
from app.models.orders import Order
from app.models.stock import Reservation
from app.redis_setup import free_port
from app.services import waiting_room
from app.services.checkout import carts
from app.services.waiting_room import QueueGate
from tests.services.waiting_room.conftest import (
    CONFIG,
    DROP,
    KEY,
    PLAIN,
    RELEASE,
    Shopper,
    device,
    given_drop,
    tick,
    variant_guid,
)

AFTER = RELEASE + timedelta(seconds=1)
PLAIN_TEE = variant_guid(100)  # the first product of the drop without a queue


class NoRedis:
    """Any use of redis fails the test: the check must not need it."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"redis.{name} was used")


async def _refused(work: Any) -> DomainError:
    with pytest.raises(DomainError) as refused:
        await work
    assert refused.value.code is ErrorCode.QUEUE_PASS_REQUIRED
    return refused.value


async def _admitted(redis: Redis, collection: int, *numbers: int) -> list[Shopper]:
    found = [Shopper(redis, device(n)) for n in numbers]
    for shopper in found:
        await shopper.join(AFTER)
    await tick(redis, collection, AFTER)
    for shopper in found:
        assert (await shopper.ask(AFTER)).state is WaiterState.ADMITTED
    return found


async def _nothing_held() -> None:
    assert await CartLine.all().count() == 0
    assert await Reservation.all().count() == 0


async def test_a_queued_drop_refuses_the_cart_without_a_pass_and_writes_nothing(
    db: str, redis: Redis
) -> None:
    await given_drop(redis, [5], hold="at_cart")
    anna = Shopper(redis, device(1))

    error = await _refused(anna.add(variant_guid(0), AFTER))

    assert error.path == ("variantId",)
    await _nothing_held()


async def test_another_devices_pass_or_one_out_of_time_is_refused(db: str, redis: Redis) -> None:
    collection = await given_drop(redis, [5], hold="at_cart")
    (anna,) = await _admitted(redis, collection, 1)
    thief = Shopper(redis, device(2), view=anna.view)

    await _refused(thief.add(variant_guid(0), AFTER))
    await _refused(anna.add(variant_guid(0), AFTER + CONFIG.pass_duration))

    await _nothing_held()
    await anna.add(variant_guid(0), AFTER)  # the pass itself works, in its time
    assert await Reservation.all().count() == 1


async def test_a_used_pass_buys_once(db: str, redis: Redis) -> None:
    collection = await given_drop(redis, [5])
    (anna,) = await _admitted(redis, collection, 1)
    await anna.add(variant_guid(0), AFTER)
    await anna.order(AFTER)
    await tick(redis, collection, AFTER + timedelta(seconds=1))  # the order used the pass
    anna.cart = ""

    await _refused(anna.add(variant_guid(0), AFTER))

    assert await CartLine.all().count() == 0


async def test_checkout_refuses_the_queued_lines_once_the_pass_is_out_of_time(
    db: str, redis: Redis
) -> None:
    collection = await given_drop(redis, [5])
    (anna,) = await _admitted(redis, collection, 1)
    await anna.add(variant_guid(0), AFTER)

    error = await _refused(anna.order(AFTER + CONFIG.pass_duration))

    assert error.path == ("lines", 0)
    assert await Order.all().count() == 0
    assert await CartLine.all().count() == 1  # the cart is as it was


async def test_a_drop_without_a_queue_costs_no_redis_call_and_needs_no_pass(
    db: str, redis: Redis
) -> None:
    await given_drop(None, [5], queue="off", guid=PLAIN)
    cart = await carts.create_cart(device=device(1))

    await carts.add_to_line(
        cart_token=cart.token,
        variant_guid=PLAIN_TEE,
        quantity=1,
        now=AFTER,
        device=device(1),
        queue_gate=QueueGate(None, KEY, cast(Redis, NoRedis())),
    )
    await carts.add_to_line(  # no gate at all: the same
        cart_token=cart.token, variant_guid=PLAIN_TEE, quantity=1, now=AFTER, device=device(1)
    )

    assert [line.quantity for line in await CartLine.all()] == [2]


async def test_a_lost_redis_closes_the_queue_but_lets_admitted_shoppers_finish(
    db: str, redis: Redis
) -> None:
    collection = await given_drop(redis, [5], hold="at_cart")
    (anna,) = await _admitted(redis, collection, 1)
    lost = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    newcomer = Shopper(lost, device(2))
    anna.redis = lost
    try:
        joined = await newcomer.join(AFTER)
        asked = await waiting_room.queue_status(
            redis=lost, config=CONFIG, token=anna.token, device=anna.device, now=AFTER
        )
        await anna.add(variant_guid(0), AFTER)  # signed and in time: the database decides
    finally:
        await lost.aclose()

    assert (joined.state, joined.token) == (WaiterState.CLOSED, None)
    assert (asked.state, asked.queue_pass, asked.poll_after) == (WaiterState.CLOSED, None, 5)
    assert await Reservation.all().count() == 1


async def test_a_reset_queue_is_closed_to_its_old_tickets(db: str, redis: Redis) -> None:
    collection = await given_drop(redis, [5])
    anna, boris = await _admitted(redis, collection, 1, 2)

    await redis.flushdb()  # redis lost its data

    assert (await boris.ask(AFTER)).state is WaiterState.CLOSED
    await anna.add(variant_guid(0), AFTER)  # her signed pass still works until it expires
    rejoined = await waiting_room.join_queue(
        redis=redis, config=CONFIG, collection_guid=DROP, device=device(2), now=AFTER
    )
    assert rejoined.token != boris.token
