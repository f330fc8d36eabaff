"""Subscriptions: where they may point (names resolved), what deleting and resuming do."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta

import pytest

from app.domain.access import Scope
from app.domain.errors import DomainError, ErrorCode
from app.domain.outbox import EventKind, EventState, Target
from app.domain.webhooks import IpAddress, SubscriptionState
from app.models.outbox import OutboxEvent
from app.models.partners import WebhookSubscription
from app.services.partners import subscriptions
from app.services.partners.subscriptions import UrlRules
from tests import factories

NOW = datetime.now(UTC).replace(microsecond=0)
KEY = "a-server-key"


def _resolving(*addresses: str) -> UrlRules:
    async def resolver(host: str, port: int) -> list[IpAddress]:
        return [ipaddress.ip_address(a) for a in addresses]

    return UrlRules(require_https=True, allow_loopback=False, resolver=resolver)


async def _create(partner: int, url: str, rules: UrlRules, key: str = KEY) -> int:
    made = await subscriptions.create_subscription(
        partner_id=partner,
        url=url,
        events=[EventKind.ORDER_PAID],
        collection_guid=None,
        scopes=frozenset({Scope.ORDERS_READ}),
        rules=rules,
        key=key,
        now=NOW,
    )
    return made.subscription.id


async def _refused(work: object) -> DomainError:
    with pytest.raises(DomainError) as error:
        await work  # type: ignore[misc]
    return error.value


async def test_a_public_https_receiver_is_accepted(db: str) -> None:
    partner = await factories.partner()

    number = await _create(partner, "https://hooks.partner.example/in", _resolving("93.184.216.34"))

    row = await WebhookSubscription.get(id=number)
    assert (row.url, row.events, row.state) == (
        "https://hooks.partner.example/in",
        ["order.paid"],
        SubscriptionState.ACTIVE,
    )


async def test_a_name_resolving_into_our_network_or_plain_http_is_refused(db: str) -> None:
    partner = await factories.partner()
    cases = [
        ("https://hooks.partner.example/", _resolving("93.184.216.34", "10.0.0.3")),
        ("https://metadata.partner.example/", _resolving("169.254.169.254")),
        ("https://localhost/", _resolving("127.0.0.1")),
        ("http://hooks.partner.example/", _resolving("93.184.216.34")),
    ]
    messages = []
    for url, rules in cases:
        refused = await _refused(_create(partner, url, rules))
        assert (refused.code, refused.path) == (ErrorCode.INVALID, ("url",))
        messages.append(refused.message)

    assert messages == [
        "hooks.partner.example resolves to a private or reserved address (10.0.0.3)",
        "metadata.partner.example resolves to a link-local address (169.254.169.254)",
        "localhost resolves to a loopback address (127.0.0.1)",
        "the URL must use https",
    ]
    assert await WebhookSubscription.all().count() == 0


async def test_without_a_server_key_nothing_can_be_subscribed(db: str) -> None:
    partner = await factories.partner()

    refused = await _refused(
        _create(partner, "https://h.example/", _resolving("93.184.216.34"), "")
    )

    assert refused.message == "webhooks are not set up: PARTNER_SECRET_KEY"
    assert await WebhookSubscription.all().count() == 0


async def _event(number: int, state: EventState, n: int, due: datetime) -> None:
    await OutboxEvent.create(
        event_id=f"00000000-0000-4000-8000-{n:012d}",
        target=Target.PARTNER,
        aggregate=f"partner:{number}:order:o-{n}",
        kind=EventKind.ORDER_PAID,
        payload={"id": f"o-{n}"},
        state=state,
        attempts=3,
        next_attempt_at=due,
        created_at=NOW,
    )


async def test_deleting_drops_what_was_not_received_and_keeps_the_history(db: str) -> None:
    partner = await factories.partner()
    number, _ = await factories.subscription(partner, "http://127.0.0.1:9/h", "order.paid")
    other, _ = await factories.subscription(partner, "http://127.0.0.1:9/h", "order.paid")
    for n, state in enumerate([EventState.PENDING, EventState.DEAD, EventState.DELIVERED]):
        await _event(number, state, n, NOW)
    await _event(other, EventState.PENDING, 9, NOW)

    assert await subscriptions.delete_subscription(partner_id=partner, subscription_id=str(number))

    left = await OutboxEvent.all().order_by("id").values_list("aggregate", "state")
    assert left == [
        (f"partner:{number}:order:o-2", EventState.DELIVERED),
        (f"partner:{other}:order:o-9", EventState.PENDING),
    ]
    assert await WebhookSubscription.filter(id=number).count() == 0


async def test_resuming_forgets_the_failures_and_sends_what_waits_at_once(db: str) -> None:
    partner = await factories.partner()
    number, _ = await factories.subscription(partner, "http://127.0.0.1:9/h", "order.paid")
    await _event(number, EventState.PENDING, 1, NOW + timedelta(hours=1))
    await _event(number, EventState.DEAD, 2, NOW + timedelta(hours=1))
    await WebhookSubscription.filter(id=number).update(
        state=SubscriptionState.PAUSED,
        failure_streak=40,
        failing_since=NOW - timedelta(days=1),
        resting_until=NOW + timedelta(minutes=5),
        paused_at=NOW,
        pause_reason="no event accepted",
    )
    later = NOW + timedelta(minutes=1)

    row = await subscriptions.resume(partner_id=partner, subscription_id=str(number), now=later)

    assert (row.state, row.failure_streak, row.failing_since, row.resting_until) == (
        SubscriptionState.ACTIVE,
        0,
        None,
        None,
    )
    assert (row.paused_at, row.pause_reason) == (None, "")
    dues = await OutboxEvent.all().order_by("id").values_list("state", "next_attempt_at")
    assert dues == [
        (EventState.PENDING, later),
        (EventState.DEAD, NOW + timedelta(hours=1)),  # a dead letter waits for its replay
    ]
