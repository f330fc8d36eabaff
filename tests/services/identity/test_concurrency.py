"""Observations and staff decisions at the same moment (PostgreSQL): one record per source id,
one profile per person, a tree of links, and a decision taken once."""

from __future__ import annotations

import asyncio

import pytest
from tortoise.transactions import in_transaction

from app.db import is_sqlite
from app.domain.errors import DomainError, ErrorCode
from app.domain.identity import CustomerSource
from app.models.identity import IdentityLink, IdentityRecord, IdentitySuggestion
from app.services.identity import staff
from app.services.identity.observe import observe_customer
from tests.services.identity.helpers import NOW

pytestmark = pytest.mark.usefixtures("db")
PHONE = "+79165551234"


@pytest.fixture(autouse=True)
def _postgres_only() -> None:
    if is_sqlite():
        pytest.skip("concurrency is tested on PostgreSQL")


async def _observe(source: CustomerSource, key: str, verified: bool = False) -> int:
    async with in_transaction() as conn:
        return await observe_customer(
            conn,
            source=source,
            external_id=key,
            now=NOW,
            actor="t",
            phone=PHONE,
            phone_verified=verified,
        )


async def test_one_record_however_many_first_sightings_at_once() -> None:
    ids = await asyncio.gather(*[_observe(CustomerSource.SHOP_TILL, "card-1") for _ in range(8)])

    assert len(set(ids)) == 1
    assert await IdentityRecord.all().count() == 1


async def test_tills_linking_to_one_account_at_once_make_one_profile_and_a_tree() -> None:
    site = await _observe(CustomerSource.SITE, "s-1", verified=True)

    await asyncio.gather(*[_observe(CustomerSource.SHOP_TILL, f"card-{n}") for n in range(4)])

    assert {r.profile_id for r in await IdentityRecord.all()} == {site}
    assert await IdentityLink.filter(removed_at=None).count() == 4  # records - 1: a tree


async def test_a_suggestion_accepted_twice_at_once_links_once() -> None:
    await _observe(CustomerSource.SHOP_TILL, "card-1")
    await _observe(CustomerSource.RETAILCRM, "77")
    suggestion = await IdentitySuggestion.get()

    outcomes = await asyncio.gather(
        *[
            staff.decide_suggestion(
                suggestion_id=suggestion.id, accept=True, actor=f"s{n}", now=NOW
            )
            for n in range(3)
        ],
        return_exceptions=True,
    )

    refused = [o for o in outcomes if isinstance(o, DomainError)]
    assert [e.code for e in refused] == [ErrorCode.INVALID_TRANSITION] * 2
    assert await IdentityLink.all().count() == 1
