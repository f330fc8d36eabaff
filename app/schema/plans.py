"""Trusted query documents run from a plan made once, not field by field through graphql-core.

graphql-core executes every field of every object the same general way: a resolve info, the
middleware chain, the resolver, then a completion that asks the type what it is. A catalog page
is ~2,400 fields, almost all of them plain attributes of objects already built (`name`, `sku`,
`price.amount`): that general path was most of the page's CPU. A registered document is known
in advance, so its shape is turned into a plan once (fields grouped by graphql-core's own
`collect_fields`, so fragments and merged fields mean what they mean there), and a request of
it runs the plan:

- a plain attribute (a strawberry field without a resolver) is read with `getattr`, and a leaf
  is coerced by its type's own `coerce_output_value`, as graphql-core does;
- a field with a resolver gets graphql-core's resolve info and arguments; with arguments it
  goes through the middleware chain, without any it is handed straight to its resolver (the
  only middleware planned, `ValidateInput`, passes such a field through), and a strawberry
  resolver without arguments or field extensions gets its `self`/root and `Info` as
  strawberry would give them, without the layers that would convert nothing;
- resolver coroutines take their first step at once, in a context of their own (as the task
  graphql-core would make does): one that finds its figure already loaded needs no task; the
  others of one level are gathered together, so the request's DataLoaders still batch a whole
  page into one query per relation.

The plan covers the happy path only. Anything it does not model, at planning time (abstract
types, directives, `@defer`, fragment arguments, middleware other than `ValidateInput`, an
`is_type_of` check) means no plan: graphql-core runs the document. At run time, any exception,
a null in a non-null position, an awaitable where a value was expected, or a list that is not a
list makes the plan give up: resolvers it had not started are closed, and graphql-core runs the
whole operation again from the start with fresh DataLoaders, producing its own data and errors
(queries only: nothing is written; such a request reads twice, which only errors cost). A
field marked with `app.schema.effects.side_effects` (it logs the read, spends a throttle) is
never planned, so nothing it does can happen twice.
So a response is the same with or without a plan; `tests/schema/test_plans.py` compares them.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from typing import Any

from graphql import (
    FieldNode,
    GraphQLField,
    GraphQLID,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    GraphQLString,
    OperationDefinitionNode,
    OperationType,
    Undefined,
    get_named_type,
    is_leaf_type,
)
from graphql.execution.collect_fields import (
    FieldDetails,
    GroupedFieldSet,
    collect_fields,
    collect_subfields,
)
from graphql.execution.values import get_argument_values
from graphql.language import DirectiveNode, Visitor, visit
from graphql.pyutils import Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types.field import StrawberryField

from app.schema.context import Context
from app.schema.documents import MANIFEST, load_documents
from app.schema.effects import has_side_effects
from app.schema.loaders import Loaders
from app.schema.validation import ValidateInput
from app.settings import Settings

# Middleware that hands a field without arguments straight to its resolver: a plain attribute
# may be read past it. Any other middleware in a request means no plan.
PASS_THROUGH: tuple[type, ...] = (ValidateInput,)
_DEFINITION = "strawberry-definition"
# Types whose values are never awaitable and never exceptions: checked by type, not by
# protocol. Strawberry types join on first sight (dataclasses without `__await__`).
_PLAIN: set[type] = {str, int, bool, float, Decimal, type(None), list, tuple}


class _GiveUp(Exception):
    """The plan does not model what this run met: graphql-core runs the operation."""


Complete = Callable[[Any, "Path | None", "_Run"], Any]


@dataclass(frozen=True, slots=True)
class _Field:
    key: str
    parent: GraphQLObjectType
    definition: GraphQLField
    nodes: list[FieldNode]
    details: FieldDetails
    attribute: str | None  # a plain attribute's name; None: call the resolver
    complete: Complete
    needs_path: bool  # something below it calls a resolver (which gets a resolve info)
    text: bool  # a String or ID: a `str` value is its own answer
    resolve: Callable[..., Any]
    direct: Callable[[Any, Any], Any] | None  # the resolver without strawberry's wrappers


@dataclass(slots=True)
class _Run:
    executor: PlannedExecutor
    is_awaitable: Callable[[Any], bool]
    pending: list[tuple[Awaitable[Any], dict[str, Any], _Field, Path]] = field(default_factory=list)
    resolvers: dict[int, Callable[..., Any]] = field(default_factory=dict)

    def call(self, spec: _Field, source: Any, path: Path) -> Any:
        """The field's resolver, called as graphql-core's `execute_field` calls it (without
        arguments, past the middleware: every one of it passes such a field through)."""
        executor = self.executor
        info = executor.build_resolve_info(spec.definition, spec.nodes, spec.parent, path)
        if spec.direct is not None:
            return spec.direct(source, info)
        node = spec.details.node
        if not (spec.definition.args or node.arguments):
            return spec.resolve(source, info)
        args = get_argument_values(
            spec.definition,
            node,
            executor.variable_values,
            spec.details.fragment_variable_values,
            executor.hide_suggestions,
        )
        if not args:
            return spec.resolve(source, info)
        resolve = self.resolvers.get(id(spec))
        if resolve is None:
            resolve = spec.resolve
            if executor.middleware_manager:
                resolve = executor.middleware_manager.get_field_resolver(resolve)
            self.resolvers[id(spec)] = resolve
        return resolve(source, info, **args)

    def special(self, value: Any) -> bool:
        """An awaitable or an exception: a value graphql-core does not simply complete."""
        kind = type(value)
        if kind in _PLAIN:
            return False
        if self.is_awaitable(value) or isinstance(value, Exception):
            return True
        if hasattr(kind, "__strawberry_definition__") and not hasattr(kind, "__await__"):
            _PLAIN.add(kind)
        return False


@dataclass(frozen=True, slots=True)
class Plan:
    root: Complete


class PlannedExecutor(StrawberryGraphQLCoreExecutionContext):
    """graphql-core's executor, with a plan for the trusted documents' queries."""

    trusted: frozenset[str] = frozenset()  # the registered documents' texts
    plans: dict[tuple[str, str | None], Plan | None] = {}

    def execute_operation(self, serially: bool | None = None) -> Any:
        plan = self._plan()
        if plan is None:
            return super().execute_operation(serially)
        return self._run(plan, serially)

    def build_per_event_executor(self, payload: Any) -> Any:
        """A subscription event's executor, with sub-selections memoized for this event only.

        graphql-core 3.3.2 shares the memo dict with the subscription's executor and keys it
        by lists made anew for each event (kept alive by the entry): shared, it grows by one
        entry per object level for every event delivered, for as long as the socket lives."""
        executor = super().build_per_event_executor(payload)
        executor._relevant_sub_fields = {}
        return executor

    def _plan(self) -> Plan | None:
        operation = self.operation
        if self.abort_signal is not None or self.hooks is not None:
            return None
        if operation.operation is not OperationType.QUERY or operation.loc is None:
            return None
        text = operation.loc.source.body
        if text not in self.trusted or not self._passes_through():
            return None
        key = (text, operation.name.value if operation.name else None)
        if key not in self.plans:
            self.plans[key] = _compile(self)
        return self.plans[key]

    def _passes_through(self) -> bool:
        manager = self.middleware_manager
        return manager is None or all(isinstance(m, PASS_THROUGH) for m in manager.middlewares)

    async def _run(self, plan: Plan, serially: bool | None) -> Any:
        run = _Run(self, self.is_awaitable)
        try:
            data = plan.root(self.root_value, None, run)
            while run.pending:
                await _settle_level(run)
        except Exception:
            _abandon(run.pending)
            _start_afresh(self.context_value)
            result = super().execute_operation(serially)
            return await result if self.is_awaitable(result) else result
        except BaseException:  # cancelled: leave no resolver unawaited behind
            _abandon(run.pending)
            raise
        return self.finish(self.build_response(data))


def planned_executor(trusted: Iterable[str]) -> type[PlannedExecutor]:
    """An executor class that plans the given documents (each schema has its own plans)."""
    texts = frozenset(trusted)
    return type("PlannedExecutor", (PlannedExecutor,), {"trusted": texts, "plans": {}})


async def _settle_level(run: _Run) -> None:
    """Await one level's resolvers together (their DataLoaders batch), then complete them.

    Each resolver coroutine takes its first step here, in a context of its own, as the task
    graphql-core would make for it does; most of a page's (a figure its DataLoader already
    holds) end in that step and need no task. The others go on in a task each."""
    level, run.pending = run.pending, []
    values: list[Any] = [None] * len(level)
    waiting: list[tuple[int, Awaitable[Any]]] = []
    for index, (awaitable, *_) in enumerate(level):
        if not inspect.iscoroutine(awaitable):
            waiting.append((index, awaitable))
            continue
        context = contextvars.copy_context()
        try:
            future = _waited(awaitable, context.run(awaitable.send, None))
        except StopIteration as done:
            values[index] = done.value
        except (Exception, asyncio.CancelledError) as error:  # what its task would end with
            values[index] = error
        else:
            waiting.append((index, _go_on(awaitable, future, context)))
    if waiting:
        settled = await asyncio.gather(*(w for _, w in waiting), return_exceptions=True)
        for (index, _), value in zip(waiting, settled, strict=True):
            values[index] = value
    if any(isinstance(v, BaseException) for v in values):
        raise _GiveUp
    for (_, target, spec, path), value in zip(level, values, strict=True):
        target[spec.key] = spec.complete(value, path, run)


async def _go_on(
    coroutine: Coroutine[Any, Any, Any], yielded: Any, context: contextvars.Context
) -> Any:
    """Drive a coroutine that suspended in its first step to its end, as its task would:
    wait for what it yielded, resume it in its own context; a cancellation is thrown in."""
    while True:
        try:
            if yielded is None:
                await asyncio.sleep(0)  # a bare yield: give the loop one turn
            else:
                await yielded
        except asyncio.CancelledError as cancelled:
            own = isinstance(yielded, asyncio.Future) and yielded.cancelled()
            # its future cancelled: it sees that on resuming; else the cancellation is thrown in
            step = partial(coroutine.send, None) if own else partial(coroutine.throw, cancelled)
        except Exception:  # the future's own failure: the coroutine sees it on resuming
            step = partial(coroutine.send, None)
        else:
            step = partial(coroutine.send, None)
        try:
            yielded = _waited(coroutine, context.run(step))
        except StopIteration as done:
            return done.value


def _waited(coroutine: Coroutine[Any, Any, Any], yielded: Any) -> asyncio.Future[Any] | None:
    """What a coroutine's step yielded, taken as asyncio's `Task.__step` takes it: a future it
    waits for (its blocking flag cleared, so other coroutines may await it too) or None. Any
    other yield is a bug in the resolver: it is closed, and the error is its result."""
    if yielded is None:
        return None
    if not isinstance(yielded, asyncio.Future) or not yielded._asyncio_future_blocking:
        coroutine.close()
        raise RuntimeError(f"a resolver yielded {yielded!r}, not a future it waits for")
    yielded._asyncio_future_blocking = False
    return yielded


def _start_afresh(context: object) -> None:
    """New DataLoaders for graphql-core's run after a plan gave up: it reads as a request of its
    own would (a failed batch fails again in its own order, not from what the plan cached)."""
    if isinstance(context, Context):
        context.loaders = Loaders(now=context.now)


def _abandon(pending: list[tuple[Awaitable[Any], dict[str, Any], _Field, Path]]) -> None:
    """Close the resolvers of a level that never started (a future left alone is harmless)."""
    for awaitable, *_ in pending:
        if inspect.iscoroutine(awaitable):
            awaitable.close()


# --- planning ----------------------------------------------------------------------------------


class _Directives(Visitor):
    found = False

    def enter_directive(self, _node: DirectiveNode, *_: object) -> None:
        self.found = True


def _compile(executor: PlannedExecutor) -> Plan | None:
    """A plan of the executor's operation, or None where the plan would not be exact."""
    operation: OperationDefinitionNode = executor.operation
    schema = executor.schema
    seen = _Directives()
    visit(operation, seen)
    for fragment in executor.fragment_definitions.values():
        visit(fragment, seen)
        if fragment.variable_definitions:
            return None
    root = schema.query_type
    if seen.found or root is None or root.is_type_of is not None:
        return None
    collected = collect_fields(
        schema,
        executor.fragments,
        executor.variable_values,
        root,
        operation,
        executor.hide_suggestions,
    )
    if collected.new_defer_usages:
        return None
    fields = _fields(executor, root, collected.grouped_field_set)
    return None if fields is None else Plan(root=_execute_fields(root, fields))


