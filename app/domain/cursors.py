"""Opaque keyset cursors: a listing's name and its integer sort keys, base64url of JSON.

A cursor is refused (INVALID_CURSOR at `after`) unless it is exactly what this listing made:
same listing name, the same number of keys, each a 64-bit integer.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime, timedelta

from app.domain.errors import DomainError, ErrorCode

_INT64 = range(-(2**63), 2**63)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
MAX_CURSOR_LENGTH = 200


def encode_cursor(listing: str, *keys: int) -> str:
    """The cursor after a row whose sort keys are `keys` in the listing `listing`."""
    text = json.dumps([listing, *keys], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode()


def decode_cursor(
    cursor: str, listing: str, arity: int, path: tuple[str | int, ...] = ("after",)
) -> tuple[int, ...]:
    """The `arity` sort keys a cursor of this listing carries, or INVALID_CURSOR."""
    refused = DomainError(ErrorCode.INVALID_CURSOR, "cursor is not from this listing", path)
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise refused
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeError, RecursionError):
        raise refused from None
    if not isinstance(raw, list) or len(raw) != arity + 1 or raw[0] != listing:
        raise refused
    keys = raw[1:]
    if not all(type(key) is int and key in _INT64 for key in keys):
        raise refused
    return tuple(keys)


def instant_key(instant: datetime) -> int:
    """A sort key for an aware instant: microseconds since the epoch (exact both ways)."""
    return (instant - _EPOCH) // _MICROSECOND


def instant_of_key(key: int) -> datetime:
    return _EPOCH + key * _MICROSECOND
