"""Which links a record's changed identifiers still justify (pure)."""

from __future__ import annotations

from app.domain.identity import Evidence, Identifier, LinkRule
from app.domain.identity_changes import identifiers_changed, stale_suggestion, still_justified

PHONE = "+79161230001"


def _phone(value: str = PHONE, verified: bool = False) -> Evidence:
    return Evidence(Identifier.PHONE, value, verified)


def test_a_phone_link_stands_while_both_carry_it_and_one_side_verified_it() -> None:
    assert still_justified(LinkRule.PHONE, PHONE, [_phone(verified=True)], [_phone()])


def test_a_phone_link_goes_when_one_side_carries_another_number() -> None:
    assert not still_justified(LinkRule.PHONE, PHONE, [_phone("+79161230002", True)], [_phone()])


def test_a_phone_link_goes_when_nobody_verifies_it_any_more() -> None:
    assert not still_justified(LinkRule.PHONE, PHONE, [_phone()], [_phone()])


def test_a_card_needs_no_verification_but_both_sides() -> None:
    card = Evidence(Identifier.LOYALTY_CARD, "5001", False)
    assert still_justified(LinkRule.LOYALTY_CARD, "5001", [card], [card])
    assert not still_justified(LinkRule.LOYALTY_CARD, "5001", [card], [])


def test_staff_links_and_external_merges_are_not_about_identifiers() -> None:
    assert still_justified(LinkRule.STAFF, "phone:x", [], [])
    assert still_justified(LinkRule.EXTERNAL_MERGE, "12->7", [], [])


def test_a_name_is_not_an_identifier_change() -> None:
    assert not identifiers_changed({"name", "updated_at", "actor"})
    assert identifiers_changed({"phone_verified"})


def test_a_suggestion_on_a_value_the_record_left_is_stale() -> None:
    assert stale_suggestion(Identifier.PHONE, PHONE, [_phone("+79161230002")])
    assert not stale_suggestion(Identifier.PHONE, PHONE, [_phone()])
