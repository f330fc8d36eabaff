"""What RetailCRM's answer to `customers/upload` or `orders/upload` says of each entity sent.

RetailCRM creates what it can of a batch and says which (API v5 reference; the same shapes in
its official clients' tests):

- all created: 201 `{"success": true, "uploadedOrders": [{"id": 7, "externalId": "…"}, …]}`
- some refused: 460 `{"success": false, "uploadedOrders": [...], "failedOrders":
  [{"externalId": "…"}], "errorMsg": "Orders are loaded with errors", "errors": [...]}`, the
  errors a list of texts (or an object of field: text) that do not say which entity each is
  about, except that an existing externalId is refused as "… externalId=<id> already exists."

So per entity: created (listed as uploaded), exists (a refusal naming its externalId as
existing: edit it by externalId), or failed (anything else, including an entity the answer
does not mention at all). A failed entity is sent again on its own, where RetailCRM's answer is
about it alone; nothing is assumed about an entity the answer leaves out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

PARTLY_LOADED = 460  # RetailCRM's status for a batch of which some entities were refused


@dataclass(frozen=True)
class Uploaded:
    """Per externalId sent: created, already there, or refused (with the batch's reasons)."""

    created: frozenset[str] = frozenset()
    existing: frozenset[str] = frozenset()
    failed: dict[str, str] = field(default_factory=dict)


def read_upload(body: dict[str, Any], listed: str, sent: Sequence[str], reason: str) -> Uploaded:
    """Sort the `sent` externalIds by the answer `body`; `listed` is e.g. "uploadedOrders"."""
    created = frozenset(_external_ids(body.get(listed)))
    errors = _texts(body.get("errors"))
    existing = frozenset(
        external_id
        for external_id in sent
        if external_id not in created
        and any(f"externalId={external_id}" in e and "already exist" in e for e in errors)
    )
    failed = {
        external_id: reason or "not reported as uploaded"
        for external_id in sent
        if external_id not in created and external_id not in existing
    }
    return Uploaded(created, existing, failed)


def _external_ids(items: Any) -> list[str]:
    if not isinstance(items, list):
        return []
    return [str(i["externalId"]) for i in items if isinstance(i, dict) and "externalId" in i]


def _texts(errors: Any) -> list[str]:
    if isinstance(errors, dict):
        return [f"{name}: {text}" for name, text in errors.items()]
    if isinstance(errors, list):
        return [str(text) for text in errors]
    return []
