"""RetailCRM's wire format for consents, erasure and segment exports (pure).

Consents: `customerSubscriptions[{channel, subscribed, changedAt}]` and
`emailMarketingUnsubscribedAt` on the customer (customers/{key}/edit). A segment export sets a
boolean custom field named by the segment's code on each member: the managers' own RetailCRM
segment filters on it. Erasure blanks the person's fields (an empty value clears one)."""

from __future__ import annotations

from typing import Any

from app.domain.consents import ConsentRecord, SegmentMemberRecord, SystemIds
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
    return {"customFields": {record.segment: True}}
