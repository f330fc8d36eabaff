"""Which marked units (Честный ЗНАК codes) a return takes back, and what its refund receipt says.

A unit shipped with a marking code goes back with that code: the refund's receipt carries it
(`mark_code_info`), so the code leaves the buyer and returns to circulation. 1C's return may
name the codes it took back; when it names none for a variant (or fewer than the units), the
rest are picked in shipment order among the codes still out, and recorded, so a later partial
return never reuses a code. Pure: the service feeds the codes it read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from app.domain.errors import DomainError, ErrorCode


@dataclass(frozen=True, slots=True)
class ShippedCode:
    """A coded unit of the order: its code and variant, and whether it came back already."""

    code: str
    variant_id: int
    returned: bool = False


def codes_coming_back(
    shipped: Sequence[ShippedCode], units: Mapping[int, int], named: Sequence[str]
) -> dict[int, list[str]]:
    """Per variant, the codes of the `units` coming back now: the `named` ones first (each a
    code of this order still out, of a variant coming back, no more than its units), then the
    first codes still out in shipment order. A variant with fewer codes out than units: the
    uncoded units make up the rest. Refusals are at `returnMarkingCodes[i]`."""
    by_code = {c.code: c for c in shipped}
    chosen: dict[int, list[str]] = {}
    for index, raw in enumerate(named):
        code = raw.strip()
        _check_named(by_code.get(code), code, index, chosen, units)
        chosen.setdefault(by_code[code].variant_id, []).append(code)
    taken = {code for codes in chosen.values() for code in codes}
    for variant, wanted in units.items():
        mine = chosen.setdefault(variant, [])
        free = [c.code for c in shipped if c.variant_id == variant]
        free = [c for c in free if not by_code[c].returned and c not in taken]
        mine += free[: max(0, wanted - len(mine))]
    return {variant: codes for variant, codes in chosen.items() if codes}


def _check_named(
    found: ShippedCode | None,
    code: str,
    index: int,
    chosen: Mapping[int, list[str]],
    units: Mapping[int, int],
) -> None:
    where = ("returnMarkingCodes", index)
    if found is None:
        raise DomainError(ErrorCode.INVALID, f"no unit of this order has code {code!r}", where)
    if found.returned or code in chosen.get(found.variant_id, []):
        raise DomainError(ErrorCode.CONFLICT, f"the unit {code!r} came back already", where)
    if len(chosen.get(found.variant_id, [])) >= units.get(found.variant_id, 0):
        message = f"more codes than units of the code's variant coming back ({code!r})"
        raise DomainError(ErrorCode.INVALID, message, where)
