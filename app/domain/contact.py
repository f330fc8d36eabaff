"""Shopper contact details, normalised so one person is recognised across channels.

Checked by maintained libraries, not by our own patterns: `email-validator` (syntax, IDNA,
unsafe characters) and `phonenumbers` (libphonenumber's numbering plans). Both are pure: no
I/O here (deliverability, which would ask DNS, is never checked). One address or number has
one stored spelling, so per-contact limits cannot be slipped past by spelling it differently.
"""

from __future__ import annotations

import re

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from app.domain.errors import DomainError, ErrorCode

MAX_EMAIL = 254  # the column, and RFC 5321's limit on a path
MAX_PHONE_INPUT = 64  # the longest phone spelling we accept and keep as typed (`phone_raw`)
PHONE_REGION = "RU"  # numbers without a country code are Russian: 8 916 …, 916 …
# What a person types for a phone: ASCII digits, a leading plus, spaces, dashes, dots and
# brackets. Letters (vanity numbers, "ext. 5"), other scripts' digits (which libphonenumber
# would quietly read as ours) and invisible or direction characters are refused.
_PHONE_INPUT = re.compile(r"\+?[0-9 ()\-.]+")


def normalise_email(value: str, path: tuple[str | int, ...] = ("email",)) -> str:
    """The address as stored: valid for email-validator, in its ASCII form, in lower case.

    A local part (before the @) must be ASCII: SMTPUTF8 addresses are refused, because the
    systems we pass addresses to (YooKassa receipts, 1C, RetailCRM, many mail servers) do not
    all take them, and letters of other scripts that look like Latin ones would give one
    mailbox many spellings. An international domain is accepted and stored in its ASCII
    (punycode) form, for the same two reasons.
    """
    candidate = value.strip()
    if len(candidate) > MAX_EMAIL:
        raise _not_an_email(value, path)
    try:
        checked = validate_email(candidate, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError:
        raise _not_an_email(value, path) from None
    email = (checked.ascii_email or "").lower()
    if not email or len(email) > MAX_EMAIL:
        raise _not_an_email(value, path)
    return email


def normalise_phone(value: str, path: tuple[str | int, ...] = ("phone",)) -> str:
    """E.164, e.g. +79161234567. Russian habits are understood (8 916 …, 9161234567 and
    +7 916 … are one number); the number must be one libphonenumber knows to be valid, so
    +0000000000 or 12-34 are refused. Keep `value.strip()` beside it as what was typed."""
    typed = value.strip()
    if len(typed) > MAX_PHONE_INPUT or not _PHONE_INPUT.fullmatch(typed):
        raise _not_a_phone(value, path)
    try:
        number = phonenumbers.parse(typed, PHONE_REGION)
    except phonenumbers.NumberParseException:
        raise _not_a_phone(value, path) from None
    if not phonenumbers.is_valid_number(number):
        raise _not_a_phone(value, path)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _not_an_email(value: str, path: tuple[str | int, ...]) -> DomainError:
    return DomainError(ErrorCode.INVALID, f"not an e-mail address: {value[:64]!r}", path)


def _not_a_phone(value: str, path: tuple[str | int, ...]) -> DomainError:
    return DomainError(ErrorCode.INVALID, f"not a phone number: {value[:64]!r}", path)
