"""Shop confirmations: ask at payment, confirm, decline or silence → the next warehouse, the
money for missing units back, first decision wins, Slack down or refusing the channel."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from app.domain.orders import OrderStatus
from app.domain.outbound import ShopRequestCall
from app.domain.outbox import EventKind, EventState, Target
from app.domain.reservations import ReservationState, ShopConfirmation
from app.domain.shop_confirmation import DeclineReason, LineState, RequestState, ShopRules
from app.integrations.errors import RejectedError, RetryableError
from app.integrations.payments.dummy import SUCCEEDS, DummyProvider
from app.integrations.slack.client import PostedMessage
from app.integrations.slack.mapping import ShopAction
from app.models.orders import Order, OrderLine, Refund
from app.models.outbox import OutboxEvent
from app.models.shops import ShopRequest, ShopRequestLine
from app.models.stock import Reservation
from app.services.inventory.reservations import buffer_matches_reservations
from app.services.jobs import NoQueue
from app.services.payments import start as payments
from app.services.shops import deciding
from app.services.shops.progress import line_states
from app.services.shops.slack_calls import ShopSlack
from tests import factories

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
DRESS = factories.guid("variant/Dress/M/black")
RULES = ShopRules()
CHANNEL_IDS = {"#shop-a": "C0SHOPA", "#shop-b": "C0SHOPB"}


class FakeSlack:
    """Slack's Web API as the sender sees it: records calls, fails when told."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, str, str | None]] = []  # channel, text, thread
        self.updates: list[tuple[str, str, list[dict[str, Any]]]] = []
        self.notes: list[tuple[str, str, str]] = []
        self.fail_with: Exception | None = None

    async def post_message(
        self, channel: str, text: str, blocks: list[dict[str, Any]], thread_ts: str | None = None
    ) -> PostedMessage:
        if self.fail_with is not None:
            raise self.fail_with
        self.posts.append((channel, text, thread_ts))
        return PostedMessage(CHANNEL_IDS.get(channel, channel), f"17000000{len(self.posts)}.0001")

    async def update_message(
        self, channel: str, ts: str, text: str, blocks: list[dict[str, Any]]
    ) -> None:
        self.updates.append((channel, ts, blocks))

    async def post_ephemeral(self, channel: str, user: str, text: str) -> None:
        self.notes.append((channel, user, text))


async def _given(*, online: int = 0, shop_a: int = 1, shop_b: int = 0) -> None:
    await factories.warehouses()
    await factories.upsert_shop_b_channel()
    await factories.product("Dress", variants=[factories.variant("Dress", "M", "black", "5000.00")])
    for warehouse, qty in (
        (factories.ONLINE, online),
        (factories.SHOP_A, shop_a),
        (factories.SHOP_B, shop_b),
    ):
        await factories.stock(DRESS, warehouse, qty)


async def _paid_order(quantity: int = 1, pickup: str | None = None) -> Order:
    cart = await factories.cart_with([(DRESS, quantity)], now=NOW, pickup=pickup)
    order = (await factories.place(cart, now=NOW)).order
    await payments.pay_order(
        order_token=order.token,
        idempotency_key=f"pay-{uuid.uuid4()}",
        provider=DummyProvider(),
        card_number=SUCCEEDS,
        return_url="https://shop.example/",
        jobs=NoQueue(),
        now=NOW,
    )
    return await Order.get(id=order.id)


async def _send_slack(slack: FakeSlack, now: datetime = NOW) -> None:
    """Play the Slack worker: perform every pending Slack call, oldest first."""
    sender = ShopSlack(slack, RULES, NoQueue())
    for event in await OutboxEvent.filter(target=Target.SLACK, state=EventState.PENDING).order_by(
        "id"
    ):
        call = ShopRequestCall(**event.payload)
        await sender.perform(event.kind, call, now)
        await OutboxEvent.filter(id=event.id).update(state=EventState.DELIVERED)


def _click(
    line: ShopRequestLine,
    request: ShopRequest,
    kind: str,
    reason: DeclineReason | None = None,
    user: str = "U0ANNA",
    channel: str | None = None,
) -> ShopAction:
    return ShopAction(
        kind=kind,  # type: ignore[arg-type]
        reason=reason,
        line_key=str(line.id),
        user_id=user,
        user_name=user.lower(),
        channel_id=channel or request.channel or "",
        message_ts=request.message_ts or "",
        action_ts="1700000000.1",
        response_url=None,
    )


async def _open_request(
    slack: FakeSlack, shop: str = factories.SHOP_A
) -> tuple[ShopRequest, ShopRequestLine]:
    await _send_slack(slack)
    request = await ShopRequest.filter(warehouse__guid=shop).order_by("-id").first()
    assert request is not None and request.state is RequestState.OPEN
    line = await ShopRequestLine.get(request_id=request.id)
    return request, line