def _fields(
    executor: PlannedExecutor, parent: GraphQLObjectType, grouped: GroupedFieldSet
) -> list[_Field] | None:
    fields = []
    for key, details_list in grouped.items():
        if any(d.defer_usage or d.fragment_variable_values for d in details_list):
            return None
        name = details_list[0].node.name.value
        definition = executor.schema.get_field(parent, name)
        if definition is None or (name.startswith("__") and name != "__typename"):
            return None
        if has_side_effects(definition.extensions.get(_DEFINITION)):
            return None  # a give-up would run it twice: graphql-core runs it, once
        completion = _completion(executor, definition.type, details_list)
        if completion is None:
            return None
        complete, below = completion
        attribute = _attribute(definition)
        fields.append(
            _Field(
                key=key,
                parent=parent,
                definition=definition,
                nodes=[d.node for d in details_list],
                details=details_list[0],
                attribute=attribute,
                complete=complete,
                needs_path=below or attribute is None,
                text=get_named_type(definition.type) in (GraphQLString, GraphQLID),
                resolve=definition.resolve or executor.field_resolver,
                direct=_direct(definition, executor.schema),
            )
        )
    return fields


def _direct(definition: GraphQLField, schema: GraphQLSchema) -> Callable[[Any, Any], Any] | None:
    """A strawberry resolver without arguments, called as strawberry calls it (its `self`,
    root or parent: the source; its info: strawberry's Info of this field) but without the
    layers that convert arguments and run field extensions, of which it has none. None where
    strawberry would do more: arguments, field extensions, exception handlers."""
    field_ = definition.extensions.get(_DEFINITION)
    strawberry_schema = getattr(schema, "_strawberry_schema", None)
    converter = getattr(strawberry_schema, "schema_converter", None)
    if type(field_) is not StrawberryField or strawberry_schema is None:
        return None
    base = field_.base_resolver
    handlers = getattr(converter, "_exception_handler_specs", None)
    if handlers is None or len(handlers) or base is None:
        return None
    if field_.extensions or field_.arguments or definition.args:
        return None
    function = base.wrapped_func
    if not callable(function):
        return None
    with_self = base.self_parameter is not None
    sources = [p.name for p in (base.parent_parameter, base.root_parameter) if p is not None]
    info_name = base.info_parameter.name if base.info_parameter is not None else None
    info_class = strawberry_schema.config.info_class

    def call(source: Any, info: Any) -> Any:
        kwargs = dict.fromkeys(sources, source)
        if info_name is not None:
            kwargs[info_name] = info_class(_raw_info=info, _field=field_)
        return function(source, **kwargs) if with_self else function(**kwargs)

    return call


