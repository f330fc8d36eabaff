"""The closing receipt (чек зачёта предоплаты, 54-FZ) of a prepaid order when it is shipped.

The shopper paid in advance; when the goods are handed over a second receipt with payment mode
"full payment" settles that prepayment. Clothing is marked goods: a unit whose marking code is
known is a line of its own (quantity 1) carrying its code; units without a code share a line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class ClosingReceiptItem:
    description: str
    quantity: int
    unit_price_kopecks: int
    mark_code: str | None = None  # the unit's marking code (Честный ЗНАК), quantity 1


@dataclass(frozen=True)
class ClosingReceiptRecord:
    """An outbox payload: the receipt to register through the payment provider."""

    order_guid: str
    payment_guid: str
    provider: str
    provider_payment_id: str
    email: str | None
    phone: str | None  # E.164
    items: list[ClosingReceiptItem] = field(default_factory=list)
    # The buyer was erased while this receipt was on its way: the contact stays only until
    # the provider has the receipt (54-FZ), then our copy loses it (`kept_after_delivery`).
    erased: bool = False

    @property
    def amount_kopecks(self) -> int:
        """The prepayment this receipt settles: what the items it hands over cost."""
        return sum(item.quantity * item.unit_price_kopecks for item in self.items)


@dataclass(frozen=True)
class ShipmentCaptureRecord:
    """An outbox payload: take the authorised money of a two-stage payment when its order
    ships, before the closing receipt (same aggregate, so that receipt follows the capture).
    A partial capture (units no warehouse had) carries the receipt of what it takes."""

    order_guid: str
    payment_guid: str
    provider: str
    provider_payment_id: str
    amount_kopecks: int | None  # None: the whole authorised sum
    email: str | None
    phone: str | None  # E.164
    items: list[ClosingReceiptItem] = field(default_factory=list)  # a partial capture's receipt
    erased: bool = False  # as on the closing receipt


@dataclass(frozen=True, slots=True)
class ShippedLine:
    variant_id: int
    description: str
    units: int  # served (ordered less those no warehouse had)
    unit_price_kopecks: int


def closing_items(
    lines: Sequence[ShippedLine], codes: Mapping[int, Sequence[str]]
) -> list[ClosingReceiptItem]:
    """The receipt's items: a line per coded unit, then one for the line's other units."""
    items: list[ClosingReceiptItem] = []
    left = {variant: list(found) for variant, found in codes.items()}
    for line in lines:
        mine = left.get(line.variant_id, [])
        coded, left[line.variant_id] = mine[: line.units], mine[line.units :]
        items += [
            ClosingReceiptItem(line.description, 1, line.unit_price_kopecks, code) for code in coded
        ]
        if line.units > len(coded):
            rest = line.units - len(coded)
            items.append(ClosingReceiptItem(line.description, rest, line.unit_price_kopecks))
    return items


def closing_receipt_from_json(data: dict[str, Any]) -> ClosingReceiptRecord:
    return ClosingReceiptRecord(
        **{**data, "items": [ClosingReceiptItem(**item) for item in data["items"]]}
    )


def shipment_capture_from_json(data: dict[str, Any]) -> ShipmentCaptureRecord:
    return ShipmentCaptureRecord(
        **{**data, "items": [ClosingReceiptItem(**item) for item in data["items"]]}
    )