async def _kinds(target: Target) -> list[EventKind]:
    return [e.kind for e in await OutboxEvent.filter(target=target).order_by("id")]


async def test_a_paid_shop_order_asks_the_shop_once_and_a_confirm_makes_it_ready(db: str) -> None:
    await _given(shop_a=1)
    order = await _paid_order()
    requests = await ShopRequest.filter(order_id=order.id)
    assert [(r.state, r.channel) for r in requests] == [(RequestState.POSTING, "#shop-a")]
    slack = FakeSlack()
    request, line = await _open_request(slack)
    assert (request.channel, request.posted_at, request.deadline) == (
        "C0SHOPA",
        NOW,
        NOW + RULES.window,
    )
    assert slack.posts[0][0] == "#shop-a" and "V-" in slack.posts[0][1]
    assert (await line_states([order.id]))[order.id] == {line.order_line_id: LineState.CONFIRMING}

    result = await deciding.handle_click(
        _click(line, request, "confirm"), rules=RULES, now=NOW + timedelta(minutes=3)
    )

    assert result.outcome == "decided"
    line = await ShopRequestLine.get(id=line.id)
    assert (line.state, line.decided_by) == (ShopConfirmation.CONFIRMED, "U0ANNA")
    assert (
        await Reservation.get(id=line.reservation_id)
    ).shop_confirmation is ShopConfirmation.CONFIRMED
    assert (await Order.get(id=order.id)).status is OrderStatus.READY_FOR_SHIPPING
    assert (await ShopRequest.get(id=request.id)).state is RequestState.CLOSED
    assert (await line_states([order.id]))[order.id] == {line.order_line_id: LineState.CONFIRMED}
    await _send_slack(slack)
    assert [u[:2] for u in slack.updates] == [("C0SHOPA", request.message_ts)]
    assert "actions" not in [b["type"] for b in slack.updates[0][2]]
    assert (await _kinds(Target.ONEC))[-1] is EventKind.ORDER_STATUS_CHANGED
    assert await buffer_matches_reservations() == []


async def test_a_decline_not_found_withholds_the_unit_and_asks_the_next_shop(db: str) -> None:
    await _given(shop_a=1, shop_b=1)
    order = await _paid_order()
    slack = FakeSlack()
    request, line = await _open_request(slack)

    await deciding.handle_click(
        _click(line, request, "decline", DeclineReason.NOT_FOUND),
        rules=RULES,
        now=NOW + timedelta(minutes=1),
    )

    moved = await Reservation.get(id=line.reservation_id)
    assert (moved.state, moved.shop_confirmation) == (
        ReservationState.WITHHELD,
        ShopConfirmation.DECLINED,
    )
    assert (await factories.positions(DRESS))[factories.SHOP_A] == (1, 1)  # off sale, in the buffer
    serving = await Reservation.filter(
        order_line__order_id=order.id, state=ReservationState.ACTIVE
    ).prefetch_related("warehouse")
    assert [(r.warehouse.guid, r.shop_confirmation) for r in serving] == [
        (factories.SHOP_B, ShopConfirmation.REQUESTED)
    ]
    assert (await line_states([order.id]))[order.id] == {line.order_line_id: LineState.MOVED}
    assert EventKind.ORDER_CHANGED in await _kinds(Target.ONEC)
    b_request, _ = await _open_request(slack, factories.SHOP_B)
    assert b_request.channel == "C0SHOPB"
    assert (await Order.get(id=order.id)).status is OrderStatus.PAID

    await factories.stock(DRESS, factories.SHOP_A, 0, as_of=factories.T0 + timedelta(days=30))
    assert (await factories.positions(DRESS))[factories.SHOP_A] == (0, 0)  # 1C's count ends it
    assert (await Reservation.get(id=moved.id)).state is ReservationState.RELEASED
    assert await buffer_matches_reservations() == []


async def test_silence_moves_the_line_on_at_the_deadline_and_not_before(db: str) -> None:
    await _given(shop_a=1, shop_b=1)
    order = await _paid_order()
    request, line = await _open_request(FakeSlack())
    deadline = NOW + RULES.window

    assert await deciding.due_requests(rules=RULES, now=deadline - timedelta(seconds=1)) == []
    assert not await deciding.time_out_request(
        request_id=request.id, rules=RULES, now=deadline - timedelta(seconds=1)
    )
    assert await deciding.due_requests(rules=RULES, now=deadline) == [request.id]
    assert await deciding.time_out_request(request_id=request.id, rules=RULES, now=deadline)
    assert not await deciding.time_out_request(
        request_id=request.id, rules=RULES, now=deadline
    )  # once

    line = await ShopRequestLine.get(id=line.id)
    assert (line.state, line.decided_at, line.decided_by) == (
        ShopConfirmation.TIMED_OUT,
        deadline,
        None,
    )
    assert (await Reservation.get(id=line.reservation_id)).state is ReservationState.RELEASED
    assert (await factories.positions(DRESS))[factories.SHOP_A] == (1, 0)  # back on sale
    asked = await ShopRequest.filter(order_id=order.id, warehouse__guid=factories.SHOP_B).count()
    assert asked == 1
    assert await buffer_matches_reservations() == []


