"""When a record's identifiers change: which of its links still stand.

A link made by an identifier rule is justified by one value both records carry (its `value`)
and, for a phone or an e-mail, by a verified side. When a record's phone, e-mail, card or
system id changes (or a verification is withdrawn), a link it no longer justifies is retracted
(reason CHANGED) and the record is linked again by what it now carries, under the same rules.
Links staff made and other systems' merges are not about identifiers: a change never touches
them, and a pair staff unmerged stays apart (the separation rule of `judge`).
"""

from __future__ import annotations

from collections.abc import Iterable

from app.domain.identity import SELF_EVIDENT, Evidence, Identifier, LinkRule

IDENTIFIER_RULES = frozenset(LinkRule(kind.value) for kind in Identifier)
IDENTIFIER_FIELDS = frozenset(
    {
        "phone",
        "phone_verified",
        "email",
        "email_verified",
        "loyalty_card",
        "onec_guid",
        "retailcrm_id",
    }
)


def identifiers_changed(changed_fields: Iterable[str]) -> bool:
    """Does a write touch evidence (a value or its verification), not just a name?"""
    return not IDENTIFIER_FIELDS.isdisjoint(changed_fields)


def still_justified(
    rule: LinkRule, value: str, left: Iterable[Evidence], right: Iterable[Evidence]
) -> bool:
    """Does a link of `rule` by `value` still stand on its two records' current evidence?

    Staff links and external merges always stand. An identifier link stands while both sides
    carry the value (blocked values are no evidence) and, for a phone or an e-mail, while at
    least one side has it verified."""
    if rule not in IDENTIFIER_RULES:
        return True
    kind = Identifier(rule.value)
    mine = [e for e in left if e.kind is kind and e.value == value]
    theirs = [e for e in right if e.kind is kind and e.value == value]
    if not mine or not theirs:
        return False
    return kind in SELF_EVIDENT or mine[0].verified or theirs[0].verified


def stale_suggestion(kind: Identifier, value: str, evidence: Iterable[Evidence]) -> bool:
    """An open suggestion on a value the record no longer carries is about nobody."""
    return not any(e.kind is kind and e.value == value for e in evidence)
