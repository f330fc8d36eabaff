"""Identity rules: which source records are one person, decided the same way every time.

Source records (a site account, a till's view of a shopper, a 1C counterparty, a RetailCRM
customer) are kept as they came. A *link* joins two records on evidence; a *profile* is a
connected group of records. The rules here are pure: the services feed them what the
database holds and write what they decide.

Decisions written down (the brief left them to us):
- An identifier links automatically only when it is trustworthy: a system id (1C GUID,
  RetailCRM id) or a loyalty card always; a phone or an e-mail when it is verified on at
  least one of the two records (a site account's phone confirmed by SMS code is the
  person's, and the till's spelling of it is the same person's purchase). A match where
  neither side is verified is a suggestion for staff, never a link.
- Priority: ONEC_GUID > RETAILCRM_ID > LOYALTY_CARD > PHONE > EMAIL. A link records the
  strongest identifier the two records share; and two profiles that hold *different* values
  of a stronger identifier (two 1C counterparties, two cards) are not joined by a weaker one:
  that match becomes a suggestion.
- A value carried by more than `shared_cap` records is shared (a shop's own number typed at
  the till): it links nothing, suggests nothing, and the links made by it earlier are removed
  (reason SHARED), so a profile that grew by it falls apart again on its own.
- Blocked values (empty, zeros, test numbers, placeholder addresses) never link or suggest.
- Links only ever join two different profiles, so the active links form a forest: each link
  is a bridge, and removing it (unmerge) splits its profile into exactly the two sides it
  joined. An unmerged pair is never joined again automatically (staff may still link it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from app.domain.contact import normalise_email, normalise_phone
from app.domain.errors import DomainError


class CustomerSource(StrEnum):
    """Where a source record came from."""

    SITE = "site"
    SHOP_TILL = "shop_till"
    ONEC = "onec"
    RETAILCRM = "retailcrm"


class Channel(StrEnum):
    """Where a purchase happened."""

    SITE = "site"
    SHOP = "shop"
    PHONE = "phone"
    INSTAGRAM = "instagram"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class PurchaseLine:
    """One line of a purchase made outside our own site orders."""

    variant_id: int | None  # our variant pk, None when unknown to us
    quantity: int  # negative on a return
    amount_kopecks: int  # after discount; negative on a return


class Identifier(StrEnum):
    """The kinds of evidence, strongest first (PRIORITY below is their order)."""

    ONEC_GUID = "onec_guid"
    RETAILCRM_ID = "retailcrm_id"
    LOYALTY_CARD = "loyalty_card"
    PHONE = "phone"
    EMAIL = "email"


PRIORITY: tuple[Identifier, ...] = tuple(Identifier)
# Identifiers that are evidence by themselves; the others need a verified side.
SELF_EVIDENT = frozenset({Identifier.ONEC_GUID, Identifier.RETAILCRM_ID, Identifier.LOYALTY_CARD})


class LinkRule(StrEnum):
    """Why a link exists: an identifier rule, staff, or another system's merge."""

    ONEC_GUID = "onec_guid"
    RETAILCRM_ID = "retailcrm_id"
    LOYALTY_CARD = "loyalty_card"
    PHONE = "phone"
    EMAIL = "email"
    STAFF = "staff"  # a staff member accepted a suggestion or linked by hand
    EXTERNAL_MERGE = "external_merge"  # RetailCRM's combinedTo


class LinkRemoval(StrEnum):
    UNMERGED = "unmerged"  # staff split it: never re-made automatically
    SHARED = "shared"  # its identifier turned out to be shared
    ERASED = "erased"  # a side was erased on the person's request
    CHANGED = "changed"  # a side's identifier changed: the value no longer justifies it