async def test_when_every_shop_declines_the_order_is_cancelled_and_refunded_and_told(
    db: str,
) -> None:
    await _given(shop_a=1, shop_b=1)
    order = await _paid_order()
    slack = FakeSlack()
    for shop in (factories.SHOP_A, factories.SHOP_B):
        request, line = await _open_request(slack, shop)
        await deciding.handle_click(
            _click(line, request, "decline", DeclineReason.DEFECT),
            rules=RULES,
            now=NOW + timedelta(minutes=2),
        )

    order_line = await OrderLine.get(order_id=order.id)
    assert order_line.unavailable == 1
    assert (await line_states([order.id]))[order.id] == {order_line.id: LineState.UNAVAILABLE}
    assert (await Order.get(id=order.id)).status is OrderStatus.CANCELLED
    refunds = await Refund.filter(payment__order_id=order.id)
    assert [(r.amount, r.requested_by) for r in refunds] == [(500000, "auto: units no shop had")]
    message = await OutboxEvent.get(target=Target.NOTIFY)
    assert (message.payload["template"], message.payload["to"]) == (
        "order_line_unavailable",
        "buyer@example.com",
    )
    assert await buffer_matches_reservations() == []


async def test_a_partly_missing_order_goes_on_with_the_rest_and_refunds_the_missing_part(
    db: str,
) -> None:
    await _given(online=1, shop_a=1)
    order = await _paid_order(quantity=2)  # 1 online, 1 from shop A
    request, line = await _open_request(FakeSlack())
    await deciding.handle_click(
        _click(line, request, "decline", DeclineReason.OTHER), rules=RULES, now=NOW
    )

    assert (await Order.get(id=order.id)).status is OrderStatus.READY_FOR_SHIPPING
    assert [r.amount for r in await Refund.filter(payment__order_id=order.id)] == [500000]
    assert (await OrderLine.get(order_id=order.id)).unavailable == 1
    assert (await factories.positions(DRESS))[factories.SHOP_A] == (1, 0)  # "other": back on sale


async def test_a_pickup_line_declined_by_its_shop_is_unavailable(db: str) -> None:
    await _given(online=5, shop_a=1)
    order = await _paid_order(pickup=factories.SHOP_A)
    request, line = await _open_request(FakeSlack())
    await deciding.handle_click(
        _click(line, request, "decline", DeclineReason.KEPT_FOR_CUSTOMER), rules=RULES, now=NOW
    )

    assert (await OrderLine.get(order_id=order.id)).unavailable == 1
    assert (await Order.get(id=order.id)).status is OrderStatus.CANCELLED
    assert (await factories.positions(DRESS))[factories.ONLINE] == (5, 0)  # never the online one


async def test_two_clicks_racing_decide_once(db: str) -> None:
    await _given(shop_a=1, shop_b=1)
    order = await _paid_order()
    request, line = await _open_request(FakeSlack())
    confirm = _click(line, request, "confirm", user="U0ANNA")
    decline = _click(line, request, "decline", DeclineReason.NOT_FOUND, user="U0BORIS")

    results = await asyncio.gather(
        deciding.handle_click(confirm, rules=RULES, now=NOW),
        deciding.handle_click(decline, rules=RULES, now=NOW),
    )

    assert sorted(r.outcome for r in results) == ["already_handled", "decided"]
    assert await ShopRequest.filter(order_id=order.id).count() in (1, 2)
    assert (
        await Reservation.filter(
            order_line__order_id=order.id, state=ReservationState.ACTIVE
        ).count()
        == 1
    )
    notes = await OutboxEvent.filter(kind=EventKind.SHOP_REQUEST_NOTE)
    assert len(notes) == 1 and "Уже обработано" in notes[0].payload["text"]
    assert await buffer_matches_reservations() == []


