"""The waiting room's transitions, on a real redis and each database: the pre-queue and its
draw, the admission budget, passes expiring and used, sold out and units coming back."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta

from redis.asyncio import Redis

from app.domain.waiting_room import WaiterState, draw_lots
from app.services import waiting_room
from app.services.checkout import orders
from app.services.inventory.reservations import buffer_matches_reservations
from app.services.waiting_room import store
from tests.services.waiting_room.conftest import (
    CONFIG,
    RELEASE,
    Shopper,
    device,
    given_drop,
    tick,
    variant_guid,
)

BEFORE = RELEASE - timedelta(minutes=5)
AFTER = RELEASE + timedelta(seconds=1)


def shoppers(redis: Redis, count: int, first: int = 1) -> list[Shopper]:
    return [Shopper(redis, device(n)) for n in range(first, first + count)]


async def test_before_the_release_shoppers_wait_in_the_pre_queue_without_a_place(
    db: str, redis: Redis
) -> None:
    await given_drop(redis, [5])
    anna = Shopper(redis, device(1))

    view = await anna.join(BEFORE)

    assert view.state is WaiterState.WAITING
    assert view.position is None  # drawn at the release
    assert view.release_at == RELEASE
    assert view.poll_after == 30  # release is 5 minutes away: ask again in 30 s
    assert view.queue_pass is None
    again = await anna.join(BEFORE + timedelta(seconds=10))  # the same device keeps its place
    assert again.token == view.token


async def test_at_the_release_the_pre_queue_is_drawn_by_lot_and_late_arrivals_queue_behind(
    db: str, redis: Redis
) -> None:
    collection = await given_drop(redis, [0])  # nothing to sell yet: nobody is admitted
    early = shoppers(redis, 6)
    for shopper in early:
        await shopper.join(BEFORE)
    late = Shopper(redis, device(99))
    await late.join(RELEASE)  # after the release, before any tick: behind the draw

    await tick(redis, collection, AFTER, seed=7)

    drawn = draw_lots([1, 2, 3, 4, 5, 6], random.Random(7))  # tickets in order of joining
    places = {drawn[i]: i + 1 for i in range(6)}
    assert [(await s.ask(AFTER)).position for s in early] == [places[n] for n in range(1, 7)]
    assert (await late.ask(AFTER)).position == 7


async def test_admission_gives_no_more_passes_than_free_units(db: str, redis: Redis) -> None:
    collection = await given_drop(redis, [2, 1])  # 3 units over two variants
    line = shoppers(redis, 5)
    for shopper in line:
        await shopper.join(AFTER)

    admitted = await tick(redis, collection, AFTER)
    again = await tick(redis, collection, AFTER + timedelta(seconds=1))

    assert (admitted, again) == (3, 0)
    states = [(await s.ask(AFTER)).state for s in line]
    assert states == [WaiterState.ADMITTED] * 3 + [WaiterState.WAITING] * 2
    assert [s.view.position for s in line if s.view] == [None, None, None, 1, 2]
    first = line[0].view
    assert first is not None and first.queue_pass is not None
    assert first.pass_expires_at == AFTER + CONFIG.pass_duration


async def test_a_used_pass_admits_the_next_shopper_only_when_a_unit_is_free(
    db: str, redis: Redis
) -> None:
    collection = await given_drop(redis, [2])
    first, second, third = shoppers(redis, 3)
    for shopper in (first, second, third):
        await shopper.join(AFTER)
    await tick(redis, collection, AFTER)
    await first.ask(AFTER)

    await first.add(variant_guid(0), AFTER)
    await first.order(AFTER)  # one unit taken, the pass used
    await tick(redis, collection, AFTER + timedelta(seconds=1))

    assert (await first.ask(AFTER)).state is WaiterState.USED
    assert (await second.ask(AFTER)).state is WaiterState.ADMITTED
    assert (await third.ask(AFTER)).state is WaiterState.WAITING  # 1 free, 1 live pass


async def test_an_expired_pass_admits_the_next_shopper(db: str, redis: Redis) -> None:
    collection = await given_drop(redis, [1])
    first, second = shoppers(redis, 2)
    await first.join(AFTER)
    await second.join(AFTER)
    await tick(redis, collection, AFTER)
    out_of_time = AFTER + CONFIG.pass_duration

    await tick(redis, collection, out_of_time)

    assert (await first.ask(out_of_time)).state is WaiterState.EXPIRED
    view = await second.ask(out_of_time)
    assert view.state is WaiterState.ADMITTED
    assert view.pass_expires_at == out_of_time + CONFIG.pass_duration
    old_token = first.token
    rejoined = await first.join(out_of_time)  # a new place, at the back
    assert (rejoined.state, rejoined.position) == (WaiterState.WAITING, 1)
    assert rejoined.token != old_token


async def test_a_pass_holding_units_counts_as_served_so_the_queue_keeps_moving(
    db: str, redis: Redis
) -> None:
    collection = await given_drop(redis, [3], hold="at_cart")
    first, second, third, fourth = shoppers(redis, 4)
    for shopper in (first, second, third, fourth):
        await shopper.join(AFTER)
    await tick(redis, collection, AFTER)  # 3 units: 3 passes
    await first.ask(AFTER)

    await first.add(variant_guid(0), AFTER)  # holds its unit: 2 free, 2 passes unserved
    await tick(redis, collection, AFTER + timedelta(seconds=1))

    assert (await fourth.ask(AFTER)).state is WaiterState.WAITING
    assert (await first.ask(AFTER)).state is WaiterState.ADMITTED  # still shopping


async def test_when_nothing_is_free_and_no_hold_can_return_every_waiter_hears_sold_out(
    db: str, redis: Redis
) -> None:
    collection = await given_drop(redis, [1], hold="at_cart")
    first, *waiting = shoppers(redis, 4)
    for shopper in (first, *waiting):
        await shopper.join(AFTER)
    await tick(redis, collection, AFTER)
    await first.ask(AFTER)
    await first.add(variant_guid(0), AFTER)
    await tick(redis, collection, AFTER + timedelta(seconds=1))
    held = [(await s.ask(AFTER)).state for s in waiting]  # the hold may still come back

    await first.order(AFTER)
    await tick(redis, collection, AFTER + timedelta(seconds=2))

    assert held == [WaiterState.WAITING] * 3
    views = [await s.ask(AFTER + timedelta(seconds=2)) for s in waiting]
    assert [v.state for v in views] == [WaiterState.SOLD_OUT] * 3
    assert [v.position for v in views] == [1, 2, 3]  # places kept: units may come back
    assert [v.poll_after for v in views] == [15] * 3
    figures = await store.figures(redis, store.Keys(collection), now_ms=0)
    assert figures.sold_out and figures.sold_out_at_ms is not None


async def test_units_coming_back_move_the_queue_again(db: str, redis: Redis) -> None:
    collection = await given_drop(redis, [1])
    first, second = shoppers(redis, 2)
    await first.join(AFTER)
    await second.join(AFTER)
    await tick(redis, collection, AFTER)
    await first.ask(AFTER)
    await first.add(variant_guid(0), AFTER)
    placed = await first.order(AFTER)
    await tick(redis, collection, AFTER + timedelta(seconds=1))
    sold_out = (await second.ask(AFTER)).state

    await orders.cancel_order(order_id=placed.order.id, reason="test", now=AFTER)
    await tick(redis, collection, AFTER + timedelta(seconds=2))

    assert sold_out is WaiterState.SOLD_OUT
    assert (await second.ask(AFTER)).state is WaiterState.ADMITTED
    assert not (await store.figures(redis, store.Keys(collection), now_ms=0)).sold_out
    assert await buffer_matches_reservations() == []


async def test_nobody_is_admitted_before_the_release(db: str, redis: Redis) -> None:
    collection = await given_drop(redis, [5])
    anna = Shopper(redis, device(1))
    await anna.join(BEFORE)

    admitted = await tick(redis, collection, BEFORE + timedelta(minutes=1))

    assert admitted == 0
    assert (await anna.ask(BEFORE)).position is None


async def test_a_poll_runs_the_tick_once_one_is_due(db: str, redis: Redis) -> None:
    collection = await given_drop(None, [1])  # the ticks are left to the polls
    anna, boris = shoppers(redis, 2)
    await anna.join(BEFORE)
    await boris.join(BEFORE)
    await redis.delete(store.Keys(collection).tick)  # the lock of a tick a second ago is gone

    views = [await anna.ask(AFTER), await boris.ask(AFTER)]  # the first poll draws and admits

    assert sorted(v.state.value for v in views) == ["admitted", "waiting"]
    assert [v.position for v in views if v.state is WaiterState.WAITING] == [1]
    lock = await redis.pttl(store.Keys(collection).tick)
    assert 0 < lock <= 1000  # the next tick may run a second later


async def test_the_queue_carries_on_from_redis_after_a_restart(
    db: str, redis: Redis, redis_url: str
) -> None:
    collection = await given_drop(redis, [1])
    anna, boris = shoppers(redis, 2)
    await anna.join(AFTER)
    await boris.join(AFTER)
    await tick(redis, collection, AFTER)
    before = [await anna.ask(AFTER), await boris.ask(AFTER)]

    restarted = Redis.from_url(redis_url)  # a new process: a new client, nothing in memory
    try:
        after = [
            await waiting_room.queue_status(
                redis=restarted, config=CONFIG, token=s.token, device=s.device, now=AFTER
            )
            for s in (anna, boris)
        ]
    finally:
        await restarted.aclose()

    assert [(v.state, v.position, v.queue_pass) for v in after] == [
        (v.state, v.position, v.queue_pass) for v in before
    ]


async def test_polls_from_many_processes_at_once_run_one_tick_and_admit_within_the_budget(
    db: str, redis: Redis, redis_url: str
) -> None:
    """Ten API processes (a redis client each) answer polls at the same instant: the lock in
    redis lets one of them tick (the database is only read)."""
    collection = await given_drop(None, [2, 1])
    line = shoppers(redis, 10)
    for shopper in line:
        await shopper.join(BEFORE)
    await redis.delete(store.Keys(collection).tick)
    clients = [Redis.from_url(redis_url) for _ in line]
    try:
        views = await asyncio.gather(
            *(
                waiting_room.queue_status(
                    redis=client, config=CONFIG, token=s.token, device=s.device, now=AFTER
                )
                for client, s in zip(clients, line, strict=True)
            )
        )
    finally:
        for client in clients:
            await client.aclose()

    figures = await store.figures(redis, store.Keys(collection), now_ms=0)
    assert figures.admitted == 3  # one tick: 3 free units, 3 passes
    assert figures.in_line == 7
    admitted = [v for v in views if v.state is WaiterState.ADMITTED]
    assert len(admitted) <= 3
