"""Consents: a ledger of grants and withdrawals, the state derived from it, and the records
1C and RetailCRM hear of consents, erasures and segment exports.

152-FZ (since 1 September 2025): consent to process personal data is its own document,
never folded into an offer or into advertising consent, so it is a separate purpose here.
38-FZ art. 18: advertising by e-mail, SMS or calls needs prior consent the sender can prove
(source, text version, instant, device or shop) and stops at once when withdrawn: the latest
event wins, whatever came before, and nothing caches the state.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class ConsentPurpose(StrEnum):
    PERSONAL_DATA = "personal_data"
    MARKETING = "marketing"


class MarketingChannel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    CALLS = "calls"
    MESSENGERS = "messengers"


class ConsentSource(StrEnum):
    SITE = "site"
    SHOP = "shop"
    RETAILCRM = "retailcrm"
    STAFF = "staff"


@dataclass(frozen=True, slots=True)
class ConsentFact:
    """One ledger event, as the rules need it."""

    id: int
    purpose: ConsentPurpose
    channel: MarketingChannel | None
    granted: bool
    at: datetime


@dataclass(frozen=True, slots=True)
class ConsentState:
    """The state now: personal data, and marketing per channel (None: never asked)."""

    personal_data: ConsentFact | None
    marketing: dict[MarketingChannel, ConsentFact]

    def may_market(self, channel: MarketingChannel) -> bool:
        """Advertising may go by `channel` only with both consents standing."""
        fact = self.marketing.get(channel)
        pd = self.personal_data
        return fact is not None and fact.granted and pd is not None and pd.granted


def _latest(facts: Iterable[ConsentFact]) -> ConsentFact | None:
    return max(facts, key=lambda f: (f.at, f.id), default=None)


def derive(facts: Iterable[ConsentFact]) -> ConsentState:
    """The latest event per purpose and channel wins (ties: the later written)."""
    listed = list(facts)
    pd = _latest(f for f in listed if f.purpose is ConsentPurpose.PERSONAL_DATA)
    marketing = {}
    for channel in MarketingChannel:
        fact = _latest(
            f for f in listed if f.purpose is ConsentPurpose.MARKETING and f.channel is channel
        )
        if fact is not None:
            marketing[channel] = fact
    return ConsentState(pd, marketing)


def check_text_version(value: str) -> str | None:
    """The consent document's version as stored; None when unusable (1..64 printable)."""
    version = value.strip()
    if not 1 <= len(version) <= 64 or not version.isprintable():
        return None
    return version


# Which contact a channel needs in an export: calls and messengers reach a phone.
CONTACT_OF: dict[MarketingChannel, str] = {
    MarketingChannel.EMAIL: "email",
    MarketingChannel.SMS: "phone",
    MarketingChannel.CALLS: "phone",
    MarketingChannel.MESSENGERS: "phone",
}


@dataclass(frozen=True, slots=True)
class SystemIds:
    """One person's ids in the other systems (a profile may hold several of each)."""

    customer_guid: str | None  # ours: the site account (externalId in RetailCRM)
    onec_guids: tuple[str, ...] = ()
    retailcrm_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ChannelSubscription:
    channel: MarketingChannel
    subscribed: bool
    changed_at: datetime


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    """A profile's consents now, for RetailCRM's customerSubscriptions and 1C."""

    ids: SystemIds
    personal_data: bool
    subscriptions: tuple[ChannelSubscription, ...]
    email_unsubscribed_at: datetime | None
    changed_at: datetime


@dataclass(frozen=True, slots=True)
class ErasureRecord:
    """A person asked to be forgotten: each system anonymises what it holds of them."""

    ids: SystemIds
    erased_at: datetime


@dataclass(frozen=True, slots=True)
class SegmentMemberRecord:
    """One member of an exported segment, with the contact its channel may use."""

    export_guid: str
    segment: str  # the code of RetailCRM's custom field the managers' segment reads
    channel: MarketingChannel
    ids: SystemIds
    contact: str


def consent_record(state: ConsentState, ids: SystemIds, now: datetime) -> ConsentRecord:
    subs = tuple(
        ChannelSubscription(c, state.may_market(c), f.at) for c, f in state.marketing.items()
    )
    email = state.marketing.get(MarketingChannel.EMAIL)
    unsubscribed = None
    if not state.may_market(MarketingChannel.EMAIL):
        unsubscribed = email.at if email is not None else now
    pd = state.personal_data
    return ConsentRecord(ids, pd is not None and pd.granted, subs, unsubscribed, now)


def to_plain(record: ConsentRecord | ErasureRecord | SegmentMemberRecord) -> dict[str, Any]:
    plain: dict[str, Any] = _plain(asdict(record))
    return plain


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _ids(data: dict[str, Any]) -> SystemIds:
    return SystemIds(data["customer_guid"], tuple(data["onec_guids"]), tuple(data["retailcrm_ids"]))


def _at(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def consent_from_plain(data: dict[str, Any]) -> ConsentRecord:
    subs = tuple(
        ChannelSubscription(
            MarketingChannel(s["channel"]), s["subscribed"], datetime.fromisoformat(s["changed_at"])
        )
        for s in data["subscriptions"]
    )
    return ConsentRecord(
        _ids(data["ids"]),
        data["personal_data"],
        subs,
        _at(data["email_unsubscribed_at"]),
        datetime.fromisoformat(data["changed_at"]),
    )


def erasure_from_plain(data: dict[str, Any]) -> ErasureRecord:
    return ErasureRecord(_ids(data["ids"]), datetime.fromisoformat(data["erased_at"]))


def segment_member_from_plain(data: dict[str, Any]) -> SegmentMemberRecord:
    return SegmentMemberRecord(
        data["export_guid"],
        data["segment"],
        MarketingChannel(data["channel"]),
        _ids(data["ids"]),
        data["contact"],
    )