async def test_a_click_after_the_deadline_is_the_timeout_and_changes_nothing_else(db: str) -> None:
    await _given(shop_a=1, shop_b=1)
    await _paid_order()
    request, line = await _open_request(FakeSlack())
    late = NOW + RULES.window + timedelta(seconds=5)

    result = await deciding.handle_click(_click(line, request, "confirm"), rules=RULES, now=late)

    assert result.outcome == "already_handled"
    line = await ShopRequestLine.get(id=line.id)
    assert (line.state, line.decided_at) == (ShopConfirmation.TIMED_OUT, NOW + RULES.window)


async def test_a_click_from_another_channel_is_refused(db: str) -> None:
    await _given(shop_a=1, shop_b=1)
    await _paid_order()
    request, line = await _open_request(FakeSlack())

    result = await deciding.handle_click(
        _click(line, request, "confirm", channel="C0SHOPB"), rules=RULES, now=NOW
    )

    assert result.outcome == "wrong_channel"
    assert (await ShopRequestLine.get(id=line.id)).state is ShopConfirmation.REQUESTED


async def test_slack_down_keeps_the_request_waiting_then_moves_it_on_after_the_post_timeout(
    db: str,
) -> None:
    await _given(shop_a=1, shop_b=1)
    order = await _paid_order()
    slack = FakeSlack()
    slack.fail_with = RetryableError("slack is down")
    event = await OutboxEvent.get(kind=EventKind.SHOP_REQUEST_POST)
    sender = ShopSlack(slack, RULES, NoQueue())
    call = ShopRequestCall(**event.payload)
    try:
        await sender.perform(event.kind, call, NOW + timedelta(minutes=10))
    except RetryableError:
        pass
    request = await ShopRequest.get(id=call.request_id)
    assert request.state is RequestState.POSTING
    assert await deciding.due_requests(rules=RULES, now=NOW + timedelta(minutes=10)) == []

    past = NOW + RULES.post_timeout
    assert await deciding.due_requests(rules=RULES, now=past) == [request.id]
    assert await deciding.time_out_request(request_id=request.id, rules=RULES, now=past)
    line = await ShopRequestLine.get(request_id=request.id)
    assert (line.state, line.note) == (ShopConfirmation.TIMED_OUT, "Slack did not take it")
    assert await ShopRequest.filter(order_id=order.id, warehouse__guid=factories.SHOP_B).exists()
    slack.fail_with = None
    await sender.perform(event.kind, call, past)  # Slack is back: the old request is not posted
    assert slack.posts == []


async def test_a_channel_slack_does_not_know_moves_the_line_on_at_once(db: str) -> None:
    await _given(shop_a=1, shop_b=1)
    order = await _paid_order()
    slack = FakeSlack()
    slack.fail_with = RejectedError("channel_not_found from chat.postMessage (HTTP 200)", 200, "{}")
    event = await OutboxEvent.get(kind=EventKind.SHOP_REQUEST_POST)
    try:
        await ShopSlack(slack, RULES, NoQueue()).perform(
            event.kind, ShopRequestCall(**event.payload), NOW
        )
    except RejectedError:
        pass
    line = await ShopRequestLine.get(request__warehouse__guid=factories.SHOP_A)
    assert line.state is ShopConfirmation.TIMED_OUT and line.note.startswith("channel_not_found")
    assert await ShopRequest.filter(order_id=order.id, warehouse__guid=factories.SHOP_B).exists()


async def test_a_shop_without_a_channel_is_skipped_by_the_sweep(db: str) -> None:
    await factories.warehouses()  # shop B has no channel here
    await factories.product("Dress", variants=[factories.variant("Dress", "M", "black", "5000.00")])
    await factories.stock(DRESS, factories.SHOP_B, 1)
    await factories.stock(DRESS, factories.SHOP_A, 1)
    await factories.stock(DRESS, factories.ONLINE, 0)
    await factories.upsert_shop_b_channel(None, priority=5)  # shop B first, no channel
    order = await _paid_order()
    (request,) = await ShopRequest.filter(order_id=order.id)
    assert request.channel is None
    assert await deciding.due_requests(rules=RULES, now=NOW) == [request.id]
    await deciding.time_out_request(request_id=request.id, rules=RULES, now=NOW)
    assert await ShopRequest.filter(order_id=order.id, warehouse__guid=factories.SHOP_A).exists()


async def test_the_reminder_goes_once_at_half_time_in_the_thread(db: str) -> None:
    await _given(shop_a=1)
    await _paid_order()
    slack = FakeSlack()
    request, _ = await _open_request(slack)
    half = NOW + RULES.window / 2
    assert await deciding.due_reminders(now=half - timedelta(seconds=1)) == []
    assert await deciding.remind(request_id=request.id, now=half)
    assert not await deciding.remind(request_id=request.id, now=half)
    await _send_slack(slack, half)
    assert slack.posts[-1][0] == "C0SHOPA" and slack.posts[-1][2] == request.message_ts
