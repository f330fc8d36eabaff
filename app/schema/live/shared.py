"""Which subscription documents may share one upstream execution.

A subscription field is shareable when its events do not depend on who asked (no principal,
no cart): `productAvailability` is; a per-shopper field (the waiting room's) is not, and
takes the general path (one execution per operation). A shareable field names its identity
field (`variantId`): a late subscriber is sent the newest event per identity first (the
current figures), then every change, as the first subscriber was.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass

from graphql import (
    FieldNode,
    GraphQLError,
    OperationType,
    get_operation_ast,
    parse,
    print_ast,
)

_SHAREABLE: dict[str, str] = {}  # root field (schema name) -> its identity sub-field
_CACHE_SIZE = 256


def shareable(field: str, *, identity: str) -> None:
    """Declare a subscription root field principal-independent, its events keyed by the
    sub-field `identity` (both as spelled in the schema)."""
    _SHAREABLE[field] = identity


@dataclass(frozen=True, slots=True)
class SharedDocument:
    """A shareable subscription: its canonical text and where an event's identity is."""

    text: str
    root_key: str  # the root field's response key (its alias, if any)
    identity_key: str  # the identity sub-field's response key


@functools.lru_cache(maxsize=_CACHE_SIZE)
def shared_document(query: str, operation_name: str | None) -> SharedDocument | None:
    """The document as a shareable subscription, or None (general path). Cached per text."""
    try:
        tree = parse(query)
    except GraphQLError:
        return None  # the general path reports the syntax error
    if len(tree.definitions) != 1:
        return None  # fragments or several operations: not worth the care
    operation = get_operation_ast(tree, operation_name)
    if operation is None or operation.operation is not OperationType.SUBSCRIPTION:
        return None
    selections = operation.selection_set.selections
    root = selections[0] if len(selections) == 1 else None
    if not isinstance(root, FieldNode) or root.directives or root.selection_set is None:
        return None
    identity = _SHAREABLE.get(root.name.value)
    if identity is None:
        return None
    for selection in root.selection_set.selections:
        if isinstance(selection, FieldNode) and selection.name.value == identity:
            if selection.directives:
                return None
            return SharedDocument(
                text=print_ast(tree),
                root_key=(root.alias or root.name).value,
                identity_key=(selection.alias or selection.name).value,
            )
    return None


def channel_key(
    document: SharedDocument, operation_name: str | None, variables: object
) -> tuple[str, str | None, str] | None:
    """One upstream per (canonical text, operation, canonical variables); None if the
    variables are not JSON-like."""
    try:
        canonical = json.dumps(variables or {}, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError):
        return None
    return document.text, operation_name, canonical
