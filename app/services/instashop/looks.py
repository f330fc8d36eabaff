"""Read looks for the storefront: only shown ones, their products visible now, in order.

Availability is read live (the one rule, through `stock_positions`) for every look a listing
considers, so a look whose items all sell out sinks to the end on the next read. The brand's
looks are hundreds at most: they are ordered in memory, and the keyset cursor is the look's
sort key (app/domain/instashop.py `look_order`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from tortoise.expressions import Subquery
from tortoise.queryset import QuerySet

from app.domain.availability import available
from app.domain.cursors import decode_cursor, encode_cursor
from app.domain.errors import DomainError, ErrorCode
from app.domain.instashop import LookFacts, LookState, is_shown, is_sold_out, look_order
from app.models.catalog import Product, Variant
from app.models.instashop import Look, LookProduct, LookSlide
from app.services.catalog.queries import visible_products
from app.services.inventory.availability import stock_positions

MAX_PAGE = 50
LISTING = "looks"


@dataclass(frozen=True, slots=True)
class LookView:
    """A shown look: its slides, the links to products a shopper may see, its sort key."""

    look: Look
    slides: list[LookSlide]
    links: list[LookProduct]  # visible products only, product prefetched, slide order
    sold_out: bool
    key: tuple[int, ...]

    @property
    def cursor(self) -> str:
        return encode_cursor(LISTING, *self.key)


@dataclass(frozen=True, slots=True)
class LookPage:
    looks: list[LookView]
    has_next_page: bool
    has_previous_page: bool


async def list_looks(
    *,
    first: int,
    after: str | None,
    now: datetime,
    collection_slug: str | None = None,
    product_slug: str | None = None,
) -> LookPage:
    """One page of shown looks, optionally only those showing a collection's or a product's
    (visible) products."""
    if not 0 <= first <= MAX_PAGE:
        raise DomainError(ErrorCode.INVALID, f"first must be 0..{MAX_PAGE}", ("first",))
    start = decode_cursor(after, LISTING, 5) if after else None
    query = Look.filter(state=LookState.VISIBLE)
    products = _products_filter(now, collection_slug, product_slug)
    if products is not None:
        linked = LookProduct.filter(product_id__in=Subquery(products.values("id")))
        query = query.filter(id__in=Subquery(linked.values("slide__look_id")))
    views = await shown_looks(await query, now=now, only_products=products is not None)
    ordered = [v for v in views if start is None or v.key > start]
    return LookPage(
        looks=ordered[:first], has_next_page=len(ordered) > first, has_previous_page=bool(after)
    )


async def get_look(*, media_id: str, now: datetime) -> LookView | None:
    """One shown look by its id (Instagram's media id); None if hidden or not shown yet."""
    look = await Look.get_or_none(media_id=media_id, state=LookState.VISIBLE)
    views = await shown_looks([look] if look else [], now=now)
    return views[0] if views else None


def _products_filter(
    now: datetime, collection: str | None, product: str | None
) -> QuerySet[Product] | None:
    if collection is None and product is None:
        return None
    query = visible_products(now)
    if collection is not None:
        query = query.filter(collection__slug=collection)
    if product is not None:
        query = query.filter(slug=product)
    return query


async def shown_looks(
    looks: Sequence[Look], *, now: datetime, only_products: bool = False
) -> list[LookView]:
    """The given looks that are shown now, in storefront order."""
    ids = [look.id for look in looks]
    slides = _by(await LookSlide.filter(look_id__in=ids).order_by("position", "id"), "look_id")
    links = await LookProduct.filter(slide__look_id__in=ids).prefetch_related("product", "slide")
    visible = await _visible_ids({link.product_id for link in links}, now)
    stock = await _available_per_link([link for link in links if link.product_id in visible], now)
    views = []
    for look in looks:
        mine = sorted(
            (link for link in links if link.slide.look_id == look.id),
            key=lambda link: (link.slide.position, link.id),
        )
        shown = [link for link in mine if link.product_id in visible]
        facts = LookFacts(
            look_id=look.id,
            state=look.state,
            slides=len(slides[look.id]),
            slides_ready=sum(s.ready for s in slides[look.id]),
            linked_products=len(mine),
            visible_products=len(shown),
            sold_out=is_sold_out([stock[link.id] for link in shown]),
            pinned=look.pinned,
            position=look.position,
            posted_at=look.posted_at,
        )
        if is_shown(facts) and not (only_products and not shown):
            views.append(LookView(look, slides[look.id], shown, facts.sold_out, look_order(facts)))
    return sorted(views, key=lambda v: v.key)


async def looks_of_products(product_ids: Sequence[int], now: datetime) -> list[list[LookView]]:
    """Per product, the shown looks it appears in (a product page's "seen in")."""
    links = await LookProduct.filter(product_id__in=list(product_ids)).values_list(
        "product_id", "slide__look_id"
    )
    looks = await Look.filter(id__in={lid for _, lid in links}, state=LookState.VISIBLE)
    views = {v.look.id: v for v in await shown_looks(looks, now=now)}
    per: dict[int, set[int]] = defaultdict(set)
    for product_id, look_id in links:
        per[product_id].add(look_id)
    return [
        sorted((views[i] for i in per[p] if i in views), key=lambda v: v.key) for p in product_ids
    ]


async def _visible_ids(product_ids: Iterable[int], now: datetime) -> set[int]:
    query = visible_products(now).filter(id__in=list(product_ids))
    return {int(pid) for (pid,) in await query.values_list("id")}


async def _available_per_link(links: Sequence[LookProduct], now: datetime) -> dict[int, int]:
    """Units a shopper may buy of each link's product (in the link's colour, if it has one)."""
    variants = await Variant.filter(product_id__in={link.product_id for link in links}).values_list(
        "id", "product_id", "colour"
    )
    positions = await stock_positions([v for v, _, _ in variants], now=now)
    return {
        link.id: sum(
            available(positions[v])
            for v, product_id, colour in variants
            if product_id == link.product_id and link.colour in (None, colour)
        )
        for link in links
    }


def _by(rows: Iterable[LookSlide], attribute: str) -> dict[int, list[LookSlide]]:
    grouped: dict[int, list[LookSlide]] = defaultdict(list)
    for row in rows:
        grouped[getattr(row, attribute)].append(row)
    return grouped
