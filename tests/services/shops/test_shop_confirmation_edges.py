"""Shop confirmations at the edges of an order's life: asked at placement, two-stage payments
captured for what is served, an order cancelled while its shop is asked, more lines than one
Slack message holds, and a decision that dies half-way."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from app.domain.errors import DomainError
from app.domain.orders import OrderStatus
from app.domain.outbound import ShopRequestCall
from app.domain.outbox import EventKind, EventState, RetryPolicy, Target, slack_aggregate
from app.domain.payments import PaymentStatus
from app.domain.reservations import ReservationState, ShopConfirmation
from app.domain.shop_confirmation import DeclineReason, RequestState
from app.integrations.payments.dummy import AUTHORISES, SUCCEEDS, DummyProvider
from app.integrations.slack.mapping import MAX_LINES
from app.models.orders import Order, OrderLine, Payment, Refund
from app.models.outbox import OutboxEvent
from app.models.shops import ShopRequest, ShopRequestLine
from app.models.stock import Reservation
from app.services.checkout import orders
from app.services.inventory.reservations import buffer_matches_reservations
from app.services.jobs import NoQueue
from app.services.outbox.delivery import Senders, deliver_aggregate, due_aggregates
from app.services.payments import admin as payment_admin
from app.services.payments import start as payments
from app.services.shops import deciding
from app.services.shops.asking import record_slack_call
from app.services.shops.slack_calls import ShopSlack
from tests import factories
from tests.services.shops.test_shop_confirmation import (
    DRESS,
    NOW,
    RULES,
    FakeSlack,
    _click,
    _given,
    _open_request,
    _send_slack,
)


async def _placed(quantity: int = 1, *, ask_now: bool = False) -> Order:
    cart = await factories.cart_with([(DRESS, quantity)], now=NOW)
    placed = await orders.place_order(
        cart_token=cart,
        idempotency_key=f"key-{cart}",
        now=NOW,
        payment_timeout=timedelta(minutes=15),
        jobs=NoQueue(),
        ask_shops_now=ask_now,
    )
    return placed.order


async def _pay(order: Order, provider: DummyProvider, card: str = SUCCEEDS) -> Payment:
    await payments.pay_order(
        order_token=order.token,
        idempotency_key=f"pay-{uuid.uuid4()}",
        provider=provider,
        card_number=card,
        return_url="https://shop.example/",
        jobs=NoQueue(),
        now=NOW,
    )
    return await Payment.get(order_id=order.id)


async def _decline(slack: FakeSlack, shop: str = factories.SHOP_A) -> None:
    request, line = await _open_request(slack, shop)
    await deciding.handle_click(
        _click(line, request, "decline", DeclineReason.NOT_FOUND), rules=RULES, now=NOW
    )


async def test_asked_at_placement_the_shop_answers_before_the_payment_and_it_counts(
    db: str,
) -> None:
    await _given(online=1, shop_a=1)
    order = await _placed(2, ask_now=True)  # 1 online, 1 from shop A
    (request,) = await ShopRequest.filter(order_id=order.id)
    assert request.state is RequestState.POSTING  # asked before any payment
    await _decline(FakeSlack())
    assert (await OrderLine.get(order_id=order.id)).unavailable == 1
    assert (await Order.get(id=order.id)).status is OrderStatus.AWAITING_PAYMENT

    await _pay(order, DummyProvider())

    assert await ShopRequest.filter(order_id=order.id).count() == 1  # not asked again
    assert (await Order.get(id=order.id)).status is OrderStatus.READY_FOR_SHIPPING
    refunds = await Refund.filter(payment__order_id=order.id)
    assert [(r.amount, r.requested_by) for r in refunds] == [(500000, "auto: units no shop had")]
    assert await buffer_matches_reservations() == []


async def test_an_unpaid_order_asked_at_placement_expires_and_its_request_is_withdrawn(
    db: str,
) -> None:
    await _given(shop_a=1, shop_b=1)
    order = await _placed(ask_now=True)
    slack = FakeSlack()
    request, line = await _open_request(slack)

    assert await orders.expire_order(order_id=order.id, now=NOW + timedelta(minutes=16))

    line = await ShopRequestLine.get(id=line.id)
    assert (line.state, line.note) == (ShopConfirmation.WITHDRAWN, "the order was cancelled")
    assert (await ShopRequest.get(id=request.id)).state is RequestState.CLOSED
    assert (await factories.positions(DRESS))[factories.SHOP_A] == (1, 0)
    # the deadline and a late click find nothing to do: no unit is served to a cancelled order
    assert await deciding.due_requests(rules=RULES, now=NOW + timedelta(hours=1)) == []
    late = await deciding.handle_click(
        _click(line, request, "decline", DeclineReason.OTHER),
        rules=RULES,
        now=NOW + timedelta(minutes=17),
    )
    assert late.outcome == "already_handled"
    assert await ShopRequest.filter(order_id=order.id).count() == 1  # shop B is never asked
    assert await Reservation.filter(state=ReservationState.ACTIVE).count() == 0
    await _send_slack(slack)
    assert [u[:2] for u in slack.updates] == [("C0SHOPA", request.message_ts)]
    assert "actions" not in [b["type"] for b in slack.updates[0][2]]
    note = await OutboxEvent.get(kind=EventKind.SHOP_REQUEST_NOTE)
    assert note.payload["text"].startswith("Заказ отменён")
    assert await buffer_matches_reservations() == []


async def test_a_voided_authorisation_withdraws_the_shop_request_of_the_paid_order(
    db: str,
) -> None:
    await _given(shop_a=1)
    provider = DummyProvider()
    order = await _placed()
    payment = await _pay(order, provider, AUTHORISES)
    assert payment.status is PaymentStatus.WAITING_FOR_CAPTURE
    (request,) = await ShopRequest.filter(order_id=order.id)  # authorised: the shop is asked

    await payment_admin.void(payment_guid=payment.guid, providers=lambda _: provider, now=NOW)

    assert (await Order.get(id=order.id)).status is OrderStatus.CANCELLED
    assert (await ShopRequest.get(id=request.id)).state is RequestState.CLOSED
    line = await ShopRequestLine.get(request_id=request.id)
    assert line.state is ShopConfirmation.WITHDRAWN
    posts = await OutboxEvent.filter(target=Target.SLACK, kind=EventKind.SHOP_REQUEST_POST)
    slack = FakeSlack()
    await _send_slack(slack)
    assert (len(posts), slack.posts) == (1, [])  # never posted: it was withdrawn first


async def test_a_two_stage_capture_takes_only_what_is_still_served(db: str) -> None:
    await _given(online=1, shop_a=1)
    provider = DummyProvider()
    order = await _placed(2)
    payment = await _pay(order, provider, AUTHORISES)
    await _decline(FakeSlack())
    assert await Refund.filter(payment_id=payment.id).count() == 0  # nothing taken, nothing back

    with pytest.raises(DomainError) as too_much:
        await payment_admin.capture(
            payment_guid=payment.guid, amount=1_000_000, providers=lambda _: provider, now=NOW
        )
    assert (too_much.value.path, too_much.value.message) == (
        ("amount",),
        "capture 1..500000 kopecks (all when omitted)",
    )
    captured = await payment_admin.capture(
        payment_guid=payment.guid, amount=None, providers=lambda _: provider, now=NOW
    )

    assert (captured.status, captured.amount) == (PaymentStatus.SUCCEEDED, 500000)
    assert await Refund.filter(payment_id=payment.id).count() == 0


async def test_more_lines_than_one_message_holds_are_asked_in_several_requests(db: str) -> None:
    await factories.warehouses()
    count = MAX_LINES + 1
    variants = [factories.variant("Dress", f"S{n}", "black", "100.00") for n in range(count)]
    await factories.product("Dress", variants=variants)
    guids = [factories.guid(f"variant/Dress/S{n}/black") for n in range(count)]
    for variant in guids:
        await factories.stock(variant, factories.SHOP_A, 1)
    cart = await factories.cart_with([(g, 1) for g in guids], now=NOW)
    order = (await factories.place(cart, now=NOW)).order

    await _pay(order, DummyProvider())

    requests = await ShopRequest.filter(order_id=order.id).order_by("id")
    sizes = [await ShopRequestLine.filter(request_id=r.id).count() for r in requests]
    assert sizes == [MAX_LINES, 1]
    slack = FakeSlack()
    await _send_slack(slack)
    assert len(slack.posts) == 2


async def test_a_decision_that_dies_half_way_leaves_nothing_and_the_deadline_settles_it(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _given(shop_a=1, shop_b=1)
    order = await _placed()
    await _pay(order, DummyProvider())
    request, line = await _open_request(FakeSlack())
    before = (await factories.positions(DRESS), await OutboxEvent.all().count())

    async def killed(*args: object, **kwargs: object) -> None:
        raise SystemExit("the worker is killed here")  # after the line and stock rows changed

    monkeypatch.setattr(deciding, "after_answers", killed)
    with pytest.raises(SystemExit):
        await deciding.handle_click(
            _click(line, request, "decline", DeclineReason.NOT_FOUND), rules=RULES, now=NOW
        )
    monkeypatch.undo()

    assert (await ShopRequestLine.get(id=line.id)).state is ShopConfirmation.REQUESTED
    assert (await Reservation.get(id=line.reservation_id)).state is ReservationState.ACTIVE
    assert (await factories.positions(DRESS), await OutboxEvent.all().count()) == before
    deadline = NOW + RULES.window
    assert await deciding.due_requests(rules=RULES, now=deadline) == [request.id]
    assert await deciding.time_out_request(request_id=request.id, rules=RULES, now=deadline)
    assert await ShopRequest.filter(order_id=order.id, warehouse__guid=factories.SHOP_B).exists()
    assert await buffer_matches_reservations() == []


async def test_a_busy_channels_backlog_goes_out_within_the_jobs_budget_and_the_rest_waits(
    db: str,
) -> None:
    for n in range(6):
        call = ShopRequestCall(0, "#shop-a", user=f"U{n}", text="note")
        await record_slack_call(EventKind.SHOP_REQUEST_NOTE, call, now=NOW)
    sender = ShopSlack(FakeSlack(), RULES, NoQueue(), per_channel_seconds=0.2)

    outcome = await deliver_aggregate(
        target=Target.SLACK,
        aggregate=slack_aggregate("#shop-a"),
        senders=Senders(slack=sender),
        policy=RetryPolicy(),
        clock=lambda: NOW,
        budget_seconds=0.5,  # about three paced calls: no call starts after it
    )

    # no call starts after the budget (a loaded machine may fit fewer in it, never all six)
    assert 1 <= outcome.delivered <= 4 and outcome.retry_at is None
    waiting = await OutboxEvent.filter(target=Target.SLACK, state=EventState.PENDING).count()
    assert waiting == 6 - outcome.delivered
    assert await due_aggregates(now=NOW, target=Target.SLACK) == [slack_aggregate("#shop-a")]
