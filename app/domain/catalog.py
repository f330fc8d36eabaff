"""Catalog rules: what a shopper may see, how prices and slugs are written."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit

from app.domain.errors import DomainError, ErrorCode

# The dearest price we take: a billion roubles. Any order total (at most 50 units a line) then
# still fits the 64-bit kopeck columns, and so does the price itself.
MAX_PRICE_KOPECKS = 100_000_000_000
MAX_PRICE_RUB = Decimal(MAX_PRICE_KOPECKS) / 100
_KOPECK = Decimal("0.01")
# A slug and the "-" and 8 GUID characters that make it unique fit the 200-character columns.
MAX_SLUG_LENGTH = 190

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
    if amount > MAX_PRICE_RUB:  # compared, not multiplied: "9e999999" must not overflow
        raise DomainError(ErrorCode.INVALID_PRICE, f"price must be at most {MAX_PRICE_RUB}", path)
    in_kopecks = amount.quantize(_KOPECK)
    if in_kopecks != amount:
        raise DomainError(ErrorCode.INVALID_PRICE, f"more than 2 decimal places: {value}", path)
    return int(in_kopecks * 100)


def kopecks_to_rub(kopecks: int) -> Decimal:
    return (Decimal(kopecks) / 100).quantize(Decimal("0.01"))


def slugify(text: str) -> str:
    """A URL slug in Latin letters (Cyrillic transliterated), e.g. "Платье миди" → "plate-midi";
    at most MAX_SLUG_LENGTH characters (transliteration can make a name four times longer)."""
    out = "".join(_TRANSLIT.get(ch, ch) for ch in text.lower())
    out = re.sub(r"[^a-z0-9]+", "-", out).strip("-")
    return out[:MAX_SLUG_LENGTH].rstrip("-") or "item"


def check_image_url(url: str, *, path: tuple[str | int, ...] = ()) -> str:
    """An image is an absolute http(s) URL with a host (never javascript:, data: or a path)."""
    refused = DomainError(
        ErrorCode.INVALID, "an image URL is http:// or https:// with a host", path
    )
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - reading it refuses a port that is not a number in range
    except ValueError:
        raise refused from None
    if parts.scheme.lower() not in {"http", "https"} or not parts.hostname:
        raise refused
    return url.strip()


def parse_guid(value: str, *, path: tuple[str | int, ...] = ()) -> str:
    """Normalise a 1C GUID (36-character UUID string) to lower case; reject anything else."""
    try:
        return str(uuid.UUID(value.strip()))
    except (ValueError, AttributeError):
        raise DomainError(ErrorCode.INVALID_GUID, f"not a 1C GUID: {value!r}", path) from None
