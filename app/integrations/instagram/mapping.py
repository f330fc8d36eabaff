"""The Instagram API with Instagram Login (`graph.instagram.com`) in our words, and back. Pure.

`GET /v<N>/<ig-user-id>/media?fields=…&limit=25[&after=…]` answers::

    {"data": [{"id": "17895695668004550", "caption": "…", "media_type": "CAROUSEL_ALBUM",
               "media_product_type": "FEED", "media_url": "https://scontent…",
               "permalink": "https://www.instagram.com/p/C1a2b3/", "shortcode": "C1a2b3",
               "timestamp": "2025-11-28T09:15:02+0000",
               "children": {"data": [{"id": "…", "media_type": "IMAGE", "media_url": "…"}]}}],
     "paging": {"cursors": {"before": "QVFI…", "after": "QVFI…"}, "next": "https://…"}}

    `caption` is absent when the post has none; `thumbnail_url` is given for a VIDEO only;
    `children` only on a CAROUSEL_ALBUM; `paging.next` is absent on the last page.

`GET /refresh_access_token?grant_type=ig_refresh_token&access_token=…` answers
`{"access_token": "…", "token_type": "bearer", "expires_in": 5183944}` (seconds).

Failures: `{"error": {"message", "type": "OAuthException", "code": 190, "error_subcode": 463,
"fbtrace_id"}}`. Usage headers: `X-App-Usage: {"call_count": 12, "total_cputime": 3,
"total_time": 5}` (percent of the app's limit) and `X-Business-Use-Case-Usage:
{"<ig-user-id>": [{"type": "instagram", "call_count": 40, "total_cputime": 2, "total_time": 3,
"estimated_time_to_regain_access": 0}]}` (minutes).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from app.domain.instashop import SlideKind

Json = dict[str, Any]

MEDIA_FIELDS = (
    "id,caption,media_type,media_product_type,media_url,thumbnail_url,permalink,shortcode,"
    "timestamp,children{id,media_type,media_url,thumbnail_url}"
)
CAROUSEL = "CAROUSEL_ALBUM"
VIDEO = "VIDEO"
EXPIRED_TOKEN = 190
RATE_LIMITS = frozenset({4, 17, 32, 613})


class UnreadableAnswer(ValueError):
    """Instagram answered in a shape we do not know."""


@dataclass(frozen=True, slots=True)
class MediaFile:
    """One picture or video: a carousel child, or the post itself."""

    media_id: str
    kind: SlideKind
    media_url: str | None  # the image, or the video file (may be absent: copyrighted audio)
    thumbnail_url: str | None  # a video's still

    @property
    def image_url(self) -> str | None:
        """The still the site shows: the image itself or the video's thumbnail."""
        return self.thumbnail_url if self.kind is SlideKind.VIDEO else self.media_url


@dataclass(frozen=True, slots=True)
class MediaItem:
    media_id: str
    media_type: str
    caption: str
    permalink: str
    shortcode: str
    posted_at: datetime
    files: tuple[MediaFile, ...]  # one per slide, in carousel order


@dataclass(frozen=True, slots=True)
class MediaPage:
    items: tuple[MediaItem, ...]
    after: str | None  # the cursor of the next page; None on the last one


@dataclass(frozen=True, slots=True)
class RefreshedToken:
    access_token: str
    expires_in: timedelta


@dataclass(frozen=True, slots=True)
class ApiError:
    code: int | None
    subcode: int | None
    type: str
    message: str


@dataclass(frozen=True, slots=True)
class Usage:
    """The highest share of a limit used (percent) and the wait Instagram announced."""

    percent: int
    regain_after: timedelta

    def pause(self, threshold: int) -> timedelta | None:
        """How long to wait before the next call, or None to go on."""
        if self.regain_after > timedelta(0):
            return self.regain_after
        return timedelta(minutes=10) if self.percent >= threshold else None


def media_query(limit: int, after: str | None) -> dict[str, str]:
    """The query string of one page of media (the token is added by the client)."""
    query = {"fields": MEDIA_FIELDS, "limit": str(limit)}
    return query | ({"after": after} if after else {})


