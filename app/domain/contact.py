"""Shopper contact details, normalised so one person is recognised across channels."""

from __future__ import annotations

import re

from app.domain.errors import DomainError, ErrorCode

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def normalise_email(value: str, path: tuple[str | int, ...] = ("email",)) -> str:
    email = value.strip().lower()
    if len(email) > 254 or not _EMAIL.match(email):
        raise DomainError(ErrorCode.INVALID, f"not an e-mail address: {value!r}", path)
    return email


def normalise_phone(value: str, path: tuple[str | int, ...] = ("phone",)) -> str:
    """E.164. Russian habits are understood: 8 916 … and 9161234567 both become +7916…."""
    digits = re.sub(r"\D", "", value)
    if value.strip().startswith("+"):
        candidate = "+" + digits
    elif len(digits) == 11 and digits[0] in "78":
        candidate = "+7" + digits[1:]
    elif len(digits) == 10 and digits[0] == "9":
        candidate = "+7" + digits
    else:
        candidate = "+" + digits
    if not 8 <= len(candidate) - 1 <= 15:
        raise DomainError(ErrorCode.INVALID, f"not a phone number: {value!r}", path)
    return candidate
