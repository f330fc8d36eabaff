"""RetailCRM's wire format for consents, erasure and segment exports (pure).

Consents: `customerSubscriptions[{channel, subscribed, changedAt}]` and
`emailMarketingUnsubscribedAt` on the customer (customers/{key}/edit). A segment export sets a
boolean custom field named by the segment's code on each member: the managers' own RetailCRM
segment filters on it. A batch of members goes in one `customers/upload` (up to 50): it creates
those RetailCRM does not have; those it has are refused there and edited one by one (API v5
has no batch edit of customers). Erasure blanks the person's fields (an empty value clears one)."""

from __future__ import annotations

from typing import Any

from app.domain.consents import (
    CONTACT_OF,
    ConsentRecord,
    MarketingChannel,
    SegmentMemberRecord,
    SystemIds,
)
from app.domain.segment_export import Member
from app.integrations.retailcrm.mapping import crm_datetime

Json = dict[str, Any]


def customer_keys(ids: SystemIds) -> list[tuple[str, str]]:
    """(key, by) for each RetailCRM customer of the person: ours by externalId, theirs by id."""
    keys = [(ids.customer_guid, "externalId")] if ids.customer_guid else []
    return keys + [(crm_id, "id") for crm_id in ids.retailcrm_ids]


def consent_payload(record: ConsentRecord) -> Json:
    unsubscribed = record.email_unsubscribed_at
    return {
        "customerSubscriptions": [
            {
                "channel": s.channel.value,
                "subscribed": s.subscribed,
                "changedAt": crm_datetime(s.changed_at),
            }
            for s in record.subscriptions
        ],
        "emailMarketingUnsubscribedAt": crm_datetime(unsubscribed) if unsubscribed else None,
    }


def erasure_payload(erased_at: Any) -> Json:
    return {
        "firstName": "",
        "lastName": "",
        "patronymic": "",
        "email": "",
        "phones": [],
        "emailMarketingUnsubscribedAt": crm_datetime(erased_at),
        "customerSubscriptions": [],
    }


def segment_member_payload(record: SegmentMemberRecord) -> Json:
    return segment_mark_payload(record.segment)


def segment_upload_payload(member: Member, segment: str, channel: MarketingChannel) -> Json:
    """A member in `customers/upload`: created with the segment's field and the contact the
    channel uses, if RetailCRM does not have them (one it has is refused, then edited)."""
    if member.ids.customer_guid is None:
        raise ValueError("only a member with our GUID can be uploaded")
    contact: Json = (
        {"email": member.contact}
        if CONTACT_OF[channel] == "email"
        else {"phones": [{"number": member.contact}]}
    )
    return {"externalId": member.ids.customer_guid, **contact, "customFields": {segment: True}}


def segment_mark_payload(segment: str) -> Json:
    """The edit of a member RetailCRM has: the segment's field only (their data stays theirs)."""
    return {"customFields": {segment: True}}
