"""Instashop rules: what a caption names, which looks are shown and in what order, the token."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.domain.errors import DomainError, ErrorCode
from app.domain.instashop import (
    CaptionReferences,
    CatalogueEntry,
    LookFacts,
    LookState,
    Suggestion,
    SuggestionSource,
    TokenStatus,
    caption_references,
    check_colour,
    check_hotspot,
    check_order,
    is_shown,
    is_sold_out,
    look_order,
    suggest_links,
    token_status,
)

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
CATALOGUE = [
    CatalogueEntry(1, "LL-0012-M-BLK", "чёрный", "plate-midi"),
    CatalogueEntry(1, "LL-0012-S-BLK", "чёрный", "plate-midi"),
    CatalogueEntry(1, "LL-0012-M-WHT", "белый", "plate-midi"),
    CatalogueEntry(2, "LL-0007-OS-OLV", "олива", "sharf-lnyanoy"),
    CatalogueEntry(3, "LL-0120-M-SND", "песочный", "bryuki-shirokie"),
]


def facts(**changes: object) -> LookFacts:
    base: dict[str, object] = {
        "look_id": 1,
        "state": LookState.VISIBLE,
        "slides": 2,
        "slides_ready": 2,
        "linked_products": 1,
        "visible_products": 1,
        "sold_out": False,
        "pinned": False,
        "position": 0,
        "posted_at": T0,
    }
    return LookFacts(**(base | changes))  # type: ignore[arg-type]


def test_a_caption_names_articles_and_hashtags_once_each_in_caption_order() -> None:
    caption = "Платье LL-0012-m-blk и шарф LL-0007. Снова LL-0012-M-BLK! #Осень #LL0120 #осень"

    refs = caption_references(caption)

    assert refs == CaptionReferences(
        articles=("LL-0012-M-BLK", "LL-0007"), hashtags=("осень", "ll0120")
    )


def test_words_with_digits_that_are_not_articles_are_not_taken_for_one() -> None:
    refs = caption_references("Скидка -30% до 12.11, промокод AUTUMN2026, https://x.ru/a-12")

    assert refs.articles == ()


def test_an_exact_sku_suggests_its_product_in_its_colour() -> None:
    refs = CaptionReferences(articles=("LL-0012-M-WHT",), hashtags=())

    assert suggest_links(refs, CATALOGUE) == [
        Suggestion(1, "белый", SuggestionSource.ARTICLE, "LL-0012-M-WHT")
    ]


def test_an_article_suggests_its_product_and_a_colour_only_when_its_skus_share_one() -> None:
    whole = suggest_links(CaptionReferences(("LL-0012",), ()), CATALOGUE)
    in_black = suggest_links(CaptionReferences(("LL-0012-M",), ()), CATALOGUE)

    assert whole == [Suggestion(1, None, SuggestionSource.ARTICLE, "LL-0012")]
    assert in_black == [Suggestion(1, None, SuggestionSource.ARTICLE, "LL-0012-M")]


def test_a_hashtag_matches_an_article_without_dashes_or_a_slug() -> None:
    refs = CaptionReferences(articles=(), hashtags=("ll0120", "sharflnyanoy", "осень"))

    assert suggest_links(refs, CATALOGUE) == [
        Suggestion(3, "песочный", SuggestionSource.HASHTAG, "#ll0120"),
        Suggestion(2, "олива", SuggestionSource.HASHTAG, "#sharflnyanoy"),
    ]


def test_one_suggestion_per_product_the_first_reference_winning() -> None:
    refs = caption_references("LL-0012-S-BLK, LL-0012 #ll0012")

    assert suggest_links(refs, CATALOGUE) == [
        Suggestion(1, "чёрный", SuggestionSource.ARTICLE, "LL-0012-S-BLK")
    ]


def test_an_article_nobody_sells_suggests_nothing() -> None:
    assert suggest_links(caption_references("LL-9999 #nothing"), CATALOGUE) == []


@pytest.mark.parametrize(
    ("age", "left", "status"),
    [
        (timedelta(hours=23, minutes=59), timedelta(days=59), TokenStatus.FRESH),
        (timedelta(hours=24), timedelta(days=59), TokenStatus.REFRESH),
        (timedelta(days=59), timedelta(seconds=1), TokenStatus.REFRESH),
        (timedelta(days=60), timedelta(0), TokenStatus.EXPIRED),
    ],
)
def test_the_token_is_refreshed_once_a_day_old_and_never_after_it_expired(
    age: timedelta, left: timedelta, status: TokenStatus
) -> None:
    assert token_status(issued_at=T0 - age, expires_at=T0 + left, now=T0) is status


def test_a_look_is_shown_when_visible_stored_and_linked_to_something_a_shopper_sees() -> None:
    assert is_shown(facts())
    assert is_shown(facts(linked_products=0, visible_products=0))  # a post on its own


@pytest.mark.parametrize(
    "changes",
    [
        {"state": LookState.HIDDEN},
        {"state": LookState.DELETED},
        {"slides": 0, "slides_ready": 0},
        {"slides_ready": 1},  # a file still missing: never a broken image
        {"linked_products": 2, "visible_products": 0},  # all of an unreleased drop
    ],
)
def test_a_look_is_not_shown(changes: dict[str, object]) -> None:
    assert not is_shown(facts(**changes))


def test_pinned_looks_come_first_then_newest_and_sold_out_looks_sink() -> None:
    pinned_second = facts(look_id=1, pinned=True, position=1, posted_at=T0 - timedelta(days=9))
    pinned_first = facts(look_id=2, pinned=True, position=0, posted_at=T0 - timedelta(days=5))
    newest_sold_out = facts(look_id=3, sold_out=True, posted_at=T0)
    older = facts(look_id=4, posted_at=T0 - timedelta(days=1))
    oldest = facts(look_id=5, posted_at=T0 - timedelta(days=2))

    ordered = sorted([older, newest_sold_out, oldest, pinned_second, pinned_first], key=look_order)

    assert [f.look_id for f in ordered] == [2, 1, 4, 5, 3]


def test_a_look_is_sold_out_only_if_it_has_items_and_none_has_a_unit() -> None:
    assert is_sold_out([0, 0])
    assert not is_sold_out([0, 1])
    assert not is_sold_out([])


def test_a_hotspot_is_both_coordinates_within_the_image_or_none() -> None:
    check_hotspot(None, None)
    check_hotspot(0.0, 1.0)
    with pytest.raises(DomainError) as one:
        check_hotspot(0.5, None)
    with pytest.raises(DomainError) as outside:
        check_hotspot(0.5, 1.2)
    assert (one.value.code, tuple(one.value.path)) == (ErrorCode.INVALID, ("x",))
    assert (outside.value.code, tuple(outside.value.path)) == (ErrorCode.INVALID, ("y",))


def test_a_colour_shown_is_one_of_the_products_own() -> None:
    check_colour(None, ["чёрный"])
    check_colour("чёрный", ["чёрный", "белый"])
    with pytest.raises(DomainError) as refused:
        check_colour("розовый", ["чёрный"])
    assert tuple(refused.value.path) == ("colour",)


def test_an_order_of_pinned_looks_names_each_existing_look_once() -> None:
    with pytest.raises(DomainError) as twice:
        check_order(["a", "a"], {"a": 1})
    with pytest.raises(DomainError) as unknown:
        check_order(["a", "b"], {"a": 1})
    assert twice.value.code is ErrorCode.DUPLICATE_IN_BATCH
    assert (unknown.value.code, tuple(unknown.value.path)) == (ErrorCode.NOT_FOUND, ("lookIds", 1))
