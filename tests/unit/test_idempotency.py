"""Client idempotency keys."""

from __future__ import annotations

import pytest

from app.domain.errors import DomainError, ErrorCode
from app.domain.idempotency import check_idempotency_key


def test_a_key_is_stored_without_surrounding_blanks() -> None:
    assert check_idempotency_key("  key-0001 \n") == "key-0001"
    assert check_idempotency_key("k" * 100) == "k" * 100


@pytest.mark.parametrize("key", ["", "short12", "   1234567  ", "k" * 101])
def test_a_key_outside_8_to_100_characters_is_refused_with_its_path(key: str) -> None:
    with pytest.raises(DomainError) as caught:
        check_idempotency_key(key)
    assert (caught.value.code, caught.value.path) == (ErrorCode.INVALID, ("idempotencyKey",))
    assert caught.value.message == "8 to 100 characters"
