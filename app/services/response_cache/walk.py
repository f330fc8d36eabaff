"""The tags of an answer: every catalog object it shows, found by walking the answer alongside
its document and the schema (aliases, fragments and inline fragments followed)."""

from __future__ import annotations

from collections.abc import Mapping

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
    get_operation_ast,
)

from app.domain.response_cache import (
    KIND_OF_TYPE,
    LIST_OF_ROOT,
    PLAIN_TYPES,
    PRODUCT_LIST,
    SHAREABLE_ROOTS,
    entity_tag,
    kind_tag,
)


class NotShareable(Exception):
    """The answer shows something the cache has no tags for: it is not stored."""


def answer_tags(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    data: Mapping[str, object],
) -> frozenset[str]:
    """Every tag the answer needs, or NotShareable."""
    operation = get_operation_ast(document, operation_name)
    if not isinstance(operation, OperationDefinitionNode) or schema.query_type is None:
        raise NotShareable("no query operation")
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    walk = _Walk(schema, fragments)
    for node in walk.fields(operation.selection_set, schema.query_type):
        name = node.name.value
        if name == "__typename":
            continue
        if name not in SHAREABLE_ROOTS:
            raise NotShareable(name)
        value = data.get(_key(node))
        if name in LIST_OF_ROOT:
            walk.tags.add(LIST_OF_ROOT[name])
        elif value is None:  # `product` not found: a new product may be it
            walk.tags.add(PRODUCT_LIST)
        walk.value(value, node, schema.query_type)
    return frozenset(walk.tags)


def root_fields(document: DocumentNode, operation: OperationDefinitionNode) -> set[str]:
    """The names of the root fields an operation selects, through its fragments."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    walk = _Walk(GraphQLSchema(), fragments)
    return {node.name.value for node in walk.fields(operation.selection_set, None)}


def _key(node: FieldNode) -> str:
    return node.alias.value if node.alias else node.name.value


class _Walk:
    def __init__(self, schema: GraphQLSchema, fragments: Mapping[str, FragmentDefinitionNode]):
        self.schema = schema
        self.fragments = fragments
        self.tags: set[str] = set()

    def fields(
        self, selections: SelectionSetNode, parent: GraphQLObjectType | None
    ) -> list[FieldNode]:
        found: list[FieldNode] = []
        for selection in selections.selections:
            if isinstance(selection, FieldNode):
                found.append(selection)
            elif isinstance(selection, InlineFragmentNode):
                found += self.fields(selection.selection_set, parent)
            elif isinstance(selection, FragmentSpreadNode):
                found += self.fields(self.fragments[selection.name.value].selection_set, parent)
        return found

    def value(self, value: object, node: FieldNode, parent: GraphQLObjectType) -> None:
        if value is None or node.selection_set is None:
            return
        field = parent.fields.get(node.name.value)
        if field is None:
            raise NotShareable(node.name.value)
        kind = get_named_type(field.type)
        if not isinstance(kind, GraphQLObjectType):
            raise NotShareable(kind.name)  # interfaces and unions: nothing in the catalog
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, Mapping):
                self.object(item, node.selection_set, kind)

    def object(
        self, item: Mapping[str, object], selections: SelectionSetNode, kind: GraphQLObjectType
    ) -> None:
        nodes = self.fields(selections, kind)
        tag_kind = KIND_OF_TYPE.get(kind.name)
        if tag_kind is not None:
            shown = [item.get(_key(n)) for n in nodes if n.name.value == "id"]
            ids = [i for i in shown if isinstance(i, str)]
            if ids:
                self.tags.update(entity_tag(tag_kind, i) for i in ids)
            else:
                self.tags.add(kind_tag(tag_kind))
        elif kind.name not in PLAIN_TYPES:
            raise NotShareable(kind.name)  # e.g. looks: changed by other writers
        for node in nodes:
            if node.name.value != "__typename":
                self.value(item.get(_key(node)), node, kind)
