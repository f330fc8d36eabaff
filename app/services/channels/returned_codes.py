"""The marked units a return takes back, recorded in the return's transaction (the order's row
is locked by the caller, so two returns of one order pick their codes one after the other; the
unique marking code per returned row makes a second taking of one code fail, not pass)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from app.domain.marking import ShippedCode, codes_coming_back
from app.models.channels import MarkingCode, OrderReturn, ReturnedMarkingCode


async def record_returned_codes(
    order_id: int, row: OrderReturn, units: Mapping[int, int], named: Sequence[str]
) -> dict[int, list[str]]:
    """Which coded units of `units` (per variant) come back with `row`, recorded; the codes
    per variant. Refused (nothing written) for a code not of this order or back already."""
    codes = await MarkingCode.filter(order_id=order_id).order_by("id")
    taken = ReturnedMarkingCode.filter(marking_code__order_id=order_id)
    back = {int(str(i)) for i in await taken.values_list("marking_code_id", flat=True)}
    shipped = [ShippedCode(c.code, c.variant_id, c.id in back) for c in codes]
    chosen = codes_coming_back(shipped, units, named)
    ids = {c.code: c.id for c in codes}
    wanted = {code.strip() for code in named}
    await ReturnedMarkingCode.bulk_create(
        [
            ReturnedMarkingCode(order_return_id=row.id, marking_code_id=ids[c], named=c in wanted)
            for picked in chosen.values()
            for c in picked
        ]
    )
    return chosen


async def codes_of_return(order_return_id: int) -> dict[int, list[str]]:
    """The codes a return took back, per variant, in shipment order."""
    rows = (
        await ReturnedMarkingCode.filter(order_return_id=order_return_id)
        .order_by("marking_code_id")
        .values_list("marking_code__variant_id", "marking_code__code")
    )
    found: dict[int, list[str]] = {}
    for variant, code in rows:
        found.setdefault(int(str(variant)), []).append(str(code))
    return found
