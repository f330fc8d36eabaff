"""Input rules: what text we accept, how dear a price may be, image URLs, slug length."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.domain.catalog import (
    MAX_PRICE_KOPECKS,
    MAX_SLUG_LENGTH,
    check_image_url,
    parse_rub,
    slugify,
)
from app.domain.errors import DomainError, ErrorCode
from app.domain.text import MAX_TEXT_LENGTH, check_text

PATH = ("input", "products", 2, "name")


def _refusal(value: str, **rule: object) -> tuple[ErrorCode, tuple[str | int, ...], str]:
    with pytest.raises(DomainError) as error:
        check_text(value, path=PATH, **rule)  # type: ignore[arg-type]
    return error.value.code, tuple(error.value.path), error.value.message


def test_ordinary_text_in_any_script_passes() -> None:
    check_text("Платье миди «Осень» — 100% шерсть, размер 42 😊", max_length=300)
    check_text("", max_length=1)
    check_text("x" * MAX_TEXT_LENGTH)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("bad\x00", "a control character (U+0000) at position 3 is not allowed here"),
        ("a\tb", "a control character (U+0009) at position 1 is not allowed here"),
        ("line\nbreak", "a control character (U+000A) at position 4 is not allowed here"),
        ("\x1b[31mred", "a control character (U+001B) at position 0 is not allowed here"),
        ("del\x7f", "a control character (U+007F) at position 3 is not allowed here"),
        ("c1\x85", "a control character (U+0085) at position 2 is not allowed here"),
        ("half\ud800", "a surrogate (U+D800) at position 4 is not allowed here"),
        ("\udfff", "a surrogate (U+DFFF) at position 0 is not allowed here"),
    ],
)
def test_nul_controls_and_lone_surrogates_are_refused_at_their_path(
    value: str, message: str
) -> None:
    assert _refusal(value) == (ErrorCode.INVALID, PATH, message)


def test_free_text_may_hold_line_breaks_and_tabs_but_still_no_nul_or_escape() -> None:
    check_text("Состав:\r\n\tшерсть 100%\nуход: ручная стирка", multiline=True)
    assert _refusal("a\x00", multiline=True)[2].startswith("a control character (U+0000)")
    assert _refusal("a\x1b", multiline=True)[2].startswith("a control character (U+001B)")
    assert _refusal("a\x0c", multiline=True)[2].startswith("a control character (U+000C)")
    assert _refusal("a\ud83d", multiline=True)[2].startswith("a surrogate (U+D83D)")


def test_text_longer_than_its_maximum_is_refused_before_anything_else() -> None:
    check_text("я" * 300, max_length=300)
    assert _refusal("я" * 301, max_length=300) == (
        ErrorCode.INVALID,
        PATH,
        "at most 300 characters",
    )
    assert _refusal("x" * (MAX_TEXT_LENGTH + 1))[2] == f"at most {MAX_TEXT_LENGTH} characters"


def test_the_dearest_price_is_a_billion_roubles_and_fits_64_bits() -> None:
    assert parse_rub("1000000000.00") == MAX_PRICE_KOPECKS
    assert MAX_PRICE_KOPECKS * 50 < 2**63  # a line of 50 units still fits a bigint
    assert parse_rub("4990.000") == 499000  # trailing zeros are not decimals
    assert parse_rub("0") == 0


@pytest.mark.parametrize(
    "bad",
    [
        "1000000000.01",
        "92233720368547758.08",  # 2**63 kopecks
        "99999999999999999999999999999999999999",
        "9e999999",  # multiplying this by 100 would overflow the decimal context
        "1e-999999999",  # so small that multiplying it by 100 would round it to zero
        "1.000000000000000000000000000001",
    ],
)
def test_prices_beyond_the_limit_or_too_fine_are_invalid_prices(bad: str) -> None:
    with pytest.raises(DomainError) as error:
        parse_rub(bad, path=("prices", 0, "price"))
    assert (error.value.code, tuple(error.value.path)) == (
        ErrorCode.INVALID_PRICE,
        ("prices", 0, "price"),
    )


def test_a_decimal_filter_bound_is_held_to_the_same_limit() -> None:
    with pytest.raises(DomainError) as error:
        parse_rub(Decimal("1E+30"), path=("filter", "priceMax"))
    assert error.value.code is ErrorCode.INVALID_PRICE


@pytest.mark.parametrize(
    "url",
    ["https://cdn.example.ru/dress/1.jpg", "http://cdn.example.ru:8080/a.png", "HTTPS://CDN.RU/x"],
)
def test_image_urls_are_absolute_http_or_https_with_a_host(url: str) -> None:
    assert check_image_url(f" {url} ") == url


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JavaScript:alert(document.cookie)",
        "data:image/png;base64,AAAA",
        "file:///etc/passwd",
        "ftp://cdn.example.ru/a.jpg",
        "//cdn.example.ru/a.jpg",
        "/images/a.jpg",
        "https://",
        "https:///a.jpg",
        "http://[::1/a.jpg",
        "http://cdn.example.ru:99999/a.jpg",
        "",
    ],
)
def test_other_image_urls_are_invalid_at_their_path(url: str) -> None:
    path = ("products", 0, "images", 1, "url")
    with pytest.raises(DomainError) as error:
        check_image_url(url, path=path)
    assert (error.value.code, tuple(error.value.path)) == (ErrorCode.INVALID, path)


def test_a_slug_never_outgrows_its_column_even_when_transliteration_lengthens_it() -> None:
    slug = slugify("щ" * 300)  # every щ becomes "shch"
    assert slug == "shch" * 47 + "sh"
    assert len(slug) == MAX_SLUG_LENGTH
    assert len(f"{slug}-8c2e4f10") <= 200  # the suffix that makes a taken slug unique
    assert slugify("a " * 200) == ("a-" * 95).rstrip("-")  # never ends in "-"