class SuggestionState(StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"
    DISMISSED = "dismissed"


@dataclass(frozen=True, slots=True)
class IdentityPolicy:
    shared_cap: int = 5  # a value on more records than this is shared


DEFAULT_POLICY = IdentityPolicy()

_TEST_NATIONAL = frozenset({"1234567890", "0123456789", "9876543210", "9001234567"})
_PLACEHOLDER_DOMAINS = frozenset(
    {"example.com", "example.org", "example.net", "test.ru", "test.com"}
)
_PLACEHOLDER_LOCALS = frozenset({"test", "noemail", "no-email", "none", "nomail", "no", "null"})
_CARD = re.compile(r"[0-9A-Z-]{4,32}")


def clean_phone(raw: str | None) -> str | None:
    """E.164, or None when there is no usable number (the raw spelling is kept elsewhere)."""
    if raw is None or not raw.strip():
        return None
    try:
        return normalise_phone(raw)
    except DomainError:
        return None


def clean_email(raw: str | None) -> str | None:
    if raw is None or not raw.strip():
        return None
    try:
        return normalise_email(raw)
    except DomainError:
        return None


def clean_card(raw: str | None) -> str | None:
    if raw is None:
        return None
    card = raw.strip().upper().replace(" ", "")
    return card if _CARD.fullmatch(card) else None


def clean_id(raw: str | None) -> str | None:
    if raw is None:
        return None
    value = raw.strip().lower()
    return value or None


def is_blocked(kind: Identifier, value: str) -> bool:
    """A value that proves nothing: empty, all zeros, a test number, a placeholder address."""
    digits = re.sub(r"\D", "", value)
    if not value or (digits and set(digits) == {"0"}):
        return True
    if kind is Identifier.PHONE:
        national = digits[-10:]
        service = national.startswith("800")  # 8 800: toll-free service lines, not people
        return (
            len(set(national)) <= 2
            or national in _TEST_NATIONAL
            or national.endswith("0000000")
            or service
        )
    if kind is Identifier.EMAIL:
        local, _, domain = value.partition("@")
        return domain in _PLACEHOLDER_DOMAINS or local in _PLACEHOLDER_LOCALS
    if kind is Identifier.LOYALTY_CARD:
        return len(set(digits or value)) <= 1
    return value in {"0", "-", "none", "null", "00000000-0000-0000-0000-000000000000"}


@dataclass(frozen=True, slots=True)
class Evidence:
    """One identifier value on one record, and whether that record verified it."""

    kind: Identifier
    value: str
    verified: bool


def evidence_of(
    *,
    phone: str | None,
    phone_verified: bool,
    email: str | None,
    email_verified: bool,
    loyalty_card: str | None,
    onec_guid: str | None,
    retailcrm_id: str | None,
) -> tuple[Evidence, ...]:
    """A record's usable evidence (cleaned values, blocked ones left out), strongest first."""
    found = (
        (Identifier.ONEC_GUID, onec_guid, True),
        (Identifier.RETAILCRM_ID, retailcrm_id, True),
        (Identifier.LOYALTY_CARD, loyalty_card, True),
        (Identifier.PHONE, phone, phone_verified),
        (Identifier.EMAIL, email, email_verified),
    )
    return tuple(
        Evidence(kind, value, verified)
        for kind, value, verified in found
        if value is not None and not is_blocked(kind, value)
    )


class Verdict(StrEnum):
    LINK = "link"
    SUGGEST = "suggest"
    NOTHING = "nothing"


@dataclass(frozen=True, slots=True)
class Match:
    """What one shared value between two records is worth."""

    verdict: Verdict
    kind: Identifier
    value: str


def judge(
    kind: Identifier,
    value: str,
    *,
    mine_verified: bool,
    theirs_verified: bool,
    carriers: int,
    conflict: bool,
    separated: bool,
    policy: IdentityPolicy = DEFAULT_POLICY,
) -> Match:
    """Link, suggest or nothing, for one value two records in different profiles share.

    `carriers`: how many records carry the value; `conflict`: the two profiles hold different
    values of a stronger identifier; `separated`: staff unmerged these two profiles before.
    """
    if is_blocked(kind, value) or carriers > policy.shared_cap:
        return Match(Verdict.NOTHING, kind, value)
    trusted = kind in SELF_EVIDENT or mine_verified or theirs_verified
    if trusted and not conflict and not separated:
        return Match(Verdict.LINK, kind, value)
    if separated:
        return Match(Verdict.NOTHING, kind, value)
    return Match(Verdict.SUGGEST, kind, value)


def conflicts(
    kind: Identifier,
    mine: Mapping[Identifier, frozenset[str]],
    theirs: Mapping[Identifier, frozenset[str]],
) -> bool:
    """Do two profiles hold different values of an identifier stronger than `kind`?

    Only the one-per-person system ids count (two 1C counterparties, two RetailCRM customers):
    a person may hold two cards, phones or addresses."""
    for stronger in PRIORITY[: PRIORITY.index(kind)]:
        if stronger not in (Identifier.ONEC_GUID, Identifier.RETAILCRM_ID):
            continue
        a, b = mine.get(stronger, frozenset()), theirs.get(stronger, frozenset())
        if a and b and not (a & b):
            return True
    return False


def values_by_kind(evidence: Iterable[Evidence]) -> dict[Identifier, frozenset[str]]:
    """A profile's values of each identifier."""
    out: dict[Identifier, set[str]] = {}
    for e in evidence:
        out.setdefault(e.kind, set()).add(e.value)
    return {k: frozenset(v) for k, v in out.items()}


def components(nodes: Iterable[int], edges: Iterable[tuple[int, int]]) -> dict[int, int]:
    """Each node's profile id: the smallest record id of its connected group (deterministic)."""
    parent = {n: n for n in nodes}

    def find(n: int) -> int:
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {n: find(n) for n in parent}


def strongest(kinds: Sequence[Identifier]) -> Identifier:
    return min(kinds, key=PRIORITY.index)
