"""The whole Slack round trip over real HTTP: the outbox posts a request with our SlackClient
(slack-sdk's AsyncWebClient) to the Slack simulator, a person clicks a button there, the
simulator posts the signed click to our app, and the message is updated without buttons."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from app.devtools.simulators.server import LocalServer
from app.devtools.simulators.slack import SlackSimulator
from app.domain.orders import OrderStatus
from app.domain.outbox import Target
from app.domain.reservations import ShopConfirmation
from app.integrations.slack.client import SlackClient
from app.main import create_app
from app.models.orders import Order
from app.models.outbox import OutboxEvent
from app.models.shops import ShopRequest, ShopRequestLine
from app.services.jobs import NoQueue
from app.services.outbox.delivery import Senders, deliver_aggregate, due_aggregates
from app.services.shops.slack_calls import ShopSlack
from app.settings import Settings
from app.slack_actions import SLACK_ACTIONS_PATH
from tests import factories
from tests.conftest import Clock
from tests.services.shops.test_shop_confirmation import NOW, RULES, _given, _paid_order
from tests.waiting import wait_until

TOKEN, SECRET = "xoxb-flow", "flow-signing-secret"


@dataclass
class Stand:
    sim: SlackSimulator
    senders: Senders


@pytest.fixture
async def stand(db: str, settings: Settings, redis_url: str, clock: Clock) -> AsyncIterator[Stand]:
    async with _standing(
        SlackSimulator(token=TOKEN, signing_secret=SECRET), settings, redis_url, clock
    ) as stand:
        yield stand


@asynccontextmanager
async def _standing(
    sim: SlackSimulator, settings: Settings, redis_url: str, clock: Clock, pace: float = 1.0
) -> AsyncIterator[Stand]:
    sim.add_channel("C0SHOPA", "shop-a")
    sim.add_channel("C0SHOPB", "shop-b")
    app = create_app(
        settings.model_copy(update={"slack_signing_secret": SECRET}),
        redis_url=redis_url,
        manage_db=False,
        clock=clock,
    )
    async with (
        app.router.lifespan_context(app),
        LocalServer(app) as ours,
        LocalServer(sim.app) as slack,
    ):
        sim.interactivity_url = ours.url + SLACK_ACTIONS_PATH
        client = SlackClient(TOKEN, base_url=slack.url + "/api/", timeout=3.0)
        slack_calls = ShopSlack(client, RULES, NoQueue(), per_channel_seconds=pace)
        yield Stand(sim, Senders(slack=slack_calls))
        await client.close()
        await sim.aclose()


async def _deliver(stand: Stand, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
    for aggregate in await due_aggregates(now=clock(), target=Target.SLACK):
        await deliver_aggregate(
            target=Target.SLACK,
            aggregate=aggregate,
            senders=stand.senders,
            policy=Settings().retry_policy_for(Target.SLACK),
            clock=clock,
        )


async def test_a_click_in_slack_confirms_and_the_message_loses_its_buttons(
    stand: Stand, clock: Clock
) -> None:
    await _given(shop_a=1)
    order = await _paid_order()
    clock.now = datetime.now(UTC)
    await _deliver(stand)
    (message,) = stand.sim.messages["C0SHOPA"]
    assert any(block["type"] == "actions" for block in message.blocks)
    assert order.number in message.text

    answer = await stand.sim.click("C0SHOPA", message.ts, "confirm", user="U0ANNA")

    assert answer.status_code == 200
    line = await ShopRequestLine.get(request__order_id=order.id)
    assert (line.state, line.decided_by) == (ShopConfirmation.CONFIRMED, "U0ANNA")
    assert (await Order.get(id=order.id)).status is OrderStatus.READY_FOR_SHIPPING
    await _deliver(stand)
    updated = stand.sim.messages["C0SHOPA"][0]
    assert not any(block["type"] == "actions" for block in updated.blocks)
    assert "U0ANNA" in str(updated.blocks)


async def test_a_decline_in_slack_asks_the_next_shop_in_its_channel(
    stand: Stand, clock: Clock
) -> None:
    await _given(shop_a=1, shop_b=1)
    order = await _paid_order()
    clock.now = datetime.now(UTC)
    await _deliver(stand)
    (message,) = stand.sim.messages["C0SHOPA"]

    await stand.sim.click("C0SHOPA", message.ts, "decline:not_found", user="U0ANNA")
    # a colleague clicks on the same message before Slack shows the decision: answered, no change
    late = await stand.sim.click("C0SHOPA", message.ts, "confirm", user="U0BORIS")
    await _deliver(stand)

    assert late.status_code == 200
    (asked,) = stand.sim.messages["C0SHOPB"]
    assert order.number in asked.text
    assert await ShopRequest.filter(order_id=order.id).count() == 2
    assert [e.user for e in stand.sim.ephemerals] == ["U0BORIS"]
    assert "Уже обработано" in stand.sim.ephemerals[0].text


async def test_with_socket_mode_a_click_arrives_over_slacks_socket(
    db: str, settings: Settings, redis_url: str, clock: Clock
) -> None:
    sim = SlackSimulator(token=TOKEN, signing_secret=SECRET, app_token="xapp-1", socket_mode=True)
    sim.add_channel("C0SHOPA", "shop-a")
    async with LocalServer(sim.app) as slack:
        socket_settings = settings.model_copy(
            update={
                "slack_socket_mode": True,
                "slack_app_token": "xapp-1",
                "slack_url": slack.url + "/api/",
            }
        )
        app = create_app(socket_settings, redis_url=redis_url, manage_db=False, clock=clock)
        client = SlackClient(TOKEN, base_url=slack.url + "/api/", timeout=3.0)
        stand = Stand(sim, Senders(slack=ShopSlack(client, RULES, NoQueue())))
        async with app.router.lifespan_context(app):
            await _given(shop_a=1)
            order = await _paid_order()
            clock.now = datetime.now(UTC)
            await _deliver(stand)
            (message,) = sim.messages["C0SHOPA"]
            await sim.press("C0SHOPA", message.ts, "confirm", user="U0ANNA")
            await wait_until(lambda: _confirmed(order.id), within=10)
        await client.close()
        await sim.aclose()
    assert sim.clicks[-1].acked_at is not None


async def _confirmed(order_id: int) -> bool:
    line = await ShopRequestLine.get(request__order_id=order_id)
    return line.state is ShopConfirmation.CONFIRMED


async def test_slack_down_for_ten_minutes_posts_when_it_is_back_and_the_clock_starts_then(
    db: str, settings: Settings, redis_url: str, clock: Clock
) -> None:
    sim = SlackSimulator(
        token=TOKEN, signing_secret=SECRET, clock=lambda: clock.now.timestamp(), burst=100
    )
    async with _standing(sim, settings, redis_url, clock, pace=0) as stand:  # clock compressed
        await _given(shop_a=1, shop_b=1)
        order = await _paid_order()
        clock.now = NOW
        sim.outage(600)
        refused = 0
        while not sim.messages["C0SHOPA"] and clock.now < NOW + timedelta(minutes=19):
            before = await OutboxEvent.get(target=Target.SLACK)
            await _deliver(stand, clock)
            refused += (await OutboxEvent.get(id=before.id)).attempts > before.attempts
            clock.advance(seconds=5)
        request = await ShopRequest.get(order_id=order.id)
        back = NOW + timedelta(minutes=10)
        assert request.posted_at is not None

        assert back <= request.posted_at <= back + timedelta(seconds=35)  # retried ≤ 30 s apart
        assert request.deadline == request.posted_at + RULES.window  # the shop's full 20 minutes
        assert (
            refused >= 8
            and await ShopRequestLine.filter(state=ShopConfirmation.REQUESTED).count() == 1
        )
        (message,) = sim.messages["C0SHOPA"]
        sim.clock = time.time  # clicks are signed with the wall clock, as Slack signs them
        await sim.click("C0SHOPA", message.ts, "confirm", user="U0ANNA")
        assert (await Order.get(id=order.id)).status is OrderStatus.READY_FOR_SHIPPING
        assert not await ShopRequest.filter(warehouse__guid=factories.SHOP_B).exists()
