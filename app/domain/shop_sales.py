"""Shop till receipts from 1C:Розница (ЧекККМ and ЧекККМВозврат), checked and made plain.

A receipt is identified by its GUID: the same receipt sent again changes nothing, and another
body under a known GUID is a conflict (a till does not rewrite a printed receipt). Its
fingerprint, a digest of the receipt as it matters to us, tells the two apart.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from app.domain.catalog import parse_guid, parse_rub
from app.domain.errors import DomainError, ErrorCode
from app.domain.stock import MAX_CLOCK_SKEW, parse_instant

MAX_LINES = 200  # lines on one receipt
MAX_UNITS = 10_000  # units on one line
Path = tuple[str | int, ...]


class ReceiptKind(StrEnum):
    SALE = "sale"  # ЧекККМ
    RETURN = "return"  # ЧекККМВозврат: refers to the sale it undoes


@dataclass(frozen=True, slots=True)
class RawReceiptLine:
    variant_guid: str
    quantity: int
    price: str  # roubles per unit, before the discount
    discount: str = "0"  # roubles off the line


@dataclass(frozen=True, slots=True)
class RawReceipt:
    """A receipt as 1C sent it."""

    guid: str
    shop_guid: str
    sold_at: str
    lines: Sequence[RawReceiptLine]
    kind: ReceiptKind = ReceiptKind.SALE
    sale_guid: str | None = None  # a return: the sale receipt it undoes
    phone: str | None = None  # as the till saw it
    loyalty_card: str | None = None
    email: str | None = None
    customer_guid: str | None = None  # 1C's Контрагент, when the till knows one


@dataclass(frozen=True, slots=True)
class ReceiptLine:
    variant_guid: str
    quantity: int  # > 0 on both kinds: the kind says which way the units went
    price: int  # kopecks per unit
    discount: int  # kopecks off the line
    amount: int  # kopecks paid (or given back) for the line


@dataclass(frozen=True, slots=True)
class Receipt:
    guid: str
    kind: ReceiptKind
    shop_guid: str
    sold_at: datetime
    lines: tuple[ReceiptLine, ...]
    sale_guid: str | None
    phone: str | None
    loyalty_card: str | None
    email: str | None
    customer_guid: str | None

    @property
    def total(self) -> int:
        return sum(line.amount for line in self.lines)

    def fingerprint(self) -> str:
        """A digest of everything the receipt says: equal for a re-delivery, not for an edit."""
        body = [
            self.kind.value,
            self.shop_guid,
            self.sold_at.isoformat(),
            self.sale_guid,
            self.phone,
            self.loyalty_card,
            self.email,
            self.customer_guid,
            [[ln.variant_guid, ln.quantity, ln.price, ln.discount] for ln in self.lines],
        ]
        return hashlib.sha256(json.dumps(body, ensure_ascii=False).encode()).hexdigest()


def parse_receipt(raw: RawReceipt, *, now: datetime, path: Path) -> Receipt:
    """Check one receipt as the till sent it; the first fault found is raised at its path."""
    guid = parse_guid(raw.guid, path=(*path, "guid"))
    shop = parse_guid(raw.shop_guid, path=(*path, "shopGuid"))
    sold_at = parse_instant(raw.sold_at, path=(*path, "soldAt"))
    if sold_at > now + MAX_CLOCK_SKEW:
        raise DomainError(ErrorCode.INVALID_DATETIME, "soldAt is in the future", (*path, "soldAt"))
    sale = _sale_reference(raw, path)
    lines = _lines(raw.lines, (*path, "lines"))
    return Receipt(
        guid=guid,
        kind=raw.kind,
        shop_guid=shop,
        sold_at=sold_at,
        lines=lines,
        sale_guid=sale,
        phone=_blank_is_none(raw.phone),
        loyalty_card=_blank_is_none(raw.loyalty_card),
        email=_blank_is_none(raw.email),
        customer_guid=None
        if _blank_is_none(raw.customer_guid) is None
        else parse_guid(raw.customer_guid or "", path=(*path, "customerGuid")),
    )


def _sale_reference(raw: RawReceipt, path: Path) -> str | None:
    where = (*path, "saleGuid")
    if raw.kind is ReceiptKind.SALE:
        if raw.sale_guid:
            raise DomainError(ErrorCode.INVALID, "only a return refers to a sale", where)
        return None
    if not raw.sale_guid:
        raise DomainError(ErrorCode.INVALID, "a return names the sale receipt it undoes", where)
    sale = parse_guid(raw.sale_guid, path=where)
    if sale == parse_guid(raw.guid, path=(*path, "guid")):
        raise DomainError(ErrorCode.INVALID, "a return cannot undo itself", where)
    return sale


def _lines(raw: Sequence[RawReceiptLine], path: Path) -> tuple[ReceiptLine, ...]:
    if not 1 <= len(raw) <= MAX_LINES:
        raise DomainError(ErrorCode.INVALID, f"a receipt has 1 to {MAX_LINES} lines", path)
    return tuple(_line(line, (*path, index)) for index, line in enumerate(raw))


def _line(raw: RawReceiptLine, path: Path) -> ReceiptLine:
    variant = parse_guid(raw.variant_guid, path=(*path, "variantGuid"))
    if not 0 < raw.quantity <= MAX_UNITS:
        raise DomainError(
            ErrorCode.INVALID_QUANTITY, f"quantity is 1..{MAX_UNITS}", (*path, "quantity")
        )
    price = parse_rub(raw.price, path=(*path, "price"))
    discount = parse_rub(raw.discount, path=(*path, "discount"))
    if discount > price * raw.quantity:
        raise DomainError(
            ErrorCode.INVALID_PRICE, "the discount exceeds the line", (*path, "discount")
        )
    return ReceiptLine(variant, raw.quantity, price, discount, price * raw.quantity - discount)


def _blank_is_none(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    return value.strip()


def customer_key(receipt: Receipt) -> str:
    """Whom the till saw, as the id of one source record: the loyalty card, else the phone as
    typed, else the e-mail, else the receipt itself (an anonymous sale: a record of its own,
    linked to no one)."""
    if receipt.loyalty_card:
        return f"card:{receipt.loyalty_card}"
    if receipt.phone:
        return f"phone:{receipt.phone}"
    if receipt.email:
        return f"email:{receipt.email.lower()}"
    return f"receipt:{receipt.guid}"
