"""A process's live waiters: one loop per drop pushes every subscriber's standing (admitted
with the pass, position, sold out within 5 s), on a real redis and each database, in real
time (the loop's clock is the wall clock)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis

from app.domain.waiting_room import WaiterState, open_ticket
from app.services.waiting_room.hub import QueueHub, WaiterWatch
from app.services.waiting_room.room import WaiterView
from app.services.waiting_room.store import Keys
from tests.services.waiting_room.conftest import (
    CONFIG,
    Shopper,
    device,
    given_drop,
    variant_guid,
)
from tests.waiting import wait_until


class Listener:
    """A subscriber: the views pushed to it, newest last."""

    def __init__(self, shopper: Shopper, watch: WaiterWatch) -> None:
        self.shopper, self.watch = shopper, watch
        self.views: list[WaiterView] = []
        self.task = asyncio.create_task(self._listen())

    async def _listen(self) -> None:
        async for view in self.watch:
            self.views.append(view)
            self.shopper.view = view

    @property
    def state(self) -> WaiterState | None:
        return self.views[-1].state if self.views else None


@pytest.fixture
async def hub(redis: Redis) -> AsyncIterator[QueueHub]:
    yield QueueHub(redis, CONFIG, None)


async def _listening(hub: QueueHub, redis: Redis, count: int) -> list[Listener]:
    found = []
    for n in range(1, count + 1):
        shopper = Shopper(redis, device(n))
        await shopper.join(datetime.now(UTC))
        ticket = open_ticket(shopper.token, CONFIG.key)
        assert ticket is not None
        found.append(Listener(shopper, hub.watch(ticket, shopper.token)))
    return found


async def _stop(listeners: list[Listener]) -> None:
    for listener in listeners:
        await listener.watch.aclose()
    await asyncio.gather(*(listener.task for listener in listeners))


async def test_every_subscriber_hears_its_standing_from_one_round_of_its_drop(
    db: str, redis: Redis, hub: QueueHub
) -> None:
    collection = await given_drop(redis, [2])
    await redis.delete(Keys(collection).tick)  # the loop ticks, as in production
    listeners = await _listening(hub, redis, 5)

    await wait_until(lambda: all(x.state for x in listeners), within=5, what="everyone heard")
    await wait_until(
        lambda: [x.state for x in listeners].count(WaiterState.ADMITTED) == 2,
        within=5,
        what="two admitted",
    )

    admitted = [x for x in listeners if x.state is WaiterState.ADMITTED]
    waiting = [x for x in listeners if x.state is WaiterState.WAITING]
    assert all(x.views[-1].queue_pass for x in admitted)
    assert sorted(x.views[-1].position or 0 for x in waiting) == [1, 2, 3]
    assert hub.watcher_count == 5
    await _stop(listeners)
    assert hub.watcher_count == 0


async def test_a_sell_out_reaches_every_subscriber_within_five_seconds(
    db: str, redis: Redis, hub: QueueHub
) -> None:
    collection = await given_drop(redis, [1])
    await redis.delete(Keys(collection).tick)
    listeners = await _listening(hub, redis, 30)
    await wait_until(
        lambda: any(x.state is WaiterState.ADMITTED for x in listeners), within=5, what="admitted"
    )
    [buyer] = [x for x in listeners if x.state is WaiterState.ADMITTED]

    await buyer.shopper.add(variant_guid(0), datetime.now(UTC))
    await buyer.shopper.order(datetime.now(UTC))
    sold_at = time.monotonic()
    others = [x for x in listeners if x is not buyer]
    await wait_until(
        lambda: all(x.state is WaiterState.SOLD_OUT for x in others),
        within=5,
        what="everyone heard sold out",
    )

    assert time.monotonic() - sold_at <= 5
    assert buyer.state is WaiterState.USED
    assert int(await redis.hget(Keys(collection).meta, "admitted") or 0) == 1  # type: ignore[misc]
    await _stop(listeners)
