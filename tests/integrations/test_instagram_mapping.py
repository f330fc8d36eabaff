"""Instagram's answers, as the API with Instagram Login sends them, in our words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.domain.instashop import SlideKind
from app.integrations.instagram.mapping import (
    ApiError,
    MediaFile,
    UnreadableAnswer,
    Usage,
    media_query,
    parse_error,
    parse_media_page,
    parse_refreshed_token,
    parse_usage,
)

CDN = "https://scontent-arn2-1.cdninstagram.com/v/t51.29350-15"
# Shapes of real answers (ids, cursors and signed links shortened).
PAGE = {
    "data": [
        {
            "id": "18052941838698756",
            "caption": "Осенний лукбук LL-0012 #lenilesautumn",
            "media_type": "CAROUSEL_ALBUM",
            "media_product_type": "FEED",
            "media_url": f"{CDN}/467_n.jpg?stp=dst-jpg&_nc_cat=1&oh=00_AY&oe=67A1B2C3",
            "permalink": "https://www.instagram.com/p/DCx1a2b3c4d/",
            "shortcode": "DCx1a2b3c4d",
            "timestamp": "2025-11-28T09:15:02+0000",
            "children": {
                "data": [
                    {
                        "id": "18052941838698757",
                        "media_type": "IMAGE",
                        "media_url": f"{CDN}/468_n.jpg?oh=00_AY&oe=67A1B2C3",
                    },
                    {
                        "id": "18052941838698758",
                        "media_type": "VIDEO",
                        "media_url": "https://scontent.cdninstagram.com/o1/v/t16/f2/m86/v.mp4?oe=1",
                        "thumbnail_url": f"{CDN}/469_n.jpg?oh=00_AY&oe=67A1B2C3",
                    },
                ]
            },
        },
        {
            "id": "17999128512345678",
            "media_type": "VIDEO",
            "media_product_type": "REELS",
            "media_url": "https://scontent.cdninstagram.com/o1/v/t16/f2/m86/r.mp4?oe=2",
            "thumbnail_url": f"{CDN}/470_n.jpg?oh=00_AY&oe=67A1B2C3",
            "permalink": "https://www.instagram.com/reel/DCw9z8y7x6w/",
            "shortcode": "DCw9z8y7x6w",
            "timestamp": "2025-11-20T18:00:00+0000",
        },
    ],
    "paging": {
        "cursors": {"before": "QVFIUmxtc", "after": "QVFIUjBoZ"},
        "next": "https://graph.instagram.com/v23.0/17841400000000001/media?after=QVFIUjBoZ",
    },
}


def test_a_page_of_media_becomes_posts_with_slides_and_the_next_cursor() -> None:
    page = parse_media_page(PAGE)

    carousel, reel = page.items
    assert page.after == "QVFIUjBoZ"
    assert carousel.media_id == "18052941838698756"
    assert carousel.caption == "Осенний лукбук LL-0012 #lenilesautumn"
    assert carousel.posted_at == datetime(2025, 11, 28, 9, 15, 2, tzinfo=UTC)
    assert carousel.permalink == "https://www.instagram.com/p/DCx1a2b3c4d/"
    assert [(f.media_id, f.kind) for f in carousel.files] == [
        ("18052941838698757", SlideKind.IMAGE),
        ("18052941838698758", SlideKind.VIDEO),
    ]
    assert carousel.files[1].image_url == f"{CDN}/469_n.jpg?oh=00_AY&oe=67A1B2C3"
    assert reel.caption == ""  # no caption: the field is absent
    assert reel.files == (
        MediaFile(
            media_id="17999128512345678",
            kind=SlideKind.VIDEO,
            media_url="https://scontent.cdninstagram.com/o1/v/t16/f2/m86/r.mp4?oe=2",
            thumbnail_url=f"{CDN}/470_n.jpg?oh=00_AY&oe=67A1B2C3",
        ),
    )


def test_the_last_page_has_no_next_and_so_no_cursor() -> None:
    last = {"data": [], "paging": {"cursors": {"before": "QVFI", "after": "QVFJ"}}}

    assert parse_media_page(last).after is None
    assert parse_media_page({"data": []}).after is None


@pytest.mark.parametrize(
    "body",
    [None, {"data": None}, {"data": [{"media_type": "IMAGE"}]}, {"data": [{"id": "1"}]}],
)
def test_an_answer_of_another_shape_is_unreadable(body: object) -> None:
    with pytest.raises(UnreadableAnswer):
        parse_media_page(body)


def test_the_query_asks_for_the_childrens_fields_explicitly() -> None:
    query = media_query(25, "QVFIUjBoZ")

    assert query["limit"] == "25" and query["after"] == "QVFIUjBoZ"
    assert query["fields"].endswith("children{id,media_type,media_url,thumbnail_url}")
    assert "after" not in media_query(25, None)


def test_a_refreshed_token_lasts_what_instagram_says() -> None:
    refreshed = parse_refreshed_token(
        {"access_token": "IGQWRNew", "token_type": "bearer", "expires_in": 5183944}
    )

    assert refreshed.access_token == "IGQWRNew"
    assert refreshed.expires_in == timedelta(seconds=5183944)
    with pytest.raises(UnreadableAnswer):
        parse_refreshed_token({"access_token": "IGQWRNew"})


def test_an_error_object_keeps_its_code_and_subcode() -> None:
    body = {
        "error": {
            "message": "Error validating access token: Session has expired on Friday.",
            "type": "OAuthException",
            "code": 190,
            "error_subcode": 463,
            "fbtrace_id": "AbCdEf",
        }
    }

    assert parse_error(body) == ApiError(
        code=190,
        subcode=463,
        type="OAuthException",
        message="Error validating access token: Session has expired on Friday.",
    )
    assert parse_error({"data": []}) is None


def test_usage_is_the_highest_share_of_any_limit_and_the_announced_wait() -> None:
    headers = {
        "X-App-Usage": '{"call_count":12,"total_cputime":3,"total_time":5}',
        "x-business-use-case-usage": (
            '{"17841400000000001":[{"type":"instagram","call_count":85,"total_cputime":2,'
            '"total_time":4,"estimated_time_to_regain_access":0}]}'
        ),
    }

    usage = parse_usage(headers)

    assert usage == Usage(percent=85, regain_after=timedelta(0))
    assert usage.pause(threshold=80) == timedelta(minutes=10)
    assert usage.pause(threshold=90) is None


def test_an_announced_wait_is_waited_whatever_the_share() -> None:
    headers = {
        "X-Business-Use-Case-Usage": '{"1":[{"call_count":20,"estimated_time_to_regain_access":7}]}'
    }

    assert parse_usage(headers).pause(threshold=80) == timedelta(minutes=7)
    assert parse_usage({"X-App-Usage": "not json"}) == Usage(0, timedelta(0))
