"""A marker for query fields whose resolver does more than read (logs the read, spends a
throttle, moves a queue): such a document is never run from a plan, since a plan that gives up
hands the whole operation to graphql-core, which would do it a second time."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from strawberry.types.field import StrawberryField

_KEY = "vitrina.side_effects"


def side_effects(why: str) -> dict[str, Any]:
    """Field metadata (`strawberry.field(metadata=side_effects(...))`) naming what it does."""
    return {_KEY: why}


def has_side_effects(field: object) -> bool:
    metadata: Mapping[str, Any] = getattr(field, "metadata", None) or {}
    return isinstance(field, StrawberryField) and bool(metadata.get(_KEY))
