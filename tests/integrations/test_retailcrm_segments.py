"""A segment export's calls against the RetailCRM simulator over real HTTP: customers/upload
of members with the segment's field (201, or 460 naming what failed), and the edit of one."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from urllib.parse import parse_qs

import httpx
import pytest

from app.devtools.simulators.retailcrm import RetailCrmSimulator
from app.devtools.simulators.server import LocalServer
from app.domain.consents import MarketingChannel, SystemIds
from app.domain.segment_export import Member
from app.integrations.errors import RejectedError
from app.integrations.retailcrm.client import RetailCrmClient
from tests.integrations.stands import Front

KEY, SITE = "crm-key", "lin-i-les"


@pytest.fixture(scope="module")
async def stand() -> AsyncIterator[tuple[LocalServer, Front]]:
    front = Front()
    async with LocalServer(front) as server:
        yield server, front


@pytest.fixture
def sim(stand: tuple[LocalServer, Front]) -> RetailCrmSimulator:
    simulator = RetailCrmSimulator(api_key=KEY, site=SITE)
    stand[1].app = simulator.app
    return simulator


@pytest.fixture
async def crm(
    stand: tuple[LocalServer, Front], sim: RetailCrmSimulator
) -> AsyncIterator[RetailCrmClient]:
    url = stand[0].url + sim.base_path
    async with RetailCrmClient(url, KEY, SITE, timeout=2.0, max_rps=1000) as client:
        yield client


def _member(n: int) -> Member:
    return Member(n, SystemIds(f"g-{n}"), f"+7916100000{n}")


async def test_an_upload_creates_new_members_and_names_the_existing_and_the_refused(
    sim: RetailCrmSimulator, crm: RetailCrmClient
) -> None:
    # given RetailCRM has member 2 and refuses member 3
    sim.state.customers["g-2"] = {"externalId": "g-2", "id": 99}
    sim.reject("g-3")

    answer = await crm.upload_segment_members(
        "vip", MarketingChannel.SMS, [_member(n) for n in (1, 2, 3)]
    )

    # then the client sorts them as RetailCRM answered: 460, created / exists / failed
    assert (answer.created, answer.existing, list(answer.failed)) == (
        frozenset({"g-1"}),
        frozenset({"g-2"}),
        ["g-3"],
    )
    assert sim.requests[-1].status == 460
    sent = json.loads(parse_qs(sim.requests[-1].body.decode())["customers"][0])
    assert sent[0] == {
        "externalId": "g-1",
        "phones": [{"number": "+79161000001"}],
        "customFields": {"vip": True},
    }
    assert sim.state.customers["g-1"]["customFields"] == {"vip": True}
    assert "customFields" not in sim.state.customers["g-2"]  # an upload never edits


async def test_the_simulator_answers_a_partly_failed_upload_as_retailcrm_does(
    sim: RetailCrmSimulator,
) -> None:
    # given RetailCRM has g-2
    sim.state.customers["g-2"] = {"externalId": "g-2", "id": 99}
    customers = [{"externalId": g, "customFields": {"vip": True}} for g in ("g-1", "g-2")]
    form = {"customers": json.dumps(customers), "site": SITE}

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sim.app), base_url="http://crm/api/v5"
    ) as http:
        answer = await http.post("/customers/upload", data=form, headers={"X-API-KEY": KEY})

    # then 460: what was created with its id, what failed, and errors naming no entity but
    # the existing externalId
    created = sim.state.customers["g-1"]["id"]
    assert answer.status_code == 460
    assert answer.json() == {
        "success": False,
        "uploadedCustomers": [{"id": created, "externalId": "g-1"}],
        "failedCustomers": [{"externalId": "g-2"}],
        "errorMsg": "Customers are loaded with errors",
        "errors": ["externalId: Customer with externalId=g-2 already exists."],
    }


async def test_marking_one_member_sets_only_the_segment_field_and_404s_an_unknown_one(
    sim: RetailCrmSimulator, crm: RetailCrmClient
) -> None:
    sim.state.customers["g-2"] = {"externalId": "g-2", "id": 99, "firstName": "Ann"}

    await crm.mark_segment_member("99", "id", "vip")
    with pytest.raises(RejectedError) as unknown:
        await crm.mark_segment_member("g-9", "externalId", "vip")

    assert sim.state.customers["g-2"] == {
        "externalId": "g-2",
        "id": 99,
        "firstName": "Ann",
        "customFields": {"vip": True},
    }
    assert unknown.value.status == 404
