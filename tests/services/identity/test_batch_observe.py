"""Observing a batch of records at once gives the profiles observing them one by one gives,
in a few statements; changes, repeats and concurrent batches included."""

from __future__ import annotations

import asyncio

import pytest
from tortoise.transactions import in_transaction

from app.db import is_sqlite
from app.domain.identity import CustomerSource, LinkRemoval, components
from app.models.identity import IdentityLink, IdentityRecord
from app.services.identity.batch import Sighting, observe_customers
from app.services.identity.observe import observe_customer
from tests.conftest import empty_tables
from tests.services.identity.helpers import NOW

pytestmark = pytest.mark.usefixtures("db")
SHOP = "+79169000001"


def _people() -> list[Sighting]:
    till, site, crm, onec = (
        CustomerSource.SHOP_TILL,
        CustomerSource.SITE,
        CustomerSource.RETAILCRM,
        CustomerSource.ONEC,
    )
    return [
        Sighting(source=site, external_id="s-1", phone="+79161000001", phone_verified=True),
        Sighting(
            source=till, external_id="c-1", phone="8 (916) 100-00-01", loyalty_card="C1234567"
        ),
        Sighting(source=onec, external_id="g-1", loyalty_card="C1234567", onec_guid="g-1"),
        Sighting(source=till, external_id="c-2", phone="+79161000002"),
        Sighting(source=crm, external_id="77", phone="+79161000002"),  # a suggestion only
        *(Sighting(source=till, external_id=f"x-{n}", phone=SHOP) for n in range(7)),
        Sighting(source=site, external_id="staff", phone=SHOP, phone_verified=True),
    ]


async def _groups() -> set[frozenset[str]]:
    rows = await IdentityRecord.all().values_list("id", "profile_id", "external_id")
    out: dict[int, set[str]] = {}
    for _, profile, key in rows:
        out.setdefault(int(profile), set()).add(str(key))
    return {frozenset(g) for g in out.values()}


async def _assert_forest() -> None:
    records = await IdentityRecord.all().values_list("id", "profile_id")
    links = await IdentityLink.filter(removed_at=None).values_list("left_id", "right_id")
    expected = components([int(i) for i, _ in records], [(int(a), int(b)) for a, b in links])
    assert {int(i): int(p) for i, p in records} == expected


async def test_a_batch_makes_the_profiles_one_by_one_observation_makes() -> None:
    async with in_transaction() as conn:
        for s in _people():
            await observe_customer(
                conn, now=NOW, actor="t", customer_id=None, source=s.source,
                external_id=s.external_id, **s.wanted(),
            )  # fmt: skip
    one_by_one = await _groups()
    await empty_tables()

    async with in_transaction() as conn:
        ids = await observe_customers(conn, _people(), now=NOW, actor="t")

    assert await _groups() == one_by_one
    assert one_by_one >= {frozenset({"s-1", "c-1", "g-1"}), frozenset({"c-2"}), frozenset({"77"})}
    assert len(set(ids)) == len(ids) == await IdentityRecord.all().count()
    await _assert_forest()


async def test_a_batch_changes_records_it_holds_and_applies_repeats_in_order() -> None:
    async with in_transaction() as conn:
        await observe_customers(conn, _people()[:3], now=NOW, actor="t")
    till = await IdentityRecord.get(external_id="c-1")

    async with in_transaction() as conn:
        ids = await observe_customers(
            conn,
            [
                Sighting(
                    source=CustomerSource.SHOP_TILL, external_id="c-1", loyalty_card="C7654321"
                ),
                Sighting(
                    source=CustomerSource.SHOP_TILL, external_id="n-1", loyalty_card="C7654321"
                ),
                Sighting(source=CustomerSource.SHOP_TILL, external_id="n-1", name="Ann"),
            ],
            now=NOW,
            actor="t",
        )

    assert ids[0] == till.id and ids[1] == ids[2]
    assert await _groups() == {frozenset({"s-1", "c-1", "n-1"}), frozenset({"g-1"})}
    assert await IdentityLink.filter(removed_reason=LinkRemoval.CHANGED).count() == 1
    assert (await IdentityRecord.get(id=ids[1])).name == "Ann"
    await _assert_forest()


async def test_two_batches_over_the_same_records_at_once_make_one_record_each() -> None:
    if is_sqlite():
        pytest.skip("concurrency is tested on PostgreSQL")
    people = _people()

    async def batch(items: list[Sighting]) -> list[int]:
        async with in_transaction() as conn:
            return await observe_customers(conn, items, now=NOW, actor="t")

    first, second = await asyncio.gather(batch(people), batch(list(reversed(people))))

    assert first == list(reversed(second))
    assert await IdentityRecord.all().count() == len(people)
    assert frozenset({"s-1", "c-1", "g-1"}) in await _groups()
    await _assert_forest()
