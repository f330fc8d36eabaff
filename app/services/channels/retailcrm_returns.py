"""Returns a manager records in RetailCRM, line by line: a line of one of our orders set to a
return status (`order_product.status`, the account's codes in `retailcrm_item_return_statuses`)
is a return of that line's units, refunded for those units only. The order-level "returned"
status then only sums up what the lines said: it returns everything still out only when no
line of the order came back (a manager who set the order's status alone).

Each is applied as 1C's returns are (`order_status.apply_status`: the order's row lock, forward
only, a savepoint of the page's transaction), under a return GUID made from the history entry's
id, so a page read again changes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence

from app.domain.order_status import Reported
from app.integrations.retailcrm.history import Change, ItemStatusSeen, StatusSeen
from app.models.channels import OrderReturn
from app.services.channels.order_status import StatusUpdate

ITEM_RETURNS = uuid.UUID("6a3f1c2e-9d4b-4e7a-8f10-2b5c7d9e0a31")  # history id → return guid
DEFAULT_ITEM_RETURN_CODES = frozenset({"return"})


def item_return(change: ItemStatusSeen) -> StatusUpdate:
    """The return one returned line makes (its units; all of the variant still out when the
    entry does not say how many)."""
    return StatusUpdate(
        order_guid=change.order_guid,
        status=Reported.RETURNED,
        changed_at=change.at.isoformat(),
        return_guid=str(uuid.uuid5(ITEM_RETURNS, str(change.history_id))),
        return_lines=None if change.units is None else [(change.variant_guid, change.units)],
        reason=f"in RetailCRM (line {change.code})",
    )


def lines_returned_on(changes: Sequence[Change], codes: Collection[str]) -> set[str]:
    """Our orders a line of which this page returns (their order-level "returned" is a sum)."""
    return {c.order_guid for c in changes if isinstance(c, ItemStatusSeen) and c.code in codes}


async def returned_before(change: StatusSeen) -> bool:
    """Whether units of the order came back already (a return from 1C or from a line)."""
    return await OrderReturn.filter(order__guid=change.order_guid).exists()
