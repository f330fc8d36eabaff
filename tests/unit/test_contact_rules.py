"""Contact details: one address or number has one stored spelling; anything else is refused."""

from __future__ import annotations

import pytest

from app.domain.contact import MAX_PHONE_INPUT, normalise_email, normalise_phone
from app.domain.errors import DomainError, ErrorCode


def _refused_email(value: str) -> tuple[ErrorCode, tuple[str | int, ...]]:
    with pytest.raises(DomainError) as error:
        normalise_email(value)
    return error.value.code, tuple(error.value.path)


def _refused_phone(value: str) -> tuple[ErrorCode, tuple[str | int, ...]]:
    with pytest.raises(DomainError) as error:
        normalise_phone(value)
    return error.value.code, tuple(error.value.path)


# --- e-mail -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        (" Anna@Example.COM ", "anna@example.com"),
        ("anna+drops@example.com", "anna+drops@example.com"),
        ("anna@ｅxample.com", "anna@example.com"),  # a full-width letter in the domain folds
        ("ivan@почта.рф", "ivan@xn--80a1acny.xn--p1ai"),  # one spelling for an IDN domain
        ("Ivan@ПОЧТА.РФ", "ivan@xn--80a1acny.xn--p1ai"),
        ("ivan@xn--80a1acny.xn--p1ai", "ivan@xn--80a1acny.xn--p1ai"),
    ],
)
def test_an_address_is_stored_in_one_spelling(typed: str, stored: str) -> None:
    assert normalise_email(typed) == stored


@pytest.mark.parametrize(
    "hostile",
    [
        "anna\u202e@example.com",  # right-to-left override
        "anna@exa\u202emple.com",
        "\u2066anna@example.com\u2069",  # isolates
        "an\u200bna@example.com",  # zero-width space
        "anna@exam\u200bple.com",
        "an\u200dna@example.com",  # zero-width joiner
        "anna\ufeff@example.com",  # byte-order mark
        "anna@exa\u00admple.com",  # soft hyphen
        "<b>anna</b>@example.com",
        "anna@example.com<script>",
        "<anna@example.com>",
        "Anna <anna@example.com>",
        '"anna"@example.com',
        "anna@[127.0.0.1]",
        "аnna@example.com",  # a Cyrillic а: SMTPUTF8 local parts are refused
        "иван@почта.рф",
        "ａnna@example.com",  # full-width letters before the @
        "anna@example.com\x00",
        "anna@exam\nple.com",
        "anna@localhost",
        "anna@shop.test",  # special-use names
        "anna@example.com.",
        "anna..b@example.com",
        "x" * 250 + "@example.com",
        "anna",
        "a@b",
        "a b@c.d",
        "anna@",
        "",
    ],
)
def test_an_address_with_hidden_characters_or_markup_is_refused(hostile: str) -> None:
    assert _refused_email(hostile) == (ErrorCode.INVALID, ("email",))


def test_the_refusal_names_the_given_path_and_quotes_a_short_safe_part() -> None:
    with pytest.raises(DomainError) as error:
        normalise_email("anna\u202e" + "x" * 500 + "@example.com", ("input", "email"))
    assert (error.value.code, tuple(error.value.path)) == (ErrorCode.INVALID, ("input", "email"))
    assert "\u202e" not in error.value.message and len(error.value.message) < 100


# --- phones -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "e164"),
    [
        ("8 (916) 123-45-67", "+79161234567"),
        ("8-916-123-45-67", "+79161234567"),
        ("(916) 123-45-67", "+79161234567"),
        ("9161234567", "+79161234567"),
        ("79161234567", "+79161234567"),
        ("+7 916 123 45 67", "+79161234567"),
        (" +7.916.123.45.67 ", "+79161234567"),
        ("8 495 123-45-67", "+74951234567"),
        ("+44 20 7946 0958", "+442079460958"),
        ("+375 29 123-45-67", "+375291234567"),
    ],
)
def test_a_phone_is_stored_as_e164(typed: str, e164: str) -> None:
    assert normalise_phone(typed) == e164


@pytest.mark.parametrize(
    "bad",
    [
        "+0000000000",
        "+٧٩١٦١٢٣٤٥٦٧",  # Arabic-Indic digits
        "+۷۹۱۶۱۲۳۴۵۶۷",  # Extended Arabic-Indic (Persian) digits
        "+７９１６１２３４５６７",  # full-width digits
        "８ ９１６ １２３ ４５ ６７",
        "+7 916 123\u200b45 67",  # zero-width space
        "+7 916 123 45 67\u202e",
        "+7 916 123-45-67 ext. 5",
        "+7 916 CALL-NOW",
        "8 800 FLOWERS",
        "+7 916 123 45 67 <script>",
        "12-34",
        "12",
        "+",
        "()",
        "+7 000 000-00-00",
        "+7 916 123 45 6",  # a digit short
        "+7 916 123 45 678",  # a digit too many
        "+999 123 456 789",  # no such country code
        "1" * 16,
        "9" * (MAX_PHONE_INPUT + 1),
        "++79161234567",
        "7+9161234567",
        "",
    ],
)
def test_an_impossible_number_or_one_in_other_digits_is_refused(bad: str) -> None:
    assert _refused_phone(bad) == (ErrorCode.INVALID, ("phone",))


def test_a_phone_refusal_keeps_its_path() -> None:
    with pytest.raises(DomainError) as error:
        normalise_phone("+0000000000", ("input", "phone"))
    assert (error.value.code, tuple(error.value.path)) == (ErrorCode.INVALID, ("input", "phone"))