def _attribute(definition: GraphQLField) -> str | None:
    """The attribute a plain strawberry field reads (strawberry's `_get_basic_result`)."""
    strawberry_field = definition.extensions.get(_DEFINITION)
    resolve = definition.resolve
    if not isinstance(strawberry_field, StrawberryField) or resolve is None:
        return None
    basic = getattr(resolve, "__name__", "") == "_get_basic_result"
    if basic and strawberry_field.is_basic_field and strawberry_field.default_resolver is getattr:
        return strawberry_field.python_name
    return None


def _completion(
    executor: PlannedExecutor, kind: GraphQLOutputType, details: list[FieldDetails]
) -> tuple[Complete, bool] | None:
    """How to complete a value of `kind`, and whether a resolver runs somewhere below it."""
    if isinstance(kind, GraphQLNonNull):
        inner = _completion(executor, kind.of_type, details)
        return None if inner is None else (_non_null(inner[0]), inner[1])
    if isinstance(kind, GraphQLList):
        inner = _completion(executor, kind.of_type, details)
        return None if inner is None else (_list(inner[0]), inner[1])
    if is_leaf_type(kind):
        return _leaf(kind), False
    if not isinstance(kind, GraphQLObjectType) or kind.is_type_of is not None:
        return None  # an interface or a union: graphql-core resolves the type
    collected = collect_subfields(
        executor.schema,
        executor.fragments,
        executor.variable_values,
        executor.operation,
        kind,
        details,
        executor.hide_suggestions,
    )
    if collected.new_defer_usages:
        return None
    fields = _fields(executor, kind, collected.grouped_field_set)
    if fields is None:
        return None
    return _object(kind, fields), any(f.needs_path for f in fields)


