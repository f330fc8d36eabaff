"""Opaque keyset cursors."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from app.domain.cursors import (
    decode_cursor,
    encode_cursor,
    instant_key,
    instant_of_key,
)
from app.domain.errors import DomainError, ErrorCode


def test_a_cursor_gives_back_the_keys_it_was_made_from() -> None:
    cursor = encode_cursor("orders", 42)
    assert decode_cursor(cursor, "orders", 1) == (42,)
    assert decode_cursor(
        encode_cursor("products:price_asc", 1990_00, 7), "products:price_asc", 2
    ) == (
        1990_00,
        7,
    )


def test_an_instant_key_is_exact_to_the_microsecond() -> None:
    instant = datetime(2026, 12, 2, 15, 31, 52, 123456, tzinfo=UTC)
    assert instant_of_key(instant_key(instant)) == instant


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    "cursor",
    [
        encode_cursor("outbox", 42),  # another listing's
        encode_cursor("orders", 1, 2),  # another shape
        _b64('["orders", "42"]'),  # a key that is not an integer
        _b64('["orders", true]'),
        _b64('["orders", 1.5]'),
        _b64(f'["orders", {2**63}]'),  # beyond 64 bits
        _b64('{"orders": 1}'),
        _b64("[" * 5000 + "]" * 5000),  # nested garbage
        "bm9wZQ==",  # "nope"
        "%%%",
        "ü",
        "A" * 201,
    ],
)
def test_a_cursor_this_listing_did_not_make_is_refused_at_after(cursor: str) -> None:
    with pytest.raises(DomainError) as caught:
        decode_cursor(cursor, "orders", 1)
    assert (caught.value.code, caught.value.path) == (ErrorCode.INVALID_CURSOR, ("after",))
