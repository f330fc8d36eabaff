"""Partners' events are outbox rows written with the change: per subscriber, per aggregate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.domain.errors import DomainError
from app.domain.outbox import EventKind, EventState, Target
from app.integrations.payments.dummy import SUCCEEDS, DummyProvider
from app.models.outbox import OutboxEvent
from app.services.checkout import orders
from app.services.jobs import NoQueue
from app.services.partners.recording import record_releases
from app.services.payments.start import pay_order
from tests import factories

NOW = datetime.now(UTC).replace(microsecond=0)
DRESS = factories.guid("variant/Dress/M/black")
HOOK = "http://127.0.0.1:9/hook"


async def _partner_rows() -> list[tuple[str, str]]:
    rows = await OutboxEvent.filter(target=Target.PARTNER).order_by("id")
    return [(r.aggregate, r.kind.value) for r in rows]


async def _given_a_dress(stock: int = 10) -> None:
    await factories.warehouses()
    await factories.product("Dress", variants=[factories.variant("Dress", "M", "black")])
    await factories.stock(DRESS, factories.ONLINE, stock)


async def _pay(token: str) -> None:
    await pay_order(
        order_token=token,
        idempotency_key="pay-attempt-1",
        provider=DummyProvider(),
        card_number=SUCCEEDS,
        return_url="https://shop.example/",
        now=NOW,
        jobs=NoQueue(),
    )


async def test_an_order_reaches_each_subscriber_of_its_events_in_its_own_aggregate(
    db: str,
) -> None:
    await _given_a_dress()
    partner = await factories.partner()
    everything, _ = await factories.subscription(
        partner, HOOK, "order.placed", "order.status_changed", "order.paid"
    )
    paid_only, _ = await factories.subscription(partner, HOOK, "order.paid")

    placed = await factories.place(await factories.cart_with([(DRESS, 2)], now=NOW), now=NOW)
    await _pay(placed.order.token)

    guid = placed.order.guid
    assert await _partner_rows() == [
        (f"partner:{everything}:order:{guid}", "order.placed"),
        (f"partner:{everything}:order:{guid}", "order.status_changed"),
        (f"partner:{everything}:order:{guid}", "order.paid"),
        (f"partner:{paid_only}:order:{guid}", "order.paid"),
    ]
    first = await OutboxEvent.filter(target=Target.PARTNER).order_by("id").first()
    assert first is not None and first.state is EventState.PENDING
    data: dict[str, Any] = first.payload
    assert (data["id"], data["number"], data["status"]) == (guid, "V-000001", "AWAITING_PAYMENT")
    assert data["total"] == {"amount": "9980.00", "currency": "RUB"}
    assert [(line["sku"], line["quantity"]) for line in data["lines"]] == [("Dress-M-black", 2)]
    assert "token" not in data  # the shopper's key to the order is nobody else's


async def test_a_cancelled_order_is_a_status_change_and_a_cancellation(db: str) -> None:
    await _given_a_dress()
    subscription, _ = await factories.subscription(
        await factories.partner(), HOOK, "order.status_changed", "order.cancelled"
    )
    placed = await factories.place(await factories.cart_with([(DRESS, 1)], now=NOW), now=NOW)

    await orders.cancel_by_shopper(order_token=placed.order.token, now=NOW)

    aggregate = f"partner:{subscription}:order:{placed.order.guid}"
    assert await _partner_rows() == [
        (aggregate, "order.status_changed"),
        (aggregate, "order.cancelled"),
    ]
    cancelled = await OutboxEvent.filter(kind=EventKind.ORDER_CANCELLED).get()
    assert cancelled.payload["status"] == "CANCELLED"


async def test_an_order_that_could_not_be_placed_tells_partners_nothing(db: str) -> None:
    await _given_a_dress(stock=1)
    await factories.subscription(
        await factories.partner(), HOOK, "order.placed", "variant.stock_changed"
    )
    cart = await factories.cart_with([(DRESS, 1)], now=NOW)
    await factories.stock(DRESS, factories.ONLINE, 0, as_of=NOW)  # sold in a shop meanwhile
    before = await _partner_rows()

    with pytest.raises(DomainError):
        await factories.place(cart, now=NOW)

    assert len(before) == 1  # the figure from 1C
    assert await _partner_rows() == before


async def test_stock_changes_of_a_variant_within_the_window_are_one_event(db: str) -> None:
    await _given_a_dress(stock=10)
    subscription, _ = await factories.subscription(
        await factories.partner(), HOOK, "variant.stock_changed"
    )
    for n in range(3):  # three orders in a second: one event
        cart = await factories.cart_with([(DRESS, 1)], now=NOW)
        await factories.place(cart, now=NOW, key=f"stock-window-{n}")
    later = NOW + timedelta(seconds=10)  # past the window: the next change is a new event
    await factories.place(await factories.cart_with([(DRESS, 1)], now=later), now=later)

    rows = await OutboxEvent.filter(target=Target.PARTNER).order_by("id")
    aggregate = f"partner:{subscription}:variant:{DRESS}"
    assert [(r.aggregate, r.kind, r.payload) for r in rows] == [
        (aggregate, EventKind.STOCK_CHANGED, {"id": DRESS}),
        (aggregate, EventKind.STOCK_CHANGED, {"id": DRESS}),
    ]
    assert rows[0].next_attempt_at == NOW + timedelta(seconds=5)  # sent once the window ends
    assert rows[1].next_attempt_at == later + timedelta(seconds=5)


async def test_products_are_announced_as_shoppers_see_them(db: str) -> None:
    await factories.warehouses()
    subscription, _ = await factories.subscription(
        await factories.partner(),
        HOOK,
        "product.created",
        "product.updated",
        "product.withdrawn",
        "variant.stock_changed",
    )
    drop = await factories.collection("Winter", NOW + timedelta(days=3))
    await factories.product("Dress")
    await factories.product("Dress")  # 1C sends it again: an update
    await factories.product("Dress", published=False)
    await factories.product("Coat", collection_guid=drop)  # its drop has not started
    await factories.stock(factories.guid("variant/Coat/M/black"), factories.ONLINE, 5)

    dress = factories.guid("product/Dress")
    assert await _partner_rows() == [
        (f"partner:{subscription}:product:{dress}", "product.created"),
        (f"partner:{subscription}:product:{dress}", "product.updated"),
        (f"partner:{subscription}:product:{dress}", "product.withdrawn"),
    ]


async def test_a_release_is_announced_once_with_its_products(db: str) -> None:
    await factories.warehouses()
    subscription, _ = await factories.subscription(
        await factories.partner(), HOOK, "collection.released", "product.created"
    )
    drop = await factories.collection("Winter", NOW + timedelta(hours=1))
    await factories.product("Coat", collection_guid=drop)

    assert await record_releases(now=NOW) == 0  # not yet
    at_release = NOW + timedelta(hours=1, seconds=2)
    assert await record_releases(now=at_release) == 1
    assert await record_releases(now=at_release + timedelta(seconds=5)) == 0  # told already

    coat = factories.guid("product/Coat")
    assert await _partner_rows() == [
        (f"partner:{subscription}:collection:{drop}", "collection.released"),
        (f"partner:{subscription}:product:{coat}", "product.created"),
    ]
    released = await OutboxEvent.filter(kind=EventKind.COLLECTION_RELEASED).get()
    assert (released.payload["id"], released.payload["isReleased"]) == (drop, True)


async def test_a_collection_filter_keeps_other_collections_events_out(db: str) -> None:
    await factories.warehouses()
    winter = await factories.collection("Winter", NOW - timedelta(days=1))
    summer = await factories.collection("Summer", NOW - timedelta(days=2))
    partner = await factories.partner()
    filtered, _ = await factories.subscription(
        partner, HOOK, "order.placed", "product.created", collection_guid=winter
    )
    await factories.product("Coat", collection_guid=winter)
    await factories.product("Shorts", collection_guid=summer)
    coat, shorts = factories.guid("variant/Coat/M/black"), factories.guid("variant/Shorts/M/black")
    await factories.stock(coat, factories.ONLINE, 5)
    await factories.stock(shorts, factories.ONLINE, 5)

    summer_order = await factories.place(await factories.cart_with([(shorts, 1)], now=NOW), now=NOW)
    winter_order = await factories.place(
        await factories.cart_with([(coat, 1), (shorts, 1)], now=NOW), now=NOW
    )

    assert summer_order.created
    assert await _partner_rows() == [
        (f"partner:{filtered}:product:{factories.guid('product/Coat')}", "product.created"),
        (f"partner:{filtered}:order:{winter_order.order.guid}", "order.placed"),
    ]
