"""The identity graph: links by trusted identifiers, suggestions on unverified data, shared
and blocked values, priority conflicts, unmerge, and another system's merge."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from tortoise.transactions import in_transaction

from app.domain.errors import DomainError, ErrorCode
from app.domain.identity import CustomerSource, LinkRemoval, LinkRule, SuggestionState
from app.models.identity import IdentityLink, IdentityRecord, IdentitySuggestion
from app.services.identity import graph
from app.services.identity.observe import note_external_merge, observe_customer

pytestmark = pytest.mark.usefixtures("db")

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
PHONE = "+79161234567"


async def _observe(source: CustomerSource, external_id: str, **kw: object) -> int:
    async with in_transaction() as conn:
        return await observe_customer(
            conn,
            source=source,
            external_id=external_id,
            now=NOW,
            actor="test",
            **kw,  # type: ignore[arg-type]
        )


async def _profiles(*ids: int) -> list[int]:
    return [(await IdentityRecord.get(id=i)).profile_id for i in ids]


async def _active_links() -> list[tuple[int, int, LinkRule, str]]:
    links = await IdentityLink.filter(removed_at=None).order_by("id")
    return [(link.left_id, link.right_id, link.rule, link.value) for link in links]


async def test_a_verified_site_phone_links_the_tills_spelling_of_it() -> None:
    site = await _observe(CustomerSource.SITE, "s-1", phone=PHONE, phone_verified=True)

    till = await _observe(CustomerSource.SHOP_TILL, "card-1", phone="8 (916) 123-45-67")

    assert await _profiles(site, till) == [site, site]
    assert await _active_links() == [(site, till, LinkRule.PHONE, PHONE)]
    link = await IdentityLink.get(left_id=site)
    assert (link.source, link.actor, link.created_at) == ("shop_till", "test", NOW)
    record = await IdentityRecord.get(id=till)
    assert (record.phone, record.phone_raw) == (PHONE, "8 (916) 123-45-67")


async def test_a_match_nobody_verified_is_a_suggestion_not_a_link() -> None:
    first = await _observe(CustomerSource.SHOP_TILL, "card-1", phone=PHONE)

    second = await _observe(CustomerSource.SITE, "s-1", phone=PHONE, email="a@shop.ru")

    assert await _profiles(first, second) == [first, second]
    assert await _active_links() == []
    suggestion = await IdentitySuggestion.get()
    assert (suggestion.left_id, suggestion.right_id, suggestion.kind.value, suggestion.value) == (
        first,
        second,
        "phone",
        PHONE,
    )
    assert suggestion.state is SuggestionState.OPEN


async def test_a_loyalty_card_or_a_system_id_links_by_itself() -> None:
    till = await _observe(CustomerSource.SHOP_TILL, "t-1", loyalty_card="2000 0012")
    onec = await _observe(CustomerSource.ONEC, "g-1", loyalty_card="20000012", onec_guid="G-1")
    crm = await _observe(CustomerSource.RETAILCRM, "77", onec_guid="g-1", retailcrm_id="77")

    assert await _profiles(till, onec, crm) == [till, till, till]
    assert await _active_links() == [
        (till, onec, LinkRule.LOYALTY_CARD, "20000012"),
        (onec, crm, LinkRule.ONEC_GUID, "g-1"),
    ]


async def test_blocked_values_link_and_suggest_nothing() -> None:
    a = await _observe(CustomerSource.SITE, "s-1", phone="+79999999999", phone_verified=True)
    b = await _observe(CustomerSource.SHOP_TILL, "t-1", phone="+79999999999")
    c = await _observe(CustomerSource.SITE, "s-2", email="test@example.com", email_verified=True)
    d = await _observe(CustomerSource.SHOP_TILL, "t-2", email="TEST@example.com")
    e = await _observe(CustomerSource.SHOP_TILL, "t-3", loyalty_card="0000")
    f = await _observe(CustomerSource.SHOP_TILL, "t-4", loyalty_card="0000")

    assert await _profiles(a, b, c, d, e, f) == [a, b, c, d, e, f]
    assert await IdentitySuggestion.all().count() == 0


async def test_a_phone_on_more_records_than_the_cap_is_shared_and_its_links_go() -> None:
    site = await _observe(CustomerSource.SITE, "s-1", phone=PHONE, phone_verified=True)
    tills = [await _observe(CustomerSource.SHOP_TILL, f"card-{n}", phone=PHONE) for n in range(4)]
    assert await _profiles(*tills) == [site] * 4

    sixth = await _observe(CustomerSource.SHOP_TILL, "card-4", phone=PHONE)

    assert await _profiles(site, *tills, sixth) == [site, *tills, sixth]
    assert await _active_links() == []
    removed = [link.removed_reason for link in await IdentityLink.all().order_by("id")]
    assert removed == [LinkRemoval.SHARED] * 4
    assert await IdentitySuggestion.filter(state=SuggestionState.OPEN).count() == 0


async def test_two_1c_counterparties_are_not_joined_by_a_phone() -> None:
    a = await _observe(
        CustomerSource.ONEC, "g-1", onec_guid="g-1", phone=PHONE, phone_verified=True
    )

    b = await _observe(
        CustomerSource.ONEC, "g-2", onec_guid="g-2", phone=PHONE, phone_verified=True
    )

    assert await _profiles(a, b) == [a, b]
    assert await IdentitySuggestion.filter(left_id=a, right_id=b).count() == 1


async def test_unmerge_splits_exactly_and_the_rules_never_rejoin_the_pair() -> None:
    site = await _observe(CustomerSource.SITE, "s-1", phone=PHONE, phone_verified=True)
    till = await _observe(CustomerSource.SHOP_TILL, "card-1", phone=PHONE, loyalty_card="5551")
    other = await _observe(CustomerSource.SHOP_TILL, "card-2", loyalty_card="5551")
    link = await IdentityLink.get(left_id=site, right_id=till)

    async with in_transaction() as conn:
        sides = await graph.unmerge(conn, link_id=link.id, actor="staff:ann", now=NOW)

    assert sides == (site, till)
    assert await _profiles(site, till, other) == [site, till, till]
    await _observe(CustomerSource.SHOP_TILL, "card-1", phone="+7 916 123 45 67", name="Ann")
    assert await _profiles(site, till, other) == [site, till, till]
    removed = await IdentityLink.get(id=link.id)
    assert (removed.removed_by, removed.removed_reason) == ("staff:ann", LinkRemoval.UNMERGED)


async def test_unmerging_a_removed_link_is_a_typed_error_that_changes_nothing() -> None:
    site = await _observe(CustomerSource.SITE, "s-1", phone=PHONE, phone_verified=True)
    till = await _observe(CustomerSource.SHOP_TILL, "card-1", phone=PHONE)
    link = await IdentityLink.get()
    async with in_transaction() as conn:
        await graph.unmerge(conn, link_id=link.id, actor="staff", now=NOW)

    with pytest.raises(DomainError) as error:
        async with in_transaction() as conn:
            await graph.unmerge(conn, link_id=link.id, actor="staff", now=NOW)

    assert error.value.code is ErrorCode.NOT_FOUND
    assert await _profiles(site, till) == [site, till]


async def test_retailcrms_combined_to_is_a_link_of_its_own_kind() -> None:
    async with in_transaction() as conn:
        await note_external_merge(
            conn, source=CustomerSource.RETAILCRM, merged_id="12", into_id="7", now=NOW, actor="crm"
        )

    merged = await IdentityRecord.get(source=CustomerSource.RETAILCRM, external_id="12")
    into = await IdentityRecord.get(source=CustomerSource.RETAILCRM, external_id="7")
    assert merged.profile_id == into.profile_id == merged.id
    assert await _active_links() == [(merged.id, into.id, LinkRule.EXTERNAL_MERGE, "12->7")]


async def test_observing_the_same_record_again_changes_nothing() -> None:
    site = await _observe(CustomerSource.SITE, "s-1", phone=PHONE, phone_verified=True)
    till = await _observe(CustomerSource.SHOP_TILL, "card-1", phone=PHONE)
    before = await _active_links()

    again = await _observe(CustomerSource.SHOP_TILL, "card-1", phone=PHONE)

    assert again == till
    assert await _active_links() == before
    assert await IdentityRecord.all().count() == 2
    assert await _profiles(site, till) == [site, site]
