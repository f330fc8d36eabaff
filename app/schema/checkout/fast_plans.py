"""How a checkout mutation document becomes a plan (app/schema/checkout/fast.py runs it).

A plan is made once per document: the one root field and its resolver, and the payload's
selection turned into completions that write the response as graphql-core's `complete_value`
would (fragments merged as `collect_fields` merges them for an object type, leaves coerced by
their own types, nulls propagated to the nearest nullable field with graphql-core's errors).
A selection it does not model (directives, abstract types, a resolver with arguments or
`info`, field extensions) means no plan."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from graphql import (
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLEnumType,
    GraphQLError,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    get_operation_ast,
    is_leaf_type,
    located_error,
    parse,
    validate,
)
from graphql.language import DirectiveNode, Visitor, visit
from strawberry import Schema
from strawberry.types.field import StrawberryField

from app.schema.cost import query_cost
from app.schema.errors import UserError

# The root fields planned: their resolvers read nothing of `info` but `info.context`.
FIELDS = frozenset({"createCart", "addToCart", "setCartContact", "setCartDelivery", "placeOrder"})
_DEFINITION = "strawberry-definition"


class NullPayload(Exception):
    """A null (or an error) in a non-null position: the nearest nullable field becomes null."""


Complete = Callable[[Any, list[str | int], list[GraphQLError]], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Plan:
    operation: OperationDefinitionNode
    definition: GraphQLField
    node: FieldNode
    key: str  # the response key of the one root field
    field: StrawberryField
    function: Callable[..., Awaitable[Any]]  # the resolver as written (self, info, **kwargs)
    refused: Callable[[list[UserError]], Any]  # the payload of a refusal (ValidateInput's)
    complete: Complete  # the payload, as the selection asks for it
    cost: int


@dataclass(frozen=True, slots=True)
class Planner:
    """What planning needs: the schema, the validation rules a request would meet, the token cap."""

    schema: Schema
    rules: tuple[type[ASTValidationRule], ...]
    max_tokens: int

    @property
    def core(self) -> GraphQLSchema:
        return self.schema._schema


# --- planning ----------------------------------------------------------------------------------


class _Directives(Visitor):
    found = False

    def enter_directive(self, _node: DirectiveNode, *_: object) -> None:
        self.found = True


def compile_plan(planner: Planner, text: str, name: str | None) -> Plan | None:
    """A plan of the operation `name` in `text`, or None where a plan would not be exact."""
    try:
        document = parse(text, max_tokens=planner.max_tokens)
    except GraphQLError:
        return None
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    operation = get_operation_ast(document, name)
    if operation is None or operation.operation is not OperationType.MUTATION:
        return None
    if (len(operations) > 1 and name is None) or validate(planner.core, document, planner.rules):
        return None
    seen = _Directives()
    visit(document, seen)
    root = planner.core.mutation_type
    if seen.found or root is None:
        return None
    fragments = _fragments(document)
    grouped = _grouped(operation.selection_set, root, fragments)
    if grouped is None or len(grouped) != 1:
        return None
    ((key, nodes),) = grouped.items()
    field_name = nodes[0].name.value
    definition = root.fields.get(field_name)
    if field_name not in FIELDS or definition is None or len(nodes) != 1:
        return None
    strawberry_field = definition.extensions.get(_DEFINITION)
    payload = _payload_type(definition)
    if not isinstance(strawberry_field, StrawberryField) or payload is None:
        return None
    if strawberry_field.extensions:
        return None  # the plan calls the resolver itself: an extension would be skipped
    resolver = strawberry_field.base_resolver
    function = resolver.wrapped_func if resolver is not None else None
    refused = getattr(_origin(payload), "refused", None)
    complete = _completion(
        planner, definition.type, _Where(root.name, field_name, nodes), fragments
    )
    if not callable(function) or refused is None or complete is None or not _plain_schema(planner):
        return None
    return Plan(
        operation=operation,
        definition=definition,
        node=nodes[0],
        key=key,
        field=strawberry_field,
        function=function,
        refused=refused,
        complete=complete,
        cost=query_cost(planner.core, document, None, name),
    )


def _plain_schema(planner: Planner) -> bool:
    """No exception handlers or field extensions strawberry would run around a resolver."""
    handlers = getattr(planner.schema.schema_converter, "_exception_handler_specs", None)
    return handlers is not None and not handlers


def _payload_type(definition: GraphQLField) -> GraphQLObjectType | None:
    kind = definition.type
    inner = kind.of_type if isinstance(kind, GraphQLNonNull) else None
    return inner if isinstance(inner, GraphQLObjectType) else None


def _origin(kind: GraphQLObjectType) -> type | None:
    origin = getattr(kind.extensions.get(_DEFINITION), "origin", None)
    return origin if isinstance(origin, type) else None


def _fragments(document: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    return {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}


def _grouped(
    selections: SelectionSetNode,
    parent: GraphQLObjectType,
    fragments: Mapping[str, FragmentDefinitionNode],
    into: dict[str, list[FieldNode]] | None = None,
) -> dict[str, list[FieldNode]] | None:
    """The selection's fields by response key, fragments spread in (as `collect_fields` does
    for an object type without directives); None for a fragment on another type."""
    grouped: dict[str, list[FieldNode]] = {} if into is None else into
    for selection in selections.selections:
        if isinstance(selection, FieldNode):
            key = selection.alias.value if selection.alias else selection.name.value
            grouped.setdefault(key, []).append(selection)
            continue
        if isinstance(selection, InlineFragmentNode):
            condition, inner = selection.type_condition, selection.selection_set
        elif isinstance(selection, FragmentSpreadNode):
            fragment = fragments[selection.name.value]
            condition, inner = fragment.type_condition, fragment.selection_set
        else:
            return None
        if condition is not None and condition.name.value != parent.name:
            return None
        if _grouped(inner, parent, fragments, grouped) is None:
            return None
    return grouped


def _completion(
    planner: Planner,
    kind: GraphQLOutputType,
    where: _Where,
    fragments: Mapping[str, FragmentDefinitionNode],
) -> Complete | None:
    """How a value of `kind` is written into the response (graphql-core's `complete_value`):
    a completion returns the value, or raises `NullPayload` once the error that made it null is
    recorded; a nullable position takes that null, a non-null one passes it up."""
    if isinstance(kind, GraphQLNonNull):
        # not wrapped in `_nullable`: a null from below passes through to the parent
        inner = _nullable_completion(planner, kind.of_type, where, fragments)
        return None if inner is None else _non_null(inner, where)
    complete = _nullable_completion(planner, kind, where, fragments)
    return None if complete is None else _nullable(complete)


def _nullable_completion(
    planner: Planner,
    kind: GraphQLOutputType,
    where: _Where,
    fragments: Mapping[str, FragmentDefinitionNode],
) -> Complete | None:
    if isinstance(kind, GraphQLList):
        item = _completion(planner, kind.of_type, where, fragments)
        return None if item is None else _list(item)
    if is_leaf_type(kind):
        return _leaf(kind)
    if not isinstance(kind, GraphQLObjectType) or kind.is_type_of is not None:
        return None  # an interface or a union: graphql-core resolves the type
    grouped: dict[str, list[FieldNode]] = {}
    for node in where.nodes:
        selections = node.selection_set
        if selections is None or _grouped(selections, kind, fragments, grouped) is None:
            return None
    fields = []
    for key, nodes in grouped.items():
        spec = _field(planner, kind, key, nodes, fragments)
        if spec is None:
            return None
        fields.append(spec)
    return _object(fields)


@dataclass(frozen=True, slots=True)
class _Where:
    """The field a completion belongs to (graphql-core names it in its null errors)."""

    parent: str
    name: str
    nodes: list[FieldNode]


@dataclass(frozen=True, slots=True)
class _Spec:
    key: str
    read: Callable[[Any], Any]
    complete: Complete
    nodes: list[FieldNode]
    non_null: bool


def _field(
    planner: Planner,
    parent: GraphQLObjectType,
    key: str,
    nodes: list[FieldNode],
    fragments: Mapping[str, FragmentDefinitionNode],
) -> _Spec | None:
    name = nodes[0].name.value
    if name == "__typename":
        typename = parent.name
        return _Spec(key, lambda _: typename, _as_is, nodes, non_null=True)
    definition = parent.fields.get(name)
    read = _reader(definition) if definition is not None else None
    if definition is None or read is None or nodes[0].arguments:
        return None
    complete = _completion(planner, definition.type, _Where(parent.name, name, nodes), fragments)
    if complete is None:
        return None
    return _Spec(key, read, complete, nodes, isinstance(definition.type, GraphQLNonNull))


def _reader(definition: GraphQLField) -> Callable[[Any], Any] | None:
    """How a field's value is read from its parent: a plain attribute, or a resolver that
    takes nothing but `self` (sync or async). None for anything strawberry would do more for."""
    field_ = definition.extensions.get(_DEFINITION)
    if type(field_) is not StrawberryField or field_.extensions or definition.args:
        return None
    base = field_.base_resolver
    if base is None:
        if field_.default_resolver is not getattr or not field_.is_basic_field:
            return None
        attribute = field_.python_name
        return lambda source: getattr(source, attribute)
    plain = base.self_parameter is not None and len(base.signature.parameters) == 1
    function = base.wrapped_func
    return function if plain and callable(function) else None


async def _as_is(value: Any, path: list[str | int], errors: list[GraphQLError]) -> Any:
    return value


def _non_null(inner: Complete, where: _Where) -> Complete:
    message = f"Cannot return null for non-nullable field {where.parent}.{where.name}."

    async def complete(value: Any, path: list[str | int], errors: list[GraphQLError]) -> Any:
        completed = await inner(value, path, errors)
        if completed is None:
            errors.append(GraphQLError(message, where.nodes, path=path))
            raise NullPayload
        return completed

    return complete


def _nullable(inner: Complete) -> Complete:
    async def complete(value: Any, path: list[str | int], errors: list[GraphQLError]) -> Any:
        try:
            return await inner(value, path, errors)
        except NullPayload:
            return None

    return complete


def _list(item: Complete) -> Complete:
    async def complete(value: Any, path: list[str | int], errors: list[GraphQLError]) -> Any:
        if value is None:
            return None
        return [await item(v, [*path, i], errors) for i, v in enumerate(value)]

    return complete


def _leaf(kind: Any) -> Complete:
    coerce = kind.coerce_output_value
    if isinstance(kind, GraphQLEnumType):
        return _enum(coerce)

    async def complete(value: Any, path: list[str | int], errors: list[GraphQLError]) -> Any:
        return None if value is None else coerce(value)

    return complete


def _enum(coerce: Callable[[Any], Any]) -> Complete:
    """An enum's name, remembered per member (strawberry's coercion walks the enum's values:
    about 0.1 ms for each error code written)."""
    names: dict[Any, Any] = {}

    async def complete(value: Any, path: list[str | int], errors: list[GraphQLError]) -> Any:
        if value is None:
            return None
        if isinstance(value, Enum):
            name = names.get(value)
            if name is None:
                name = names[value] = coerce(value)
            return name
        return coerce(value)

    return complete


def _object(fields: list[_Spec]) -> Complete:
    async def complete(source: Any, path: list[str | int], errors: list[GraphQLError]) -> Any:
        if source is None:
            return None
        result: dict[str, Any] = {}
        for spec in fields:
            here = [*path, spec.key]
            try:
                value = spec.read(source)
                if inspect.isawaitable(value):
                    value = await value
            except Exception as error:  # the field's resolver failed: its error, then null
                errors.append(located_error(error, spec.nodes, here))
                if spec.non_null:
                    raise NullPayload from None
                result[spec.key] = None
                continue
            result[spec.key] = await spec.complete(value, here, errors)
        return result

    return complete
