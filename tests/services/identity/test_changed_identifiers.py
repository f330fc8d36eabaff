"""A changed phone, e-mail or card on a record we hold: the links its old value made are
retracted (recorded like every link change), the profiles renumbered, links by the new value
made under the same guardrails; staff links and unmerge decisions stay."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from tortoise.transactions import in_transaction

from app.db import is_sqlite
from app.domain.identity import Channel, CustomerSource, LinkRemoval, LinkRule, PurchaseLine
from app.models.customers import Customer
from app.models.identity import IdentityLink, IdentityRecord, IdentitySuggestion
from app.services.identity import graph
from app.services.identity.customer360 import Lookup, customer_360
from app.services.identity.observe import observe_customer, observe_site_customer, record_purchase
from app.services.identity.shopper import my_purchases
from tests.services.identity.helpers import NOW

pytestmark = pytest.mark.usefixtures("db")
OLD, NEW = "+79161230001", "+79161230002"


async def _observe(source: CustomerSource, key: str, actor: str = "t", **kw: object) -> int:
    async with in_transaction() as conn:
        return await observe_customer(
            conn,
            source=source,
            external_id=key,
            now=NOW,
            actor=actor,
            **kw,  # type: ignore[arg-type]
        )


async def _profiles(*ids: int) -> list[int]:
    return [(await IdentityRecord.get(id=i)).profile_id for i in ids]


async def _active() -> list[tuple[int, int, LinkRule, str]]:
    links = await IdentityLink.filter(removed_at=None).order_by("id")
    return [(x.left_id, x.right_id, x.rule, x.value) for x in links]


async def test_a_site_accounts_new_phone_retracts_the_old_link_and_links_the_new_one() -> None:
    site = await _observe(CustomerSource.SITE, "s-1", phone=OLD, phone_verified=True)
    old_till = await _observe(CustomerSource.SHOP_TILL, "card-1", phone=OLD)
    new_till = await _observe(CustomerSource.SHOP_TILL, "card-2", phone=NEW)

    await _observe(CustomerSource.SITE, "s-1", actor="ann", phone=NEW, phone_verified=True)

    assert await _profiles(site, old_till, new_till) == [site, old_till, site]
    assert await _active() == [(site, new_till, LinkRule.PHONE, NEW)]
    old = await IdentityLink.get(left_id=site, right_id=old_till)
    assert (old.rule, old.value, old.removed_reason) == (LinkRule.PHONE, OLD, LinkRemoval.CHANGED)
    assert (old.removed_by, old.removed_source, old.removed_at) == ("ann", "site", NOW)


async def test_a_link_another_shared_identifier_still_justifies_is_made_again_by_it() -> None:
    till = await _observe(CustomerSource.SHOP_TILL, "t-1", phone=OLD, loyalty_card="5001")
    site = await _observe(CustomerSource.SITE, "s-1", phone=OLD, phone_verified=True)
    onec = await _observe(CustomerSource.ONEC, "g-1", loyalty_card="5001")
    assert await _profiles(till, site, onec) == [till, till, till]

    await _observe(CustomerSource.SHOP_TILL, "t-1", loyalty_card="5002")

    assert await _profiles(till, site, onec) == [till, till, onec]
    assert await _active() == [(till, site, LinkRule.PHONE, OLD)]
    removed = await IdentityLink.get(rule=LinkRule.LOYALTY_CARD)
    assert (removed.left_id, removed.right_id, removed.removed_reason) == (
        till,
        onec,
        LinkRemoval.CHANGED,
    )


async def test_a_withdrawn_verification_retracts_and_leaves_a_suggestion() -> None:
    site = await _observe(CustomerSource.SITE, "s-1", phone=OLD, phone_verified=True)
    till = await _observe(CustomerSource.SHOP_TILL, "card-1", phone=OLD)

    await _observe(CustomerSource.SITE, "s-1", phone=OLD, phone_verified=False)

    assert await _profiles(site, till) == [site, till]
    assert await _active() == []
    suggestion = await IdentitySuggestion.get()
    assert (suggestion.left_id, suggestion.right_id, suggestion.value) == (site, till, OLD)


async def test_a_new_value_that_is_shared_links_nothing() -> None:
    tills = [await _observe(CustomerSource.SHOP_TILL, f"c-{n}", phone=NEW) for n in range(6)]
    site = await _observe(CustomerSource.SITE, "s-1", phone=OLD, phone_verified=True)
    till = await _observe(CustomerSource.SHOP_TILL, "card-1", phone=OLD)

    await _observe(CustomerSource.SITE, "s-1", phone=NEW, phone_verified=True)

    assert await _profiles(site, till, *tills) == [site, till, *tills]
    assert await _active() == []


async def test_a_staff_link_and_an_unmerge_survive_changes() -> None:
    site = await _observe(CustomerSource.SITE, "s-1", phone=OLD, phone_verified=True)
    till = await _observe(CustomerSource.SHOP_TILL, "card-1", phone=OLD)
    crm = await _observe(CustomerSource.RETAILCRM, "77", email="ann@shop.ru")
    link = await IdentityLink.get()
    async with in_transaction() as conn:
        await graph.unmerge(conn, link_id=link.id, actor="staff:ann", now=NOW)
        staff = await graph.link_records(
            conn,
            left_id=site,
            right_id=crm,
            rule=LinkRule.STAFF,
            value="",
            source="staff",
            actor="staff:ann",
            now=NOW,
        )
    assert staff is not None

    await _observe(CustomerSource.SITE, "s-1", phone=NEW, phone_verified=True)
    await _observe(CustomerSource.SHOP_TILL, "card-1", phone=NEW)
    await _observe(CustomerSource.RETAILCRM, "77", email="ann@mail.ru")

    assert await _profiles(site, till, crm) == [site, till, site]
    assert await _active() == [(site, crm, LinkRule.STAFF, "")]
    assert (await IdentityLink.get(id=link.id)).removed_reason is LinkRemoval.UNMERGED


async def test_an_account_that_changed_its_phone_no_longer_sees_the_old_phones_receipts() -> None:
    customer = await Customer.create(
        guid=str(uuid.uuid4()), phone=OLD, phone_raw=OLD, phone_verified_at=NOW
    )
    async with in_transaction() as conn:
        site = await observe_site_customer(conn, customer=customer, now=NOW, actor="t")
        till = await observe_customer(
            conn, source=CustomerSource.SHOP_TILL, external_id="card-1", now=NOW, actor="1c",
            phone="8 (916) 123-00-01",
        )  # fmt: skip
        line = PurchaseLine(None, 1, 500_000)
        await record_purchase(
            conn, record_id=till, channel=Channel.SHOP, external_ref="r-1", at=NOW, lines=[line]
        )
    assert [p.reference for p in await my_purchases(customer=customer, first=10, now=NOW)] == [
        "r-1"
    ]

    await Customer.filter(id=customer.id).update(phone=NEW, phone_raw=NEW)
    customer = await Customer.get(id=customer.id)
    async with in_transaction() as conn:
        await observe_site_customer(conn, customer=customer, now=NOW, actor=customer.guid)

    assert await my_purchases(customer=customer, first=10, now=NOW) == []
    mine = await customer_360(lookup=Lookup(profile_id=site), actor="crm", now=NOW)
    theirs = await customer_360(lookup=Lookup(profile_id=till), actor="crm", now=NOW)
    assert ([r.id for r in mine.records], mine.summary.channels) == ([site], [])
    assert [r.id for r in theirs.records] == [till]
    assert [(c.channel, c.orders) for c in theirs.summary.channels] == [("shop", 1)]


async def test_two_changes_of_one_record_at_once_apply_one_after_the_other() -> None:
    if is_sqlite():
        pytest.skip("concurrency is tested on PostgreSQL")
    sites = {
        phone: await _observe(CustomerSource.SITE, key, phone=phone, phone_verified=True)
        for key, phone in (("s-0", OLD), ("s-1", NEW), ("s-2", "+79161230003"))
    }
    till = await _observe(CustomerSource.SHOP_TILL, "card-1", phone=OLD)

    await asyncio.gather(
        _observe(CustomerSource.SHOP_TILL, "card-1", phone=NEW),
        _observe(CustomerSource.SHOP_TILL, "card-1", phone="+79161230003"),
    )

    # the till's row is locked (FOR UPDATE) by each in turn: the last one's phone stands
    record = await IdentityRecord.get(id=till)
    assert record.phone in {NEW, "+79161230003"}
    assert await _active() == [(sites[record.phone], till, LinkRule.PHONE, record.phone)]
    assert await _profiles(till) == [sites[record.phone]]
    assert await IdentityLink.filter(removed_reason=LinkRemoval.CHANGED).count() in {1, 2}
