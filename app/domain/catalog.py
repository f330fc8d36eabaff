"""Catalog rules: what a shopper may see, how prices and slugs are written."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from decimal import Decimal, InvalidOperation

from app.domain.errors import DomainError, ErrorCode

_LATIN = "a b v g d e e zh z i y k l m n o p r s t u f kh ts ch sh shch _ y _ e yu ya".split()
_TRANSLIT = {
    cyr: ("" if lat == "_" else lat)
    for cyr, lat in zip("абвгдеёжзийклмнопрстуфхцчшщъыьэюя", _LATIN, strict=True)
}


def is_visible(*, published: bool, release_at: datetime | None, now: datetime) -> bool:
    """A product is shown once published and once its collection's drop has started."""
    return published and (release_at is None or release_at <= now)


def parse_rub(value: str | Decimal, *, path: tuple[str | int, ...] = ()) -> int:
    """Turn roubles as a decimal string ("4990.00") into kopecks; never through float."""
    try:
        amount = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise DomainError(
            ErrorCode.INVALID_PRICE, f"not a decimal amount: {value!r}", path
        ) from None
    if not amount.is_finite() or amount < 0:
        raise DomainError(ErrorCode.INVALID_PRICE, f"price must be ≥ 0: {value}", path)
    kopecks = amount * 100
    if kopecks != kopecks.to_integral_value():
        raise DomainError(ErrorCode.INVALID_PRICE, f"more than 2 decimal places: {value}", path)
    return int(kopecks)


def kopecks_to_rub(kopecks: int) -> Decimal:
    return (Decimal(kopecks) / 100).quantize(Decimal("0.01"))


def slugify(text: str) -> str:
    """A URL slug in Latin letters (Cyrillic transliterated), e.g. "Платье миди" → "plate-midi"."""
    out = "".join(_TRANSLIT.get(ch, ch) for ch in text.lower())
    out = re.sub(r"[^a-z0-9]+", "-", out).strip("-")
    return out or "item"


def parse_guid(value: str, *, path: tuple[str | int, ...] = ()) -> str:
    """Normalise a 1C GUID (36-character UUID string) to lower case; reject anything else."""
    try:
        return str(uuid.UUID(value.strip()))
    except (ValueError, AttributeError):
        raise DomainError(ErrorCode.INVALID_GUID, f"not a 1C GUID: {value!r}", path) from None
