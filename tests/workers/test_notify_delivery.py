"""Messages to customers travel through the outbox like everything else: delivered by the notify
worker, retried when the sender fails, kept pending while no sender is set up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from structlog.testing import capture_logs

from app.domain.outbound import CustomerMessageRecord, MessageChannel
from app.domain.outbox import SENT, EventKind, EventState, RetryPolicy, Target
from app.integrations.errors import RetryableError
from app.integrations.notify.log import LoggingNotifier
from app.models.outbox import OutboxEvent
from app.services.accounts.messages import record_message
from app.services.outbox.delivery import Senders, deliver_aggregate, due_aggregates
from app.services.outbox.record import delivery_queue
from app.settings import Settings
from app.workers.outbox import build_senders, deliver_outbox
from app.workers.settings import build_workers
from tests.conftest import graphql
from tests.schema.accounts.flows import PASSWORD, REGISTER

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
POLICY = RetryPolicy(base=timedelta(seconds=1), cap=timedelta(seconds=10), max_attempts=3)


class DownNotifier:
    async def send(self, message: CustomerMessageRecord, event_id: str) -> None:
        raise RetryableError("smtp is down")


async def _message(to: str = "anna@example.com") -> OutboxEvent:
    return await record_message(
        channel=MessageChannel.EMAIL,
        to=to,
        template="password_reset",
        params={"link": "http://shop/reset-password?token=t"},
        now=NOW,
    )


async def test_the_logging_notifier_delivers_a_message_once(db: str) -> None:
    event = await _message()
    assert (event.target, event.kind) == (Target.NOTIFY, EventKind.CUSTOMER_MESSAGE)
    assert event.aggregate == f"message:{event.payload['guid']}"
    assert await due_aggregates(now=NOW, target=Target.NOTIFY) == [event.aggregate]
    notifier = LoggingNotifier()
    with capture_logs() as logs:
        outcome = await deliver_aggregate(
            target=Target.NOTIFY,
            aggregate=event.aggregate,
            senders=Senders(notify=notifier),
            policy=POLICY,
            clock=lambda: NOW,
        )
    assert outcome.delivered == 1
    assert [(m.to, m.template) for m in notifier.sent] == [("anna@example.com", "password_reset")]
    [logged] = [entry for entry in logs if entry["event"] == "customer.message"]
    assert logged["channel"] == "email" and logged["to"] == "anna@example.com"
    assert logged["link"] == "http://shop/reset-password?token=t"
    row = await OutboxEvent.get(id=event.id)
    assert row.state is EventState.DELIVERED
    assert row.payload["params"] == {"link": SENT}  # the reset link does not outlive its sending
    assert row.payload["to"] == "anna@example.com" and row.payload["template"] == "password_reset"
    again = await deliver_aggregate(
        target=Target.NOTIFY,
        aggregate=event.aggregate,
        senders=Senders(notify=notifier),
        policy=POLICY,
        clock=lambda: NOW,
    )
    assert again.delivered == 0 and len(notifier.sent) == 1


async def test_a_failing_sender_is_retried_later_and_no_sender_keeps_it_pending(db: str) -> None:
    event = await _message()
    waiting = await deliver_aggregate(
        target=Target.NOTIFY,
        aggregate=event.aggregate,
        senders=Senders(),
        policy=POLICY,
        clock=lambda: NOW,
    )
    assert waiting.delivered == 0
    assert (await OutboxEvent.get(id=event.id)).attempts == 0
    failed = await deliver_aggregate(
        target=Target.NOTIFY,
        aggregate=event.aggregate,
        senders=Senders(notify=DownNotifier()),
        policy=POLICY,
        clock=lambda: NOW,
    )
    row = await OutboxEvent.get(id=event.id)
    assert (row.state, row.attempts, row.last_error) == (EventState.PENDING, 1, "smtp is down")
    assert row.payload == event.payload  # kept whole until it is sent
    assert failed.retry_at is not None and failed.retry_at > NOW
    assert row.next_attempt_at == failed.retry_at


async def test_the_notify_worker_delivers_a_sign_up_code(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    variables = {"input": {"email": "anna@example.com", "password": PASSWORD}}
    body = await graphql(client, REGISTER, variables)
    assert body["data"]["register"] == {"ok": True, "errors": []}
    [event] = await OutboxEvent.filter(target=Target.NOTIFY)
    group = build_workers(settings, redis_url="redis://127.0.0.1:1/0")  # never started
    queues = [w.queue_name for w in group.workers]
    assert delivery_queue(Target.NOTIFY) in queues

    senders = build_senders(settings)
    assert isinstance(senders.notify, LoggingNotifier)
    ctx = {"settings": settings, "senders": senders, "paused": {}, "failures": {}}
    assert await deliver_outbox(ctx, Target.NOTIFY.value, event.aggregate) == 1
    assert await deliver_outbox(ctx, Target.NOTIFY.value, event.aggregate) == 0  # once
    delivered = await OutboxEvent.get(id=event.id)
    assert (delivered.state, delivered.attempts) == (EventState.DELIVERED, 1)
    assert set(delivered.payload["params"].values()) == {SENT}  # the code is gone
    assert [m.template for m in senders.notify.sent] == ["signup_code"]
