"""Partners hear every event once, signed, in order per thing; failures retry, park, pause."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from app.domain.instashop import SlideKind
from app.domain.outbox import EventKind, EventState, Target
from app.domain.webhooks import PARTNER_EVENTS, SubscriptionState
from app.integrations.payments.dummy import SUCCEEDS, DummyProvider
from app.models.instashop import Look, LookSlide
from app.models.outbox import OutboxEvent
from app.models.partners import WebhookSubscription
from app.services.checkout import orders
from app.services.jobs import NoQueue
from app.services.partners import deliveries, subscriptions
from app.services.partners.recording import record_looks_shown, record_releases
from app.services.payments.start import pay_order
from app.settings import Settings
from tests import factories
from tests.waiting import wait_until
from tests.workers.partner_stand import PartnerStand, partner_stand

DRESS = factories.guid("variant/Dress/M/black")
ALL_EVENTS = [k.value for k in PARTNER_EVENTS]
ORDER_EVENTS = ["order.placed", "order.status_changed", "order.paid", "order.cancelled"]


def _now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
async def catalogue(db: str) -> None:
    await factories.warehouses()
    await factories.product("Dress", variants=[factories.variant("Dress", "M", "black")])
    await factories.stock(DRESS, factories.ONLINE, 100)


async def _order(now: datetime | None = None, key: str = "partner-order-1") -> orders.PlacedOrder:
    at = now or _now()
    return await factories.place(await factories.cart_with([(DRESS, 1)], now=at), now=at, key=key)


async def _pay(token: str) -> None:
    await pay_order(
        order_token=token,
        idempotency_key="pay-attempt-1",
        provider=DummyProvider(),
        card_number=SUCCEEDS,
        return_url="https://shop.example/",
        now=_now(),
        jobs=NoQueue(),
    )


async def _shown_look() -> None:
    """A look whose one slide is stored, as a sync leaves it, then announced."""
    look = await Look.create(
        media_id="17900000000000001", media_type="IMAGE", posted_at=_now(), seen_at=_now()
    )
    files = {r: f"looks/a/{r}" for r in ("card_jpg", "card_webp", "full_jpg", "full_webp")}
    await LookSlide.create(look=look, media_id="1", kind=SlideKind.IMAGE, files=files, ready=True)
    await record_looks_shown([look.id], now=_now())


async def _states(subscription_id: int) -> list[tuple[str, str, int]]:
    rows = await OutboxEvent.filter(
        target=Target.PARTNER, aggregate__startswith=f"partner:{subscription_id}:"
    ).order_by("id")
    return [(r.kind.value, r.state.value, r.attempts) for r in rows]


@pytest.fixture
async def every_event(
    catalogue: None, settings: Settings, redis_url: str
) -> AsyncIterator[PartnerStand]:
    async with partner_stand(settings, redis_url, start=False, feed=ALL_EVENTS) as stand:
        yield stand


async def test_every_event_type_arrives_once_signed_and_in_order_per_thing(
    every_event: PartnerStand,
) -> None:
    feed = every_event.receivers["feed"].simulator
    drop = await factories.collection("Winter", _now() - timedelta(seconds=1))
    await factories.product("Coat", collection_guid=drop)  # created: its drop has started
    await factories.product("Coat", collection_guid=drop)  # updated
    await factories.product("Coat", collection_guid=drop, published=False)  # withdrawn
    await record_releases(now=_now())  # the worker's sweep does this every 5 s
    earlier = _now() - timedelta(seconds=10)  # the stock changes' window is over by now
    placed = await _order(earlier)
    await _pay(placed.order.token)
    cancelled = await _order(earlier, key="partner-order-2")
    await orders.cancel_by_shopper(order_token=cancelled.order.token, now=earlier)
    await _shown_look()
    await every_event.start_worker()

    await wait_until(lambda: len(feed.events) >= 12, within=10, what="every event")

    kinds = [e.type for e in feed.events]
    assert sorted(set(kinds)) == sorted(ALL_EVENTS)
    assert len(feed.events) == 12 and feed.repeats == [] and feed.bad_signatures == 0
    first = [e.type for e in feed.events if e.data.get("id") == placed.order.guid]
    assert first == ["order.placed", "order.status_changed", "order.paid"]
    coat = [e.type for e in feed.events if e.data.get("id") == factories.guid("product/Coat")]
    assert coat == ["product.created", "product.updated", "product.withdrawn"]
    stock = next(e for e in feed.events if e.type == "variant.stock_changed")
    assert (stock.data["id"], stock.data["available"]) == (DRESS, 99)  # read when sent
    assert {e.api_version for e in feed.events} == {"2026-11-01"}
    subscription = every_event.receivers["feed"].subscription_id

    async def all_delivered() -> bool:  # the answer arrives a moment before the row says so
        return {s for _, s, _ in await _states(subscription)} == {"delivered"}

    await wait_until(all_delivered, within=5, what="every row delivered")


@pytest.fixture
async def orders_feed(
    catalogue: None, settings: Settings, redis_url: str
) -> AsyncIterator[PartnerStand]:
    async with partner_stand(settings, redis_url, shop=ORDER_EVENTS) as stand:
        yield stand


async def test_server_errors_and_slow_answers_are_retried_until_accepted(
    orders_feed: PartnerStand,
) -> None:
    receiver = orders_feed.receivers["shop"]
    receiver.simulator.fail_5xx(2)
    receiver.simulator.rate_limit(1, retry_after=0.3)

    placed = await _order()

    async def delivered() -> bool:
        return await _states(receiver.subscription_id) == [("order.placed", "delivered", 4)]

    await wait_until(delivered, within=10, what="delivery")
    assert receiver.simulator.ids() == [(await OutboxEvent.get(target=Target.PARTNER)).event_id]
    statuses = [r.status for r in receiver.simulator.requests]
    assert statuses == [429, 500, 500, 200]
    assert placed.order.guid == receiver.simulator.events[0].data["id"]
    row = await WebhookSubscription.get(id=receiver.subscription_id)
    assert (row.failure_streak, row.failing_since) == (0, None)  # forgotten on success


async def test_a_refused_event_is_a_dead_letter_that_holds_its_order_until_replayed(
    orders_feed: PartnerStand,
) -> None:
    receiver = orders_feed.receivers["shop"]
    placed = await _order()
    receiver.simulator.reject(placed.order.guid)
    await wait_until(
        lambda: any(r.status == 422 for r in receiver.simulator.requests), within=10, what="422"
    )
    await _pay(placed.order.token)  # its events wait behind the dead letter

    await wait_until(lambda: _has_dead(receiver.subscription_id), within=10, what="the dead letter")
    assert receiver.simulator.events == []
    dead = await deliveries.list_deliveries(
        partner_id=None,
        subscription_id=str(receiver.subscription_id),
        state=EventState.DEAD,
        first=10,
        after=None,
    )
    assert [(d.kind, d.response_status) for d in dead.events] == [(EventKind.ORDER_PLACED, 422)]

    receiver.simulator.reset_faults()
    replayed = await deliveries.replay_deliveries(
        partner_id=None,
        subscription_id=str(receiver.subscription_id),
        event_ids=None,
        replay_all=True,
        now=_now(),
    )

    await wait_until(lambda: len(receiver.simulator.events) == 3, within=10, what="all three")
    assert replayed == 1
    assert [e.type for e in receiver.simulator.events] == [
        "order.placed",
        "order.status_changed",
        "order.paid",
    ]


async def _has_dead(subscription_id: int) -> bool:
    return any(s == "dead" for _, s, _ in await _states(subscription_id))


async def test_a_receiver_gone_for_long_is_paused_and_its_owner_told(
    catalogue: None, settings: Settings, redis_url: str
) -> None:
    quick = settings.model_copy(update={"partner_pause_after_hours": 1 / 3600})  # one second
    async with partner_stand(quick, redis_url, shop=ORDER_EVENTS) as stand:
        receiver = stand.receivers["shop"]
        await receiver.server.stop()  # connections refused
        placed = await _order()

        async def paused() -> bool:
            row = await WebhookSubscription.get(id=receiver.subscription_id)
            return row.state is SubscriptionState.PAUSED

        await wait_until(paused, within=15, what="the pause")
        await receiver.server.start()
        tried = await OutboxEvent.get(target=Target.PARTNER)
        message = await OutboxEvent.get(target=Target.NOTIFY)
        assert message.payload["to"] == "shop@partner.example"
        assert message.payload["template"] == "webhook_subscription_paused"
        assert message.payload["params"]["subscription"] == str(receiver.subscription_id)
        assert tried.state is EventState.PENDING  # kept for the resume
        attempts_when_paused = tried.attempts

        second = await _order(key="partner-order-2")  # recorded while paused, sent on resume
        await subscriptions.resume(
            partner_id=None, subscription_id=str(receiver.subscription_id), now=_now()
        )

        await wait_until(lambda: len(receiver.simulator.events) == 2, within=10, what="both")
        received = {e.data["id"] for e in receiver.simulator.events}
        assert received == {placed.order.guid, second.order.guid}
        assert attempts_when_paused >= 2


async def test_a_receiver_answering_410_is_paused_at_once(orders_feed: PartnerStand) -> None:
    receiver = orders_feed.receivers["shop"]
    receiver.simulator.gone()

    await _order()

    async def paused() -> bool:
        row = await WebhookSubscription.get(id=receiver.subscription_id)
        return row.state is SubscriptionState.PAUSED

    await wait_until(paused, within=10, what="the pause")
    row = await WebhookSubscription.get(id=receiver.subscription_id)
    assert row.pause_reason == "the receiver answered 410 Gone: it wants no more events"
    assert [r.status for r in receiver.simulator.requests] == [410]
    assert [s for _, s, _ in await _states(receiver.subscription_id)] == ["pending"]


async def test_a_slow_and_a_dead_receiver_hold_up_no_other_subscription(
    catalogue: None, settings: Settings, redis_url: str
) -> None:
    async with partner_stand(
        settings, redis_url, healthy=ORDER_EVENTS, slow=ORDER_EVENTS, dead=ORDER_EVENTS
    ) as stand:
        stand.receivers["slow"].simulator.slow(2.0)
        await stand.receivers["dead"].server.stop()
        placed = [await _order(key=f"partner-order-{n}") for n in range(20)]

        healthy = stand.receivers["healthy"].simulator
        took = await wait_until(lambda: len(healthy.events) == 20, within=5, what="healthy")

        assert took < 2.0  # not one slow answer's worth
        assert healthy.ids() == [e.id for e in healthy.events]
        assert {e.data["id"] for e in healthy.events} == {p.order.guid for p in placed}
        slow = stand.receivers["slow"].simulator
        assert 1 <= slow.max_in_flight <= 4  # never more than its concurrency