# --- completing values (graphql-core's `complete_value`, the happy path) ------------------------


def _non_null(inner: Complete) -> Complete:
    def complete(value: Any, path: Path | None, run: _Run) -> Any:
        completed = inner(value, path, run)
        if completed is None:
            raise _GiveUp  # graphql-core: "Cannot return null for non-nullable field"
        return completed

    return complete


def _list(item: Complete) -> Complete:
    def complete(value: Any, path: Path | None, run: _Run) -> Any:
        if value is None or value is Undefined:
            return None
        if type(value) is not list and type(value) is not tuple:
            raise _GiveUp  # an exception, an awaitable, another iterable: graphql-core's
        return [item(v, Path(path, i, None), run) for i, v in enumerate(value)]

    return complete


def _leaf(kind: Any) -> Complete:
    coerce = kind.coerce_output_value
    text = kind is GraphQLString or kind is GraphQLID  # a str is its own String and ID

    def complete(value: Any, path: Path | None, run: _Run) -> Any:
        plain = type(value)
        if text and plain is str:
            return value
        if value is None or value is Undefined:
            return None
        if plain not in _PLAIN and run.special(value):
            raise _GiveUp
        coerced = coerce(value)
        if coerced is None or coerced is Undefined:
            raise _GiveUp
        return coerced

    return complete


