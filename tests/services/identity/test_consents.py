"""The consent ledger: separate purposes, per-channel marketing with its proof, withdrawal at
once, the outbox to 1C and RetailCRM, and segment exports that never hold a non-consenting
customer."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from tortoise.transactions import in_transaction

from app.domain.consents import ConsentPurpose, ConsentSource, MarketingChannel
from app.domain.errors import DomainError, ErrorCode
from app.domain.identity import CustomerSource
from app.domain.outbox import EventKind, Target
from app.domain.segments import Lapsed, Segment
from app.models.identity import ConsentEvent, IdentityRecord, ProfileAccess
from app.models.outbox import OutboxEvent
from app.services.identity.consents import Proof, profile_state, record_consent
from app.services.identity.observe import observe_customer
from app.services.identity.segments import export_segment
from tests.services.identity.helpers import BOOTS_38, NOW, catalog, shop_purchase

pytestmark = pytest.mark.usefixtures("db")

PROOF = Proof(source=ConsentSource.SHOP, text_version="mk-2025-09", device="shop-a", actor="1c")
EMAIL = MarketingChannel.EMAIL


async def _consent(
    record: int,
    purpose: ConsentPurpose,
    channel: MarketingChannel | None,
    granted: bool,
    at: object = NOW,
) -> None:
    async with in_transaction() as conn:
        await record_consent(
            conn,
            record_id=record,
            purpose=purpose,
            channel=channel,
            granted=granted,
            proof=PROOF,
            now=at,  # type: ignore[arg-type]
        )


async def _state(record: int):  # type: ignore[no-untyped-def]
    async with in_transaction() as conn:
        return await profile_state(conn, (await IdentityRecord.get(id=record)).profile_id)


async def _record(card: str = "5001") -> int:
    async with in_transaction() as conn:
        return await observe_customer(
            conn,
            source=CustomerSource.SHOP_TILL,
            external_id=card,
            now=NOW,
            actor="1c",
            loyalty_card=card,
            email=f"{card}@mail.ru",
            phone=None,
        )


async def test_marketing_needs_its_own_consent_and_the_personal_data_one() -> None:
    record = await _record()

    await _consent(record, ConsentPurpose.MARKETING, EMAIL, True)
    assert not (await _state(record)).may_market(EMAIL)

    await _consent(record, ConsentPurpose.PERSONAL_DATA, None, True)
    state = await _state(record)
    assert state.may_market(EMAIL)
    assert not state.may_market(MarketingChannel.SMS)


async def test_a_withdrawal_wins_at_once_and_the_ledger_keeps_both() -> None:
    record = await _record()
    await _consent(record, ConsentPurpose.PERSONAL_DATA, None, True)
    await _consent(record, ConsentPurpose.MARKETING, EMAIL, True)

    await _consent(record, ConsentPurpose.MARKETING, EMAIL, False, NOW + timedelta(seconds=1))

    assert not (await _state(record)).may_market(EMAIL)
    rows = await ConsentEvent.filter(purpose="marketing").order_by("id")
    assert [(r.granted, r.text_version, r.source, r.device) for r in rows] == [
        (True, "mk-2025-09", "shop", "shop-a"),
        (False, "mk-2025-09", "shop", "shop-a"),
    ]


async def test_withdrawing_personal_data_consent_withdraws_marketing_too() -> None:
    record = await _record()
    await _consent(record, ConsentPurpose.PERSONAL_DATA, None, True)
    await _consent(record, ConsentPurpose.MARKETING, EMAIL, True)
    await _consent(record, ConsentPurpose.MARKETING, MarketingChannel.SMS, True)

    await _consent(record, ConsentPurpose.PERSONAL_DATA, None, False, NOW + timedelta(seconds=1))

    state = await _state(record)
    assert {c: f.granted for c, f in state.marketing.items()} == {
        EMAIL: False,
        MarketingChannel.SMS: False,
    }


async def test_each_change_reaches_1c_and_retailcrm_through_the_outbox() -> None:
    record = await _record()
    await _consent(record, ConsentPurpose.PERSONAL_DATA, None, True)

    await _consent(record, ConsentPurpose.MARKETING, EMAIL, True, NOW + timedelta(seconds=1))

    rows = await OutboxEvent.filter(kind=EventKind.CONSENT_CHANGED).order_by("id")
    assert [r.target for r in rows] == [Target.ONEC, Target.RETAILCRM] * 2
    last = rows[-1].payload
    assert last["personal_data"] is True
    assert last["subscriptions"] == [
        {
            "channel": "email",
            "subscribed": True,
            "changed_at": (NOW + timedelta(seconds=1)).isoformat(),
        }
    ]
    assert last["email_unsubscribed_at"] is None
    assert {r.aggregate for r in rows} == {f"privacy:{record}"}


async def test_a_consent_without_its_text_version_is_refused_and_nothing_is_written() -> None:
    record = await _record()

    with pytest.raises(DomainError) as error:
        async with in_transaction() as conn:
            bad = Proof(source=ConsentSource.SITE, text_version=" ", device="", actor="x")
            await record_consent(
                conn,
                record_id=record,
                purpose=ConsentPurpose.MARKETING,
                channel=EMAIL,
                granted=True,
                proof=bad,
                now=NOW,
            )

    assert (error.value.code, tuple(error.value.path)) == (ErrorCode.INVALID, ("textVersion",))
    assert await ConsentEvent.all().count() == 0
    assert await OutboxEvent.all().count() == 0


async def test_a_segment_export_holds_exactly_the_consenting_members() -> None:
    await catalog()
    rng = random.Random(15)
    consenting: set[str] = set()
    for n in range(40):
        card = f"{7000 + n}"
        record = await shop_purchase(card, BOOTS_38, ref=f"r-{n}", email=f"c{n}@mail.ru")
        pd, mk, withdrawn = rng.random() < 0.7, rng.random() < 0.6, rng.random() < 0.2
        if pd:
            await _consent(record, ConsentPurpose.PERSONAL_DATA, None, True)
        if mk:
            await _consent(record, ConsentPurpose.MARKETING, EMAIL, True)
        if rng.random() < 0.3:
            await _consent(record, ConsentPurpose.MARKETING, MarketingChannel.SMS, True)
        if mk and withdrawn:
            await _consent(
                record, ConsentPurpose.MARKETING, EMAIL, False, NOW + timedelta(seconds=1)
            )
        if pd and mk and not withdrawn:
            consenting.add(f"c{n}@mail.ru")
    before = await OutboxEvent.filter(kind=EventKind.SEGMENT_EXPORTED).count()

    export = await export_segment(
        segment=Segment((Lapsed(days=3650),)),
        code="winter_boots",
        channel=EMAIL,
        actor="crm:olga",
        now=NOW,
    )

    assert (before, export.matched) == (0, 0)  # nobody lapsed 10 years
    export = await export_segment(
        segment=Segment((Lapsed(days=1),)),
        code="winter_boots",
        channel=EMAIL,
        actor="crm:olga",
        now=NOW + timedelta(days=2),
    )
    rows = await OutboxEvent.filter(kind=EventKind.SEGMENT_BATCH).order_by("id")
    profiles = [p for r in rows for p in r.payload["profiles"]]  # batches name profiles only
    records = await IdentityRecord.filter(profile_id__in=profiles)
    exported = {r.email for r in records}
    assert (export.matched, export.exported) == (40, len(consenting))
    assert (len(rows), len(profiles)) == (1, len(consenting))  # up to 50 a batch
    assert exported == consenting
    assert len(exported - consenting) == 0  # not one without a standing consent
    assert {r.target for r in rows} == {Target.RETAILCRM}
    assert await ProfileAccess.filter(action="segment_export").count() == 2
