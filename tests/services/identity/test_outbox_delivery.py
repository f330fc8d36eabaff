"""A shopper's consent change and a segment export leave through the outbox: RetailCRM's
batching pass sends them one call each (never batched, never parked as unreadable), and 1C
hears the consents under the customer's GUID."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from tortoise.transactions import in_transaction

from app.devtools.simulators.onec import OneCSimulator
from app.devtools.simulators.retailcrm import RetailCrmSimulator
from app.devtools.simulators.server import LocalServer
from app.domain.consents import ConsentPurpose, ConsentSource, MarketingChannel
from app.domain.identity import CustomerSource
from app.domain.outbox import EventState, RetryPolicy, Target
from app.domain.segments import Lapsed, Segment
from app.integrations.onec.client import OneCClient
from app.integrations.retailcrm.client import RetailCrmClient
from app.models.outbox import OutboxEvent
from app.services.identity.consents import Proof, record_consent
from app.services.identity.observe import observe_customer
from app.services.identity.segments import export_segment
from app.services.outbox.delivery import Senders, deliver_aggregate
from app.services.outbox.retailcrm_batches import deliver_retailcrm
from tests.conftest import Clock
from tests.integrations.stands import Front
from tests.services.identity.helpers import BOOTS_38, catalog, shop_purchase

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