def _object(kind: GraphQLObjectType, fields: list[_Field]) -> Complete:
    execute = _execute_fields(kind, fields)

    def complete(source: Any, path: Path | None, run: _Run) -> Any:
        if source is None or source is Undefined:
            return None
        if run.special(source):
            raise _GiveUp
        return execute(source, path, run)

    return complete


def _execute_fields(kind: GraphQLObjectType, fields: list[_Field]) -> Complete:
    """The fields of one object (the root value too, whatever it is: graphql-core's
    `execute_fields`)."""
    name = kind.name

    def execute(source: Any, path: Path | None, run: _Run) -> Any:
        result: dict[str, Any] = {}
        for spec in fields:
            key = spec.key
            if spec.attribute is not None:
                value = getattr(source, spec.attribute)
                if type(value) is str and spec.text:
                    result[key] = value
                    continue
                if run.special(value):
                    raise _GiveUp  # graphql-core would await it, or fail on an exception
                here = Path(path, key, name) if spec.needs_path else None
                result[key] = spec.complete(value, here, run)
                continue
            here = Path(path, key, name)
            value = run.call(spec, source, here)
            if run.is_awaitable(value):
                result[key] = None  # its place in the response, filled in later
                run.pending.append((value, result, spec, here))
            else:
                result[key] = spec.complete(value, here, run)
        return result

    return execute


def registered_texts(settings: Settings) -> list[str]:
    """The texts of the documents the settings trust (none with TRUSTED_DOCUMENTS=off)."""
    if settings.trusted_documents_mode == "off":
        return []
    path = settings.persisted_documents_file or MANIFEST
    return [document.text for document in load_documents(path).values()]
