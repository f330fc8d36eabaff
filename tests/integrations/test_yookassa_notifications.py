"""Notifications from the YooKassa simulator, caught by a tiny webhook receiver over real HTTP."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from app.devtools.simulators.server import LocalServer
from app.devtools.simulators.yookassa import YooKassaSimulator
from app.domain.payments import PaymentStatus
from app.integrations.payments.yookassa.client import YooKassaClient
from app.integrations.payments.yookassa.mapping import (
    NotificationEvent,
    YooNotification,
    YooPayment,
    parse_notification,
    parse_payment,
)

Event = NotificationEvent


@dataclass
class Swappable:
    """One API server for the module; each test puts a fresh simulator behind it."""

    app: ASGIApp = field(default_factory=lambda: YooKassaSimulator().app)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


@dataclass
class Receiver:
    """Our side of the webhook, reduced to what arrived; answers `status`."""

    bodies: list[Any] = field(default_factory=list)
    status: int = 200

    async def receive(self, request: Request) -> Response:
        self.bodies.append(await request.json())
        return Response(status_code=self.status)

    def notifications(self) -> list[YooNotification]:
        return [parse_notification(body) for body in self.bodies]


@dataclass
class Servers:
    api: LocalServer
    front: Swappable
    webhook: LocalServer
    receiver: Receiver


@pytest.fixture(scope="module")
async def servers() -> AsyncIterator[Servers]:
    front, receiver = Swappable(), Receiver()
    webhook_app = Starlette(routes=[Route("/yookassa", receiver.receive, methods=["POST"])])
    async with LocalServer(front) as api, LocalServer(webhook_app) as webhook:
        yield Servers(api, front, webhook, receiver)


@pytest.fixture
def receiver(servers: Servers) -> Receiver:
    servers.receiver.bodies.clear()
    servers.receiver.status = 200
    return servers.receiver


@pytest.fixture
async def sim(servers: Servers) -> AsyncIterator[YooKassaSimulator]:
    simulator = YooKassaSimulator(webhook_url=f"{servers.webhook.url}/yookassa")
    servers.front.app = simulator.app
    yield simulator
    await simulator.aclose()


@pytest.fixture
async def yookassa(sim: YooKassaSimulator, servers: Servers) -> AsyncIterator[YooKassaClient]:
    base_url = f"{servers.api.url}/v3/"
    async with YooKassaClient(base_url, sim.shop_id, sim.secret_key, timeout=2.0) as client:
        yield client


async def create(yookassa: YooKassaClient, capture: bool = True) -> YooPayment:
    return await yookassa.create_payment(
        amount_kopecks=4_990_00,
        return_url="https://shop.example/orders/42",
        description="Заказ №42",
        metadata={"order_guid": "7c9e6679-7425-40de-944b-e07fc1f90ae7"},
        capture=capture,
        idempotence_key=str(uuid.uuid4()),
    )


def key() -> str:
    return str(uuid.uuid4())


async def test_a_paid_payment_is_announced_and_the_announcement_matches_a_fresh_read(
    yookassa: YooKassaClient, sim: YooKassaSimulator, receiver: Receiver
) -> None:
    payment = await create(yookassa)

    await sim.pay(payment.id)

    assert receiver.notifications() == [YooNotification(Event.PAYMENT_SUCCEEDED, payment.id)]
    announced = parse_payment(receiver.bodies[0]["object"])
    assert announced == await yookassa.get_payment(payment.id)
    assert announced.status is PaymentStatus.SUCCEEDED


async def test_a_two_stage_payment_is_announced_waiting_then_succeeded(
    yookassa: YooKassaClient, sim: YooKassaSimulator, receiver: Receiver
) -> None:
    payment = await create(yookassa, capture=False)

    await sim.pay(payment.id)
    await yookassa.capture_payment(payment.id, idempotence_key=key())

    events = [n.event for n in receiver.notifications()]
    assert events == [Event.PAYMENT_WAITING_FOR_CAPTURE, Event.PAYMENT_SUCCEEDED]


async def test_cancellations_by_the_payer_and_by_us_are_announced(
    yookassa: YooKassaClient, sim: YooKassaSimulator, receiver: Receiver
) -> None:
    abandoned, released = await create(yookassa), await create(yookassa, capture=False)

    await sim.cancel_by_payer(abandoned.id, reason="insufficient_funds", party="payment_network")
    await sim.pay(released.id)
    await yookassa.cancel_payment(released.id, idempotence_key=key())

    assert receiver.notifications() == [
        YooNotification(Event.PAYMENT_CANCELED, abandoned.id),
        YooNotification(Event.PAYMENT_WAITING_FOR_CAPTURE, released.id),
        YooNotification(Event.PAYMENT_CANCELED, released.id),
    ]
    assert receiver.bodies[0]["object"]["cancellation_details"] == {
        "party": "payment_network",
        "reason": "insufficient_funds",
    }


async def test_a_refund_is_announced_with_the_refund_as_its_object(
    yookassa: YooKassaClient, sim: YooKassaSimulator, receiver: Receiver
) -> None:
    payment = await create(yookassa)
    await sim.pay(payment.id)

    refund = await yookassa.create_refund(payment.id, amount_kopecks=100, idempotence_key=key())

    assert receiver.notifications()[-1] == YooNotification(Event.REFUND_SUCCEEDED, refund.id)
    assert receiver.bodies[-1]["object"]["payment_id"] == payment.id


async def test_a_dropped_notification_never_arrives_but_a_read_tells_the_truth(
    yookassa: YooKassaClient, sim: YooKassaSimulator, receiver: Receiver
) -> None:
    payment = await create(yookassa)
    sim.drop_next_notification()

    await sim.pay(payment.id)

    assert receiver.bodies == [] and len(sim.dropped_notifications) == 1
    assert (await yookassa.get_payment(payment.id)).status is PaymentStatus.SUCCEEDED


async def test_duplicated_notifications_arrive_twice_and_collapse_by_payment_and_status(
    yookassa: YooKassaClient, sim: YooKassaSimulator, receiver: Receiver
) -> None:
    payment = await create(yookassa)
    sim.duplicate_notifications()

    await sim.pay(payment.id)

    assert len(receiver.bodies) == 2 and receiver.bodies[0] == receiver.bodies[1]
    seen = {(p.id, p.status) for p in map(parse_payment, (b["object"] for b in receiver.bodies))}
    assert seen == {(payment.id, PaymentStatus.SUCCEEDED)}


async def test_delayed_notifications_arrive_after_the_change_they_announce(
    yookassa: YooKassaClient, sim: YooKassaSimulator, receiver: Receiver
) -> None:
    payment = await create(yookassa)
    sim.delay_notifications(0.2)

    await sim.pay(payment.id)
    assert receiver.bodies == []
    await sim.settle()

    assert receiver.notifications() == [YooNotification(Event.PAYMENT_SUCCEEDED, payment.id)]


async def test_a_failing_receiver_does_not_stop_the_payment(
    yookassa: YooKassaClient, sim: YooKassaSimulator, receiver: Receiver
) -> None:
    receiver.status = 500
    payment = await create(yookassa)

    await sim.pay(payment.id)

    assert len(receiver.bodies) == len(sim.notifications) == 1
    assert (await yookassa.get_payment(payment.id)).status is PaymentStatus.SUCCEEDED
