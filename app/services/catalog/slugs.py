"""Stable, unique URL slugs for catalog objects."""

from __future__ import annotations

from tortoise.models import Model

from app.domain.catalog import slugify


async def slug_for(model: type[Model], *, guid: str, name: str, explicit: str | None) -> str:
    """The object's slug: an explicit one if 1C sends it, else the one it has (links stay valid
    when 1C renames a product), else one made from its name."""
    if not explicit:
        current = await model.filter(guid=guid).values_list("slug", flat=True)
        if current:
            return str(current[0])
    slug = slugify(explicit or name)
    taken = await model.filter(slug=slug).exclude(guid=guid).exists()
    return f"{slug}-{guid[:8]}" if taken else slug
