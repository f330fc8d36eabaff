"""Links suggested from a caption's articles and hashtags, for staff to accept or dismiss."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.domain.errors import DomainError
from app.domain.instashop import (
    CatalogueEntry,
    SuggestionSource,
    SuggestionState,
    caption_references,
    suggest_links,
)
from app.models.catalog import Variant
from app.models.instashop import Look, LookProduct, LookSuggestion
from app.services.instashop.admin import accept_suggestion


@dataclass
class Catalogue:
    """Every variant as caption matching sees it, read once per sync (only if a caption
    names something)."""

    entries: list[CatalogueEntry] | None = field(default=None)

    async def load(self) -> list[CatalogueEntry]:
        if self.entries is None:
            rows = await Variant.all().values_list("product_id", "sku", "colour", "product__slug")
            self.entries = [CatalogueEntry(p, sku, colour, slug) for p, sku, colour, slug in rows]
        return self.entries


async def suggest_from_caption(look: Look, catalogue: Catalogue) -> int:
    """Add an open suggestion for each product the caption names that is neither linked nor
    suggested already (a dismissed one stays dismissed); return how many were added."""
    refs = caption_references(look.caption)
    if not refs.articles and not refs.hashtags:
        return 0
    found = suggest_links(refs, await catalogue.load())
    if not found:
        return 0
    linked = await LookProduct.filter(slide__look_id=look.id).values_list("product_id")
    known = await LookSuggestion.filter(look_id=look.id).values_list("product_id")
    taken = {pid for (pid,) in [*linked, *known]}
    new = [s for s in found if s.product_id not in taken]
    await LookSuggestion.bulk_create(
        [
            LookSuggestion(
                look_id=look.id,
                product_id=s.product_id,
                colour=s.colour,
                source=s.source,
                token=s.token[:120],
            )
            for s in new
        ]
    )
    return len(new)


async def link_named_articles(look: Look) -> int:
    """Accept the look's open suggestions from a SKU or 1C article, as staff would; return how
    many were linked. Hashtags stay for staff; a dismissed suggestion or a removed link is no
    longer open, so it is never linked again."""
    open_ones = await LookSuggestion.filter(
        look_id=look.id, source=SuggestionSource.ARTICLE, state=SuggestionState.OPEN
    ).order_by("id")
    linked = 0
    for suggestion in open_ones:
        try:
            await accept_suggestion(suggestion_id=suggestion.id, slide_id=None)
        except DomainError:  # e.g. a post without slides: the suggestion waits for staff
            continue
        linked += 1
    return linked
