"""Instashop rules: what a caption names, which looks are shown and in what order, when the
Instagram token is refreshed, and where a staff member may put a hotspot. Pure."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from app.domain.cursors import instant_key
from app.domain.errors import DomainError, ErrorCode

# Instagram: a long-lived token lasts 60 days and may be refreshed once it is 24 hours old.
TOKEN_LIFETIME = timedelta(days=60)
TOKEN_MIN_AGE = timedelta(hours=24)
MAX_CAPTION = 2200  # Instagram's own limit on a caption

# An article as the brand writes it: letters, a dash, digits, then optional size/colour parts
# (`LL-0012`, `LL-0012-M-BLK`). Anchored on non-word characters so `#LL0012` is a hashtag only.
_ARTICLE = re.compile(r"(?<![\w/.-])([A-Za-z]{1,6}-\d{2,8}(?:-[A-Za-z0-9]{1,6}){0,3})(?![\w-])")
_HASHTAG = re.compile(r"#(\w{2,100})")


class LookState(StrEnum):
    VISIBLE = "visible"
    HIDDEN = "hidden"  # hidden by staff
    DELETED = "deleted"  # gone from Instagram: hidden, kept for its links


class SlideKind(StrEnum):
    IMAGE = "image"
    VIDEO = "video"


class SuggestionState(StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"
    DISMISSED = "dismissed"


class SuggestionSource(StrEnum):
    ARTICLE = "article"  # a SKU or a 1C article in the caption
    HASHTAG = "hashtag"


@dataclass(frozen=True, slots=True)
class CaptionReferences:
    articles: tuple[str, ...]  # upper case, in caption order, each once
    hashtags: tuple[str, ...]  # normalised (see `normalise_tag`), each once


@dataclass(frozen=True, slots=True)
class CatalogueEntry:
    """A variant as caption matching sees it."""

    product_id: int
    sku: str
    colour: str
    product_slug: str


@dataclass(frozen=True, slots=True)
class Suggestion:
    product_id: int
    colour: str | None
    source: SuggestionSource
    token: str  # what the caption said


def caption_references(caption: str) -> CaptionReferences:
    """The articles and hashtags a caption names."""
    text = caption[:MAX_CAPTION]
    articles = _unique(m.upper() for m in _ARTICLE.findall(text))
    hashtags = _unique(normalise_tag(m) for m in _HASHTAG.findall(text))
    return CaptionReferences(articles=articles, hashtags=tuple(t for t in hashtags if t))


def normalise_tag(text: str) -> str:
    """Lower case letters and digits only: `#LL0012`, `LL-0012` and `ll_0012` compare equal."""
    return "".join(ch for ch in text.lower() if ch.isalnum())


def suggest_links(refs: CaptionReferences, catalogue: Iterable[CatalogueEntry]) -> list[Suggestion]:
    """Products (and colours, when the caption pins one) that a caption's references name.

    An article matches a variant's SKU exactly (product and colour) or is the leading part of
    SKUs at a dash (the product; the colour if those SKUs share one). A hashtag matches an
    article written without dashes or a product's slug without dashes. One suggestion per
    product, the first reference that named it winning."""
    entries = list(catalogue)
    found: dict[int, Suggestion] = {}
    for article in refs.articles:
        for suggestion in _by_article(article, entries):
            found.setdefault(suggestion.product_id, suggestion)
    for tag in refs.hashtags:
        for suggestion in _by_hashtag(tag, entries):
            found.setdefault(suggestion.product_id, suggestion)
    return list(found.values())


def _by_article(article: str, entries: Sequence[CatalogueEntry]) -> list[Suggestion]:
    exact = [e for e in entries if e.sku.upper() == article]
    if exact:
        return [Suggestion(exact[0].product_id, exact[0].colour, SuggestionSource.ARTICLE, article)]
    prefix = article + "-"
    return _per_product(
        [e for e in entries if e.sku.upper().startswith(prefix)], SuggestionSource.ARTICLE, article
    )


def _by_hashtag(tag: str, entries: Sequence[CatalogueEntry]) -> list[Suggestion]:
    matched = [
        e for e in entries if normalise_tag(e.product_slug) == tag or tag in _article_tags(e.sku)
    ]
    return _per_product(matched, SuggestionSource.HASHTAG, "#" + tag)


def _article_tags(sku: str) -> set[str]:
    """`LL-0012-M-BLK` → {"ll0012", "ll0012m", "ll0012mblk"}: every leading part of two or more."""
    parts = sku.split("-")
    return {normalise_tag("".join(parts[:n])) for n in range(2, len(parts) + 1)}


def _per_product(
    entries: Sequence[CatalogueEntry], source: SuggestionSource, token: str
) -> list[Suggestion]:
    colours: dict[int, set[str]] = {}
    for entry in entries:
        colours.setdefault(entry.product_id, set()).add(entry.colour)
    return [
        Suggestion(pid, next(iter(c)) if len(c) == 1 else None, source, token)
        for pid, c in colours.items()
    ]


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


# --- the token ------------------------------------------------------------------------------


class TokenStatus(StrEnum):
    FRESH = "fresh"  # too young to refresh, or refreshed today
    REFRESH = "refresh"  # at least a day old and still valid: refresh it now
    EXPIRED = "expired"  # past its expiry: a person must log in again


def token_status(*, issued_at: datetime, expires_at: datetime, now: datetime) -> TokenStatus:
    """What to do with the long-lived token before a sync: refreshed once a day keeps it at
    about 59 days left, far from the 60-day end (a missed day or two costs nothing)."""
    if now >= expires_at:
        return TokenStatus.EXPIRED
    if now - issued_at >= TOKEN_MIN_AGE:
        return TokenStatus.REFRESH
    return TokenStatus.FRESH


# --- what the storefront shows --------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class LookFacts:
    """What the storefront rule needs of one look."""

    look_id: int
    state: LookState
    slides: int
    slides_ready: int
    linked_products: int  # links to any product, visible or not
    visible_products: int  # linked products that are published and released now
    sold_out: bool  # every visible product has no size left to buy
    pinned: bool
    position: int
    posted_at: datetime


def is_shown(facts: LookFacts) -> bool:
    """A look is shown when it is visible, every one of its files is stored, and it either
    links no product (a post on its own) or at least one product a shopper may see.

    A look whose products are all in a drop not yet released stays hidden until its release
    (its photos would show the drop early); products not yet released never appear in a look.
    """
    if facts.state is not LookState.VISIBLE or facts.slides == 0:
        return False
    if facts.slides_ready < facts.slides:
        return False
    return facts.linked_products == 0 or facts.visible_products > 0


def look_order(facts: LookFacts) -> tuple[int, int, int, int, int]:
    """Ascending sort key: pinned looks first in staff order, then looks with something to
    buy, newest first; looks whose items are all sold out sink to the end."""
    pinned = 0 if facts.pinned else 1
    position = facts.position if facts.pinned else 0
    return (pinned, position, int(facts.sold_out), -instant_key(facts.posted_at), -facts.look_id)


def is_sold_out(available_per_product: Sequence[int]) -> bool:
    """All items sold out: products to buy, and none with a unit left."""
    return bool(available_per_product) and not any(available_per_product)


# --- staff edits ------------------------------------------------------------------------------


Path = tuple[str | int, ...]


def check_hotspot(x: float | None, y: float | None, path: Path = ()) -> None:
    """A hotspot is both coordinates or neither, each a fraction of the image (0..1)."""
    if (x is None) != (y is None):
        raise DomainError(ErrorCode.INVALID, "give both x and y, or neither", (*path, "x"))
    for name, value in (("x", x), ("y", y)):
        if value is not None and not 0.0 <= value <= 1.0:
            raise DomainError(ErrorCode.INVALID, f"{name} must be within 0..1", (*path, name))


def check_colour(colour: str | None, colours: Iterable[str], path: Path = ()) -> None:
    """A colour shown must be one of the product's own."""
    if colour is not None and colour not in set(colours):
        raise DomainError(ErrorCode.INVALID, "the product has no such colour", (*path, "colour"))


def check_order(look_ids: Sequence[str], found: Mapping[str, object]) -> None:
    """A new order of pinned looks names each look once, and only looks that exist."""
    if len(set(look_ids)) != len(look_ids):
        raise DomainError(ErrorCode.DUPLICATE_IN_BATCH, "a look is named twice", ("lookIds",))
    for index, look_id in enumerate(look_ids):
        if look_id not in found:
            raise DomainError(ErrorCode.NOT_FOUND, "no such look", ("lookIds", index))
