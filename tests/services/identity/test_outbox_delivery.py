"""A shopper's consent change and a segment export leave through the outbox: RetailCRM's
batching pass sends them one call each (never batched, never parked as unreadable), and 1C
hears the consents under the customer's GUID."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from tortoise.transactions import in_transaction

from app.devtools.simulators.onec import OneCSimulator
from app.devtools.simulators.retailcrm import RetailCrmSimulator
from app.devtools.simulators.server import LocalServer
from app.domain.consents import (
    ConsentPurpose,
    ConsentRecord,
    ConsentSource,
    ErasureRecord,
    MarketingChannel,
    SegmentMemberRecord,
)
from app.domain.identity import CustomerSource
from app.domain.outbox import EventKind, EventState, RetryPolicy, Target
from app.domain.segments import Lapsed, Segment
from app.integrations.onec.client import OneCClient
from app.integrations.retailcrm.client import RetailCrmClient
from app.models.customers import Customer
from app.models.identity import IdentityRecord
from app.models.orders import Order
from app.models.outbox import OutboxEvent
from app.services.identity.consents import Proof, record_consent
from app.services.identity.delivery import CustomerNotInRetailCrmYet, to_retailcrm
from app.services.identity.observe import observe_customer
from app.services.identity.segments import export_segment
from app.services.outbox.delivery import Senders, deliver_aggregate
from app.services.outbox.retailcrm_batches import deliver_retailcrm
from tests.conftest import Clock
from tests.integrations.stands import Front
from tests.services.identity.helpers import BOOTS_38, catalog, shop_purchase, site_order

pytestmark = pytest.mark.usefixtures("db")
POLICY = RetryPolicy(base=timedelta(seconds=1), cap=timedelta(seconds=60), max_attempts=3)
PROOF = Proof(source=ConsentSource.SHOP, text_version="v1", device="shop-a", actor="1c")


@pytest.fixture(scope="module")
async def stand() -> AsyncIterator[tuple[LocalServer, Front]]:
    front = Front()
    async with LocalServer(front) as server:
        yield server, front


async def _consenting_customer_with_a_crm_id(clock: Clock) -> int:
    record = await shop_purchase("5001", BOOTS_38, ref="r-1", at=clock(), email="ann@mail.ru")
    async with in_transaction() as conn:
        await observe_customer(
            conn,
            source=CustomerSource.RETAILCRM,
            external_id="1",
            now=clock(),
            actor="crm",
            loyalty_card="5001",
            retailcrm_id="1",
        )
        for purpose, channel in (
            (ConsentPurpose.PERSONAL_DATA, None),
            (ConsentPurpose.MARKETING, MarketingChannel.EMAIL),
        ):
            await record_consent(
                conn,
                record_id=record,
                purpose=purpose,
                channel=channel,
                granted=True,
                proof=PROOF,
                now=clock(),
            )
    return record


async def test_consents_and_a_segment_member_reach_retailcrm_one_call_each(
    stand: tuple[LocalServer, Front], clock: Clock
) -> None:
    sim = RetailCrmSimulator(api_key="k", site="s")
    stand[1].app = sim.app
    await catalog()
    await _consenting_customer_with_a_crm_id(clock)
    sim.state.customers["x"] = {"externalId": "x", "id": 1}  # RetailCRM's customer id 1
    export = await export_segment(
        segment=Segment((Lapsed(days=1),)),
        code="winter",
        channel=MarketingChannel.EMAIL,
        actor="crm",
        now=clock() + timedelta(days=2),
    )
    assert export.exported == 1
    clock.advance(days=3)
    url = stand[0].url + sim.base_path
    async with RetailCrmClient(url, "k", "s", timeout=2.0, max_rps=1000) as crm:
        for _ in range(3):
            await deliver_retailcrm(senders=Senders(retailcrm=crm), policy=POLICY, clock=clock)

    rows = await OutboxEvent.filter(target=Target.RETAILCRM).order_by("id")
    assert {r.state for r in rows} == {EventState.DELIVERED}
    stored = sim.state.customers["x"]
    assert stored["customFields"] == {"winter": True}
    assert [s["subscribed"] for s in stored["customerSubscriptions"]] == [True]


async def test_1c_hears_the_consents_of_a_counterparty(
    stand: tuple[LocalServer, Front], clock: Clock
) -> None:
    sim = OneCSimulator("u", "p")
    stand[1].app = sim.app
    await catalog()
    record = await shop_purchase("5001", BOOTS_38, ref="r-1", at=clock())
    async with in_transaction() as conn:
        await observe_customer(
            conn,
            source=CustomerSource.ONEC,
            external_id="cp-1",
            now=clock(),
            actor="1c",
            loyalty_card="5001",
            onec_guid="cp-1",
        )
        await record_consent(
            conn,
            record_id=record,
            purpose=ConsentPurpose.PERSONAL_DATA,
            channel=None,
            granted=True,
            proof=PROOF,
            now=clock(),
        )
    aggregate = (await OutboxEvent.filter(target=Target.ONEC).first()).aggregate  # type: ignore[union-attr]

    async with OneCClient(stand[0].url + sim.base_path, "u", "p", timeout=2.0) as onec:
        outcome = await deliver_aggregate(
            target=Target.ONEC,
            aggregate=aggregate,
            senders=Senders(onec=onec),
            policy=POLICY,
            clock=clock,
        )

    assert outcome.delivered == 1
    assert sim.state.consents["cp-1"]["personalData"] is True


async def _a_site_customer_who_subscribes(clock: Clock) -> tuple[Order, str]:
    """A site order RetailCRM has not had yet (its event pending), then an e-mail consent."""
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
    consent = await OutboxEvent.filter(
        target=Target.RETAILCRM, kind=EventKind.CONSENT_CHANGED
    ).order_by("-id")
    return order, consent[0].aggregate


async def test_a_consent_for_a_customer_retailcrm_has_not_seen_lands_once_they_exist(
    stand: tuple[LocalServer, Front], clock: Clock
) -> None:
    sim = RetailCrmSimulator(api_key="k", site="s")
    stand[1].app = sim.app
    order, privacy = await _a_site_customer_who_subscribes(clock)
    guid = (await Customer.get(id=order.customer_id)).guid
    url = stand[0].url + sim.base_path
    async with RetailCrmClient(url, "k", "s", timeout=2.0, max_rps=1000) as crm:
        senders = Senders(retailcrm=crm)
        early = await deliver_aggregate(
            target=Target.RETAILCRM, aggregate=privacy, senders=senders, policy=POLICY, clock=clock
        )
        waiting = await OutboxEvent.filter(aggregate=privacy, target=Target.RETAILCRM).order_by(
            "id"
        )
        assert early.delivered == 0
        assert guid not in sim.state.customers
        # the first waits for the customer (uncharged, RetailCRM not called), the second
        # behind it (in order)
        assert [(e.state, e.attempts) for e in waiting] == [
            (EventState.PENDING, 0),
            (EventState.PENDING, 0),
        ]
        assert "creating them is pending" in waiting[0].last_error

        await deliver_aggregate(
            target=Target.RETAILCRM,
            aggregate=f"order:{order.guid}",
            senders=senders,
            policy=POLICY,
            clock=clock,
        )
        clock.advance(minutes=1)
        late = await deliver_aggregate(
            target=Target.RETAILCRM, aggregate=privacy, senders=senders, policy=POLICY, clock=clock
        )

    assert late.delivered == 2  # the personal-data consent, then the e-mail one
    stored = sim.state.customers[guid]
    assert [(s["channel"], s["subscribed"]) for s in stored["customerSubscriptions"]] == [
        ("email", True)
    ]


async def test_a_consent_for_a_customer_retailcrm_will_never_hear_of_is_skipped_there(
    stand: tuple[LocalServer, Front], clock: Clock
) -> None:
    sim = RetailCrmSimulator(api_key="k", site="s")
    stand[1].app = sim.app
    order, privacy = await _a_site_customer_who_subscribes(clock)
    await OutboxEvent.filter(
        aggregate=f"order:{order.guid}", target=Target.RETAILCRM
    ).delete()  # the order will never reach RetailCRM: nothing on its way

    async with RetailCrmClient(stand[0].url + sim.base_path, "k", "s", max_rps=1000) as crm:
        outcome = await deliver_aggregate(
            target=Target.RETAILCRM,
            aggregate=privacy,
            senders=Senders(retailcrm=crm),
            policy=POLICY,
            clock=clock,
        )

    assert outcome.delivered == 2
    assert sim.state.customers == {}


class _CrmCreatingTheCustomerDuringTheCall:
    """RetailCRM answers 404 for our customer while an upsert of theirs is written meanwhile."""

    async def put_consents(self, record: ConsentRecord) -> list[str]:
        guid = record.ids.customer_guid or ""
        now = datetime.now(UTC)
        await OutboxEvent.create(
            event_id=str(uuid.uuid4()),
            target=Target.RETAILCRM,
            aggregate=f"customer:{guid}",
            kind=EventKind.CUSTOMER_UPSERTED,
            payload={},
            next_attempt_at=now,
            created_at=now,
        )
        return [guid]

    async def erase_customer(self, record: ErasureRecord) -> None:
        raise AssertionError("not called")

    async def put_segment_member(self, record: SegmentMemberRecord) -> None:
        raise AssertionError("not called")


async def test_a_customer_created_while_retailcrm_answered_404_is_waited_for(
    clock: Clock,
) -> None:
    order, privacy = await _a_site_customer_who_subscribes(clock)
    await OutboxEvent.filter(aggregate=f"order:{order.guid}").delete()  # none before the call
    consent = await OutboxEvent.filter(aggregate=privacy, target=Target.RETAILCRM).first()
    assert consent is not None

    with pytest.raises(CustomerNotInRetailCrmYet):
        await to_retailcrm(_CrmCreatingTheCustomerDuringTheCall(), consent.kind, consent.payload)
