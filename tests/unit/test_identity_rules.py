"""Identity rules without a database: cleaning, blocked values, the verdict on one match,
priority conflicts, profiles as connected groups, consents, and Customer 360 sums."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.domain.consents import (
    ConsentFact,
    ConsentPurpose,
    MarketingChannel,
    SystemIds,
    consent_record,
    derive,
)
from app.domain.customer360 import Fact, summarise
from app.domain.errors import DomainError
from app.domain.identity import (
    Identifier,
    IdentityPolicy,
    Verdict,
    clean_card,
    clean_email,
    clean_phone,
    components,
    conflicts,
    evidence_of,
    is_blocked,
    judge,
)
from app.domain.segments import Lapsed, Segment, SpendBand, check_segment

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
PHONE = Identifier.PHONE


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("8 (916) 123-45-67", "+79161234567"),
        ("+7 916 123 45 67", "+79161234567"),
        ("9161234567", "+79161234567"),
        ("12-34", None),
        ("", None),
        ("916 ABC", None),
    ],
)
def test_a_phone_is_cleaned_to_e164_or_dropped(raw: str, clean: str | None) -> None:
    assert clean_phone(raw) == clean


def test_an_email_is_lower_cased_and_a_card_loses_its_spaces() -> None:
    assert clean_email(" Ann@Shop.RU ") == "ann@shop.ru"
    assert clean_email("not an address") is None
    assert clean_card(" 2000 0012 ") == "20000012"
    assert clean_card("!!") is None


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        (PHONE, "+79999999999"),
        (PHONE, "+71111111111"),
        (PHONE, "+79001234567"),
        (PHONE, "+78005553535"),  # 8 800: a toll-free service line
        (Identifier.EMAIL, "test@example.com"),
        (Identifier.EMAIL, "noemail@mail.ru"),
        (Identifier.LOYALTY_CARD, "0000"),
        (Identifier.ONEC_GUID, "00000000-0000-0000-0000-000000000000"),
    ],
)
def test_placeholder_values_are_blocked(kind: Identifier, value: str) -> None:
    assert is_blocked(kind, value)


def test_a_real_phone_is_not_blocked() -> None:
    assert not is_blocked(PHONE, "+79161234567")


def _judge(**kw: object) -> Verdict:
    args: dict[str, object] = {
        "mine_verified": False,
        "theirs_verified": False,
        "carriers": 2,
        "conflict": False,
        "separated": False,
    }
    return judge(PHONE, "+79161234567", **{**args, **kw}).verdict  # type: ignore[arg-type]


def test_a_phone_links_only_when_one_side_verified_it() -> None:
    assert _judge() is Verdict.SUGGEST
    assert _judge(mine_verified=True) is Verdict.LINK
    assert _judge(theirs_verified=True) is Verdict.LINK


def test_a_shared_value_separated_profiles_and_conflicts_never_link() -> None:
    assert _judge(mine_verified=True, carriers=6) is Verdict.NOTHING
    assert _judge(mine_verified=True, carriers=5) is Verdict.LINK
    assert _judge(mine_verified=True, separated=True) is Verdict.NOTHING
    assert _judge(mine_verified=True, conflict=True) is Verdict.SUGGEST
    strict = IdentityPolicy(shared_cap=2)
    verdict = judge(
        PHONE,
        "+79161234567",
        mine_verified=True,
        theirs_verified=True,
        carriers=3,
        conflict=False,
        separated=False,
        policy=strict,
    )
    assert verdict.verdict is Verdict.NOTHING


def test_a_card_links_by_itself() -> None:
    verdict = judge(
        Identifier.LOYALTY_CARD,
        "5001",
        mine_verified=True,
        theirs_verified=True,
        carriers=2,
        conflict=False,
        separated=False,
    )
    assert verdict.verdict is Verdict.LINK


def test_different_system_ids_of_a_stronger_kind_conflict() -> None:
    a = {Identifier.ONEC_GUID: frozenset({"g-1"})}
    b = {Identifier.ONEC_GUID: frozenset({"g-2"})}
    same = {Identifier.ONEC_GUID: frozenset({"g-1"})}

    assert conflicts(PHONE, a, b)
    assert not conflicts(PHONE, a, same)
    assert not conflicts(PHONE, a, {})
    assert not conflicts(Identifier.ONEC_GUID, a, b)  # nothing is stronger than itself


def test_evidence_leaves_blocked_values_out_strongest_first() -> None:
    found = evidence_of(
        phone="+79999999999",
        phone_verified=True,
        email="ann@shop.ru",
        email_verified=False,
        loyalty_card="5001",
        onec_guid="g-1",
        retailcrm_id=None,
    )
    assert [(e.kind, e.value, e.verified) for e in found] == [
        (Identifier.ONEC_GUID, "g-1", True),
        (Identifier.LOYALTY_CARD, "5001", True),
        (Identifier.EMAIL, "ann@shop.ru", False),
    ]


def test_a_profile_is_named_by_its_smallest_record() -> None:
    assert components([1, 2, 3, 4, 5], [(4, 2), (2, 5)]) == {1: 1, 2: 2, 3: 3, 4: 2, 5: 2}


def _fact(
    n: int, purpose: ConsentPurpose, channel: MarketingChannel | None, granted: bool, minutes: int
) -> ConsentFact:
    return ConsentFact(n, purpose, channel, granted, NOW + timedelta(minutes=minutes))


def test_the_latest_consent_event_wins_and_marketing_needs_both() -> None:
    email = MarketingChannel.EMAIL
    state = derive(
        [
            _fact(1, ConsentPurpose.MARKETING, email, True, 0),
            _fact(2, ConsentPurpose.PERSONAL_DATA, None, True, 1),
            _fact(3, ConsentPurpose.MARKETING, email, False, 2),
            _fact(4, ConsentPurpose.MARKETING, MarketingChannel.SMS, True, 3),
        ]
    )
    assert not state.may_market(email)
    assert state.may_market(MarketingChannel.SMS)
    record = consent_record(state, SystemIds("c-1"), NOW)
    assert record.email_unsubscribed_at == NOW + timedelta(minutes=2)
    assert [(s.channel, s.subscribed) for s in record.subscriptions] == [
        (email, False),
        (MarketingChannel.SMS, True),
    ]


def test_360_counts_an_order_once_and_nets_returns() -> None:
    def fact(purchase: str, qty: int, amount: int, is_return: bool = False) -> Fact:
        return Fact("shop", purchase, NOW, "Shoes", "38", qty, amount, is_return)

    summary = summarise([fact("r1", 1, 500), fact("r1", 1, 500), fact("r2", -1, -500, True)])

    (shop,) = summary.channels
    assert (shop.orders, shop.returns, shop.spend_kopecks) == (1, 1, 500)
    assert (summary.returns, summary.returned_kopecks) == (1, 500)
    (shoes,) = summary.categories
    assert (shoes.units, dict(shoes.sizes)) == (2, {"38": 2})


def test_a_segment_is_checked_before_any_query() -> None:
    check_segment(Segment((Lapsed(30),)))
    with pytest.raises(DomainError):
        check_segment(Segment(()))
    with pytest.raises(DomainError):
        check_segment(Segment((Lapsed(0),)))
    with pytest.raises(DomainError):
        check_segment(Segment((SpendBand(500, 100),)))