def parse_media_page(body: Any) -> MediaPage:
    """One page of `/media`."""
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        raise UnreadableAnswer("a media page has a `data` list")
    items = tuple(parse_media(item) for item in body["data"])
    paging = _object(body.get("paging"))
    after = _object(paging.get("cursors")).get("after") if paging.get("next") else None
    return MediaPage(items=items, after=after if isinstance(after, str) and after else None)


def parse_media(item: Any) -> MediaItem:
    """One post; a carousel's slides are its children, any other post is its own one slide."""
    if not isinstance(item, dict):
        raise UnreadableAnswer("a media item is an object")
    media_id, media_type = _text(item, "id"), _text(item, "media_type")
    if media_type == CAROUSEL:
        children = item.get("children", {}).get("data", [])
        files = tuple(_file(child) for child in children if isinstance(child, dict))
    else:
        files = (_file(item),)
    return MediaItem(
        media_id=media_id,
        media_type=media_type,
        caption=item.get("caption") or "",
        permalink=item.get("permalink") or "",
        shortcode=item.get("shortcode") or "",
        posted_at=parse_timestamp(_text(item, "timestamp")),
        files=files,
    )


def _file(item: Json) -> MediaFile:
    kind = SlideKind.VIDEO if item.get("media_type") == VIDEO else SlideKind.IMAGE
    return MediaFile(
        media_id=_text(item, "id"),
        kind=kind,
        media_url=item.get("media_url") or None,
        thumbnail_url=item.get("thumbnail_url") or None,
    )


def parse_timestamp(value: str) -> datetime:
    """Instagram's `2025-11-28T09:15:02+0000`."""
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S%z")
    except ValueError as exc:
        raise UnreadableAnswer(f"not an Instagram timestamp: {value!r}") from exc


def parse_refreshed_token(body: Any) -> RefreshedToken:
    if not isinstance(body, dict):
        raise UnreadableAnswer("a refreshed token is an object")
    token, seconds = body.get("access_token"), body.get("expires_in")
    if not isinstance(token, str) or not token or type(seconds) is not int or seconds <= 0:
        raise UnreadableAnswer("a refreshed token has access_token and expires_in")
    return RefreshedToken(access_token=token, expires_in=timedelta(seconds=seconds))


def parse_error(body: Any) -> ApiError | None:
    """Instagram's error object, if the body is one."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None
    code, subcode = error.get("code"), error.get("error_subcode")
    return ApiError(
        code=code if type(code) is int else None,
        subcode=subcode if type(subcode) is int else None,
        type=str(error.get("type") or ""),
        message=str(error.get("message") or ""),
    )


def parse_usage(headers: Mapping[str, str]) -> Usage:
    """The usage headers of one answer (absent or unreadable ones count as nothing used)."""
    shares: list[int] = []
    regain = 0
    app = _json_header(headers, "x-app-usage")
    if isinstance(app, dict):
        shares += _shares(app)
    business = _json_header(headers, "x-business-use-case-usage")
    for entries in business.values() if isinstance(business, dict) else ():
        for entry in entries if isinstance(entries, list) else ():
            if isinstance(entry, dict):
                shares += _shares(entry)
                regain = max(regain, _number(entry.get("estimated_time_to_regain_access")))
    return Usage(percent=max(shares, default=0), regain_after=timedelta(minutes=regain))


def _shares(usage: Json) -> list[int]:
    return [_number(usage.get(key)) for key in ("call_count", "total_cputime", "total_time")]


def _number(value: Any) -> int:
    return int(value) if type(value) in (int, float) and value > 0 else 0


def _json_header(headers: Mapping[str, str], name: str) -> Any:
    raw = next((v for k, v in headers.items() if k.lower() == name), None)
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _object(value: Any) -> Json:
    return value if isinstance(value, dict) else {}


def _text(item: Json, key: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value:
        raise UnreadableAnswer(f"`{key}` is missing")
    return value
