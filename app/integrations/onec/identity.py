"""1C's wire format for a person's consents and erasure (pure): PUT customers/{key}/consents
and PUT customers/{key}/erasure, keyed by our customer GUID (or 1C's counterparty GUID when the
person has no site account), with every counterparty of the person listed."""

from __future__ import annotations

from typing import Any

from app.domain.consents import ConsentRecord, ErasureRecord, SystemIds
from app.integrations.onec.mapping import moment

Json = dict[str, Any]


def customer_key(ids: SystemIds) -> str | None:
    """Ours, else 1C's first counterparty; None when 1C knows nothing of the person."""
    if ids.customer_guid:
        return ids.customer_guid
    return ids.onec_guids[0] if ids.onec_guids else None


def consent_payload(record: ConsentRecord) -> Json:
    return {
        "counterparties": list(record.ids.onec_guids),
        "personalData": record.personal_data,
        "marketing": {s.channel.value: s.subscribed for s in record.subscriptions},
        "changedAt": moment(record.changed_at),
    }


def erasure_payload(record: ErasureRecord) -> Json:
    return {"counterparties": list(record.ids.onec_guids), "erasedAt": moment(record.erased_at)}
