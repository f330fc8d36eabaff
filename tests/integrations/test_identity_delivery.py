"""Consents, erasure and segment members reach the 1C and RetailCRM simulators over real HTTP,
in the shapes they check."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from app.devtools.simulators.onec import OneCSimulator
from app.devtools.simulators.retailcrm import RetailCrmSimulator
from app.devtools.simulators.server import LocalServer
from app.domain.consents import (
    ChannelSubscription,
    ConsentRecord,
    ErasureRecord,
    MarketingChannel,
    SegmentMemberRecord,
    SystemIds,
)
from app.integrations.onec.client import OneCClient
from app.integrations.retailcrm.client import RetailCrmClient
from tests.integrations import records
from tests.integrations.stands import Front

AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
IDS = SystemIds(records.CUSTOMER, ("cp-1",), ())
CONSENT = ConsentRecord(
    IDS, True, (ChannelSubscription(MarketingChannel.EMAIL, False, AT),), AT, AT
)


@pytest.fixture(scope="module")
async def stand() -> AsyncIterator[tuple[LocalServer, Front]]:
    front = Front()
    async with LocalServer(front) as server:
        yield server, front


async def test_1c_hears_consents_and_erasure_under_our_guid(
    stand: tuple[LocalServer, Front],
) -> None:
    sim = OneCSimulator("u", "p")
    stand[1].app = sim.app
    async with OneCClient(stand[0].url + sim.base_path, "u", "p", timeout=2.0) as onec:
        await onec.put_customer(records.customer(), event_id="e-0")
        await onec.put_consents(CONSENT, event_id="e-1")
        await onec.put_erasure(ErasureRecord(IDS, AT), event_id="e-2")

    assert sim.state.consents[records.CUSTOMER] == {
        "counterparties": ["cp-1"],
        "personalData": True,
        "marketing": {"email": False},
        "changedAt": "2026-12-01T09:00:00.000Z",
    }
    assert sim.state.erased[records.CUSTOMER]["erasedAt"] == "2026-12-01T09:00:00.000Z"
    customer = sim.state.customers[records.CUSTOMER]
    assert (customer["firstName"], customer["email"], customer["phone"]) == ("", None, None)


async def test_retailcrm_hears_subscriptions_a_segment_and_an_erasure(
    stand: tuple[LocalServer, Front],
) -> None:
    sim = RetailCrmSimulator(api_key="k", site="s")
    stand[1].app = sim.app
    async with RetailCrmClient(stand[0].url + sim.base_path, "k", "s", max_rps=1000.0) as crm:
        await crm.upsert_customer(records.customer())
        await crm.put_consents(CONSENT)
        member = SegmentMemberRecord("x", "winter_boots", MarketingChannel.EMAIL, IDS, "a@b.ru")
        await crm.put_segment_member(member)
        await crm.erase_customer(ErasureRecord(IDS, AT))
        # a person RetailCRM never had: nothing to change, nothing refused
        await crm.put_consents(ConsentRecord(SystemIds("no-such", (), ()), False, (), AT, AT))

    stored = sim.state.customers[records.CUSTOMER]
    assert stored["customerSubscriptions"] == []  # the erasure came last
    assert stored["customFields"] == {"winter_boots": True}
    assert (stored["firstName"], stored["email"], stored["phones"]) == ("", "", [])
    assert stored["emailMarketingUnsubscribedAt"] == "2026-12-01 12:00:00"  # Moscow time
