"""A returning customer RetailCRM holds as she is costs no call: the client remembers, in redis,
what RetailCRM took last of each customer, and forgets it whenever a write fails."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from app.devtools.simulators.retailcrm import RetailCrmSimulator
from app.domain.coalescing import CustomerUpsert
from app.integrations.errors import RejectedError
from app.integrations.retailcrm.client import RetailCrmClient
from app.integrations.retailcrm.known import RedisKnownCustomers, digest
from app.integrations.retailcrm.mapping import customer_payload
from tests.integrations import records
from tests.services.outbox.drop import in_memory_crm


@pytest.fixture
async def known(redis_url: str) -> AsyncIterator[RedisKnownCustomers]:
    memory = RedisKnownCustomers(redis_url, f"key-{uuid.uuid4().hex}")  # never flushed here
    yield memory
    await memory.aclose()


@pytest.fixture
async def crm(
    known: RedisKnownCustomers,
) -> AsyncIterator[tuple[RetailCrmSimulator, RetailCrmClient]]:
    async with in_memory_crm(known) as pair:
        yield pair


def _upsert(name: str, **changes: object) -> CustomerUpsert:
    record = records.customer(name, **changes)
    return CustomerUpsert(record.guid, (record,), (f"customer:{record.guid}",))


def _paths(sim: RetailCrmSimulator) -> list[str]:
    return [entry.path.removeprefix("/api/v5/") for entry in sim.requests]


async def test_a_digest_matches_the_same_fields_only(known: RedisKnownCustomers) -> None:
    anna = customer_payload(records.customer())
    await known.remember({"g": anna})
    assert await known.unchanged({"g": anna}) == {"g"}
    assert await known.unchanged({"g": {**anna, "lastName": "Иванова"}}) == set()
    assert digest(anna) == digest(dict(reversed(anna.items())))  # key order does not matter
    await known.forget(["g"])
    assert await known.unchanged({"g": anna}) == set()


async def test_redis_out_of_reach_knows_nothing_and_fails_nothing() -> None:
    known = RedisKnownCustomers("redis://127.0.0.1:1/0", "k")
    payload = customer_payload(records.customer())
    await known.remember({"g": payload})
    assert await known.unchanged({"g": payload}) == set()
    await known.forget(["g"])
    await known.aclose()


async def test_customers_sent_again_unchanged_cost_no_call(
    crm: tuple[RetailCrmSimulator, RetailCrmClient],
) -> None:
    sim, client = crm
    customers = [_upsert(f"c{n}") for n in range(3)]
    await client.upload_customers(customers)
    again = await client.upload_customers([*customers, _upsert("new")])
    assert again.created == {c.guid for c in customers} | {_upsert("new").guid}
    assert _paths(sim) == ["customers/upload", "customers/upload"]
    assert len(sim.requests[1].body) < len(sim.requests[0].body)  # only the new one went
    assert (await client.upload_customers(customers)).created == {c.guid for c in customers}
    assert len(sim.requests) == 2  # nothing to send: no call


async def test_a_changed_customer_is_sent_and_remembered_as_edited(
    crm: tuple[RetailCrmSimulator, RetailCrmClient],
) -> None:
    sim, client = crm
    await client.upload_customers([_upsert("anna")])
    renamed = _upsert("anna", last_name="Иванова")
    answer = await client.upload_customers([renamed])
    assert answer.existing == {renamed.guid}
    await client.edit_customer(renamed)
    assert (await client.upload_customers([renamed])).created == {renamed.guid}
    assert _paths(sim) == ["customers/upload", "customers/upload", f"customers/{renamed.guid}/edit"]
    assert sim.state.customers[renamed.guid]["lastName"] == "Иванова"


async def test_a_failed_write_forgets_the_customer(
    crm: tuple[RetailCrmSimulator, RetailCrmClient], known: RedisKnownCustomers
) -> None:
    sim, client = crm
    anna = _upsert("anna")
    await client.upload_customers([anna])
    payload = customer_payload(anna.snapshots[0])
    sim.reject(anna.guid)
    with pytest.raises(RejectedError):
        await client.upsert_customer(anna.snapshots[0])
    assert await known.unchanged({anna.guid: payload}) == set()
    sim.reset_faults()
    await client.upload_customers([anna])  # RetailCRM says it exists: it is edited, not skipped
    assert _paths(sim)[-1] == "customers/upload"
