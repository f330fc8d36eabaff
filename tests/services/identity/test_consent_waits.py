"""A consent for a customer RetailCRM does not have yet waits for the event creating them,
uncharged, however long that event is delayed: it is released when that event is delivered,
and reaches RetailCRM once, after the customer. A creation that is a dead letter parks it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from tortoise.transactions import in_transaction

from app.devtools.simulators.retailcrm import RetailCrmSimulator
from app.devtools.simulators.server import LocalServer
from app.domain.consents import ConsentPurpose, ConsentSource, MarketingChannel
from app.domain.identity import CustomerSource
from app.domain.outbox import EventKind, EventState, RetryPolicy, Target
from app.integrations.retailcrm.client import RetailCrmClient
from app.models.customers import Customer
from app.models.identity import IdentityRecord
from app.models.orders import Order
from app.models.outbox import OutboxEvent
from app.services.identity.consents import Proof, record_consent
from app.services.identity.delivery import WAITING
from app.services.outbox.delivery import Senders, deliver_aggregate
from app.services.outbox.retailcrm_batches import deliver_retailcrm
from tests.conftest import Clock
from tests.integrations.stands import Front
from tests.services.identity.helpers import BOOTS_38, catalog, site_order

pytestmark = pytest.mark.usefixtures("db")
POLICY = RetryPolicy(base=timedelta(seconds=1), cap=timedelta(seconds=60), max_attempts=3)
PROOF = Proof(source=ConsentSource.SITE, text_version="v1", device="ua", actor="me")


@pytest.fixture(scope="module")
async def stand() -> AsyncIterator[tuple[LocalServer, Front]]:
    front = Front()
    async with LocalServer(front) as server:
        yield server, front


async def _order_then_consent(clock: Clock) -> tuple[Order, str, str]:
    """A site order RetailCRM has not had yet (its event pending), then an e-mail consent:
    (the order, its customer's GUID, the consent's aggregate)."""
    await catalog()
    order = await site_order("ann@mail.ru", BOOTS_38)
    site = await IdentityRecord.get(customer_id=order.customer_id, source=CustomerSource.SITE)
    async with in_transaction() as conn:
        for purpose, channel in (
            (ConsentPurpose.PERSONAL_DATA, None),
            (ConsentPurpose.MARKETING, MarketingChannel.EMAIL),
        ):
            await record_consent(
                conn,
                record_id=site.id,
                purpose=purpose,
                channel=channel,
                granted=True,
                proof=PROOF,
                now=clock(),
            )
    guid = str((await Customer.get(id=order.customer_id)).guid)
    consent = await OutboxEvent.filter(target=Target.RETAILCRM, kind=EventKind.CONSENT_CHANGED)
    return order, guid, consent[0].aggregate


def _consent_edits(sim: RetailCrmSimulator, guid: str) -> list[int]:
    return [
        r.seq
        for r in sim.requests
        if r.path.endswith(f"/customers/{guid}/edit") and b"customerSubscriptions" in r.body
    ]


def _creations(sim: RetailCrmSimulator) -> list[int]:
    return [
        r.seq
        for r in sim.requests
        if r.path.endswith(("/customers/upload", "/customers/create")) and r.status == 201
    ]


async def test_a_creation_delayed_past_the_retry_limit_lands_the_consent_once_after_it(
    stand: tuple[LocalServer, Front], clock: Clock
) -> None:
    # given the order creating the customer backs off for two hours (RetailCRM refused it)
    sim = RetailCrmSimulator(api_key="k", site="s")
    stand[1].app = sim.app
    order, guid, privacy = await _order_then_consent(clock)
    await OutboxEvent.filter(aggregate=f"order:{order.guid}").update(
        next_attempt_at=clock() + timedelta(hours=2)
    )
    url = stand[0].url + sim.base_path
    async with RetailCrmClient(url, "k", "s", timeout=2.0, max_rps=1000) as crm:
        senders = Senders(retailcrm=crm)
        # when the worker passes far more often than the consent's retry limit
        for _ in range(POLICY.max_attempts * 3):
            await deliver_retailcrm(senders=senders, policy=POLICY, clock=clock)
            clock.advance(minutes=2)
        waiting = await OutboxEvent.filter(aggregate=privacy, target=Target.RETAILCRM).order_by(
            "id"
        )
        # then the consents wait, uncharged, without a call to RetailCRM
        assert [(e.state, e.attempts) for e in waiting] == [
            (EventState.PENDING, 0),
            (EventState.PENDING, 0),
        ]
        assert waiting[0].last_error.startswith(f"{WAITING}{guid}: event ")
        assert sim.requests == []

        # when the order's time comes: it is delivered, which releases the consents
        clock.advance(hours=2)
        for _ in range(3):
            await deliver_retailcrm(senders=senders, policy=POLICY, clock=clock)

    rows = await OutboxEvent.filter(target=Target.RETAILCRM).order_by("id")
    assert {(r.kind, r.state) for r in rows} == {
        (EventKind.ORDER_PLACED, EventState.DELIVERED),
        (EventKind.CONSENT_CHANGED, EventState.DELIVERED),
    }
    consents = [r for r in rows if r.kind is EventKind.CONSENT_CHANGED]
    assert [r.attempts for r in consents] == [1, 1]
    # each consent event reached RetailCRM once, after the customer was created
    edits = _consent_edits(sim, guid)
    assert len(edits) == 2
    assert len(_creations(sim)) == 1
    assert _creations(sim)[0] < edits[0]
    stored = sim.state.customers[guid]
    assert [(s["channel"], s["subscribed"]) for s in stored["customerSubscriptions"]] == [
        ("email", True)
    ]


async def test_delivering_the_creation_releases_the_waiting_consent_at_once(
    stand: tuple[LocalServer, Front], clock: Clock
) -> None:
    # given a consent waiting for its customer's order
    sim = RetailCrmSimulator(api_key="k", site="s")
    stand[1].app = sim.app
    order, guid, privacy = await _order_then_consent(clock)
    url = stand[0].url + sim.base_path
    async with RetailCrmClient(url, "k", "s", timeout=2.0, max_rps=1000) as crm:
        senders = Senders(retailcrm=crm)
        first = await deliver_aggregate(
            target=Target.RETAILCRM, aggregate=privacy, senders=senders, policy=POLICY, clock=clock
        )
        head = (
            await OutboxEvent.filter(aggregate=privacy, target=Target.RETAILCRM)
            .order_by("id")
            .first()
        )
        assert head is not None
        assert head.next_attempt_at > clock()
        # when the order is delivered (one by one)
        await deliver_aggregate(
            target=Target.RETAILCRM,
            aggregate=f"order:{order.guid}",
            senders=senders,
            policy=POLICY,
            clock=clock,
        )
        # then the consent is due now, and goes without waiting for its own clock
        released = await OutboxEvent.get(id=head.id)
        assert released.next_attempt_at == clock()
        late = await deliver_aggregate(
            target=Target.RETAILCRM, aggregate=privacy, senders=senders, policy=POLICY, clock=clock
        )

    assert (first.delivered, late.delivered) == (0, 2)
    assert len(_consent_edits(sim, guid)) == 2


async def test_a_consent_whose_creation_is_a_dead_letter_is_parked_naming_it(
    stand: tuple[LocalServer, Front], clock: Clock
) -> None:
    # given the order that would create the customer in RetailCRM is a dead letter
    sim = RetailCrmSimulator(api_key="k", site="s")
    stand[1].app = sim.app
    order, guid, privacy = await _order_then_consent(clock)
    await OutboxEvent.filter(aggregate=f"order:{order.guid}", target=Target.RETAILCRM).update(
        state=EventState.DEAD
    )
    dead = await OutboxEvent.get(aggregate=f"order:{order.guid}", target=Target.RETAILCRM)

    async with RetailCrmClient(stand[0].url + sim.base_path, "k", "s", max_rps=1000) as crm:
        outcome = await deliver_aggregate(
            target=Target.RETAILCRM,
            aggregate=privacy,
            senders=Senders(retailcrm=crm),
            policy=POLICY,
            clock=clock,
        )

    # then the first consent is parked with the reason (and the next waits behind it)
    rows = await OutboxEvent.filter(aggregate=privacy, target=Target.RETAILCRM).order_by("id")
    assert outcome.delivered == 0
    assert [r.state for r in rows] == [EventState.DEAD, EventState.PENDING]
    assert rows[0].last_error == (
        f"RetailCRM has no customer {guid} and the event creating them there (id {dead.id})"
        " is a dead letter: replay it, then this one"
    )
    assert rows[0].response_status == 404
    assert sim.state.customers == {}
