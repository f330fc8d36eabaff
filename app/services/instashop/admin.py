"""Staff edits of looks: link products to slides, hide and show, pin and order, suggestions.

Each call is one transaction and refuses with a typed error (code and input path) before it
writes anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from tortoise.transactions import in_transaction

from app.domain.catalog import parse_guid
from app.domain.errors import DomainError, ErrorCode
from app.domain.instashop import (
    LookState,
    SuggestionState,
    check_colour,
    check_hotspot,
    check_order,
)
from app.models.catalog import Product, Variant
from app.models.instashop import Look, LookProduct, LookSlide, LookSuggestion
from app.services.partners.recording import record_looks_shown


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkInput:
    slide_id: int
    product_guid: str
    colour: str | None = None
    x: float | None = None
    y: float | None = None


async def find_look(look_id: str, path: tuple[str, ...] = ("lookId",)) -> Look:
    """Any look (hidden and deleted ones too) by its id."""
    look = await Look.get_or_none(media_id=look_id)
    if look is None:
        raise DomainError(ErrorCode.NOT_FOUND, "no such look", path)
    return look


async def link_product(*, link: LinkInput) -> LookProduct:
    """Show a product (optionally its colour, at a point of the image) on a slide; linking it
    again replaces its colour and hotspot."""
    check_hotspot(link.x, link.y)
    slide = await _slide(link.slide_id)
    product = await _product(link.product_guid)
    colours = await Variant.filter(product_id=product.id).values_list("colour")
    check_colour(link.colour, [str(c) for (c,) in colours])
    async with in_transaction():
        row, created = await LookProduct.get_or_create(
            slide_id=slide.id,
            product_id=product.id,
            defaults={"colour": link.colour, "x": link.x, "y": link.y},
        )
        if not created:
            row.colour, row.x, row.y = link.colour, link.x, link.y
            await row.save(update_fields=["colour", "x", "y"])
        await LookSuggestion.filter(look_id=slide.look_id, product_id=product.id).update(
            state=SuggestionState.ACCEPTED
        )
    return row


async def unlink_product(*, slide_id: int, product_guid: str) -> Look:
    """Take a product off a slide."""
    slide = await _slide(slide_id)
    product = await _product(product_guid)
    removed = await LookProduct.filter(slide_id=slide.id, product_id=product.id).delete()
    if not removed:
        raise DomainError(ErrorCode.NOT_FOUND, "the slide does not show it", ("productId",))
    return await Look.get(id=slide.look_id)


async def set_hidden(*, look_id: str, hidden: bool, now: datetime | None = None) -> Look:
    """Hide a look from the site, or show it again (a post deleted on Instagram stays hidden);
    a hidden look shown again is announced to partners anew (look.published)."""
    look = await find_look(look_id)
    if look.state is LookState.DELETED:
        raise DomainError(ErrorCode.INVALID, "the post was deleted on Instagram", ("lookId",))
    shown_again = look.state is LookState.HIDDEN and not hidden
    look.state = LookState.HIDDEN if hidden else LookState.VISIBLE
    async with in_transaction():
        await look.save(update_fields=["state"])
        if shown_again:
            await record_looks_shown([look.id], now=now or datetime.now(UTC), again=True)
    return look


async def order_pinned(*, look_ids: Sequence[str]) -> list[Look]:
    """Pin exactly these looks, first to last; every other look is unpinned."""
    found = {look.media_id: look for look in await Look.filter(media_id__in=list(look_ids))}
    check_order(look_ids, found)
    async with in_transaction():
        await Look.filter(pinned=True).update(pinned=False, position=0)
        for position, look_id in enumerate(look_ids):
            await Look.filter(id=found[look_id].id).update(pinned=True, position=position)
    return [await Look.get(id=found[look_id].id) for look_id in look_ids]


async def accept_suggestion(*, suggestion_id: int, slide_id: int | None) -> LookProduct:
    """Link the suggested product (in the suggested colour) to a slide, the first by default."""
    suggestion = await LookSuggestion.get_or_none(id=suggestion_id).prefetch_related("product")
    if suggestion is None:
        raise DomainError(ErrorCode.NOT_FOUND, "no such suggestion", ("suggestionId",))
    slides = LookSlide.filter(look_id=suggestion.look_id)
    slide = await (slides.filter(id=slide_id) if slide_id else slides.order_by("position")).first()
    if slide is None:
        raise DomainError(ErrorCode.NOT_FOUND, "the look has no such slide", ("slideId",))
    return await link_product(
        link=LinkInput(
            slide_id=slide.id, product_guid=suggestion.product.guid, colour=suggestion.colour
        )
    )


async def dismiss_suggestion(*, suggestion_id: int) -> LookSuggestion:
    """Staff say the caption did not mean this product: it is not suggested again."""
    suggestion = await LookSuggestion.get_or_none(id=suggestion_id)
    if suggestion is None:
        raise DomainError(ErrorCode.NOT_FOUND, "no such suggestion", ("suggestionId",))
    suggestion.state = SuggestionState.DISMISSED
    await suggestion.save(update_fields=["state"])
    return suggestion


async def _slide(slide_id: int) -> LookSlide:
    slide = await LookSlide.get_or_none(id=slide_id)
    if slide is None:
        raise DomainError(ErrorCode.NOT_FOUND, "no such slide", ("slideId",))
    return slide


async def _product(product_guid: str) -> Product:
    try:
        guid = parse_guid(product_guid, path=("productId",))
    except DomainError:
        guid = ""
    product = await Product.get_or_none(guid=guid)
    if product is None:
        raise DomainError(ErrorCode.UNKNOWN_PRODUCT, "no such product", ("productId",))
    return product
