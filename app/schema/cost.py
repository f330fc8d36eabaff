"""What a GraphQL request costs, computed from its document before it runs, and the limits on
that cost: a maximum per request and a budget per second for each anonymous client.

The model is Shopify's: every object a field returns costs 1 (scalars and enums 0), a mutation
field 10; a list multiplies what each item costs by its length: the `first`/`last` argument of
the field (or of the connection it sits in: `edges`, `nodes`), else the estimate below.
Fragments and aliases are counted where they are spread, variables are read. `@skip`/`@include`
are ignored (the cost is an upper bound) and introspection costs nothing (it is off in prod and
bounded by the schema, not by the data).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncIterator, Hashable, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInt,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    NamedTypeNode,
    OperationDefinitionNode,
    SelectionSetNode,
    Undefined,
    get_named_type,
    get_nullable_type,
    get_operation_ast,
    is_leaf_type,
    is_list_type,
    value_from_ast,
)
from strawberry.extensions import SchemaExtension

from app.schema.context import Context
from app.services.query_budget import spend
from app.settings import Settings

# How long a list without paging usually is, per field ("Type.field"). A guess on the high side
# of the catalogue we sell from: a model in 5 sizes × 2 colours, stock in the online warehouse
# and up to 9 shops, an order split across at most 3 warehouses.
LIST_ESTIMATES: dict[str, int] = {
    "Product.variants": 10,
    "Product.images": 6,
    "Variant.availability": 10,  # sellable warehouses: online + shops
    "Cart.lines": 10,
    "Order.lines": 10,
    "Order.history": 5,  # status changes
    "Order.payments": 3,  # a declined attempt or two, then the one that paid
    "OrderLine.allocations": 3,
    "PaymentInfo.refunds": 3,
    "Account.addresses": 5,
    "Query.collections": 24,  # a drop a month, two years of them
    "Query.categories": 50,
    "Query.shops": 10,
    "Query.outboxCounts": 9,  # 3 systems × 3 states, zeros included
    "Look.slides": 10,  # Instagram's carousels hold up to 10 (20 lately, rarely used)
    "Look.products": 6,  # an outfit: a few items, linked by staff
    "LookProduct.sizes": 6,  # the sizes of the colour shown
}
# Lists estimated by what they hold, wherever they are: a payload's errors are empty on success
# and one or a few on refusal, built in memory from the input.
ITEM_ESTIMATES: dict[str, int] = {"UserError": 1}
DEFAULT_LIST_ESTIMATE = 10  # a list field not in the tables above
PAGE_ARGUMENTS = ("first", "last")
OBJECT_COST = 1
MUTATION_FIELD_COST = 10  # a write: a transaction and row locks


def query_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    variables: Mapping[str, Any] | None = None,
    operation_name: str | None = None,
) -> int:
    """The cost of the operation `operation_name` in a validated document."""
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return 0
    root = schema.get_root_type(operation.operation)
    if root is None:
        return 0
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    values = {**_variable_defaults(operation), **(variables or {})}
    return _Costing(schema, fragments, values).selections(
        operation.selection_set, root, page=None, seen=frozenset()
    )


def _variable_defaults(operation: OperationDefinitionNode) -> dict[str, Any]:
    """The operation's own defaults for page-size variables (`$first: Int = 20`)."""
    defaults = {}
    for definition in operation.variable_definitions or ():
        if definition.default_value is not None:
            value = value_from_ast(definition.default_value, GraphQLInt)
            if value is not Undefined:
                defaults[definition.variable.name.value] = value
    return defaults


@dataclass(frozen=True)
class _Costing:
    schema: GraphQLSchema
    fragments: Mapping[str, FragmentDefinitionNode]
    variables: dict[str, Any]

    def selections(
        self,
        node: SelectionSetNode | None,
        parent: GraphQLNamedType,
        page: int | None,
        seen: frozenset[str],
    ) -> int:
        """What a selection set costs; `page` is the size of the lists directly in it (the
        connection it belongs to was asked for that many)."""
        total = 0
        for selection in node.selections if node else ():
            if isinstance(selection, FieldNode):
                total += self.field(selection, parent, page, seen)
            elif isinstance(selection, InlineFragmentNode):
                on = self._condition(selection.type_condition, parent)
                total += self.selections(selection.selection_set, on, page, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is not None and name not in seen:
                    on = self._condition(fragment.type_condition, parent)
                    total += self.selections(fragment.selection_set, on, page, seen | {name})
        return total

    def field(
        self, node: FieldNode, parent: GraphQLNamedType, page: int | None, seen: frozenset[str]
    ) -> int:
        name = node.name.value
        if name.startswith("__") or not isinstance(
            parent, GraphQLObjectType | GraphQLInterfaceType
        ):
            return 0
        definition = parent.fields.get(name)
        if definition is None:
            return 0
        item = get_named_type(definition.type)
        if is_leaf_type(item):
            return 0
        own_page = self._page(node, definition)
        count = 1
        if is_list_type(get_nullable_type(definition.type)):
            count = _first_of(own_page, page, _estimate(parent.name, name, item.name))
            own_page = None  # the page sized this list, not the lists inside its items
        each = self._own_cost(parent) + self.selections(node.selection_set, item, own_page, seen)
        return count * each

    def _own_cost(self, parent: GraphQLNamedType) -> int:
        return MUTATION_FIELD_COST if parent is self.schema.mutation_type else OBJECT_COST

    def _condition(
        self, condition: NamedTypeNode | None, parent: GraphQLNamedType
    ) -> GraphQLNamedType:
        on = self.schema.get_type(condition.name.value) if condition else None
        return on or parent

    def _page(self, node: FieldNode, definition: GraphQLField) -> int | None:
        """The page size asked for, or the argument's default; None for a field without one."""
        for name in PAGE_ARGUMENTS:
            argument = definition.args.get(name)
            if argument is None:
                continue
            given = next((a.value for a in node.arguments or () if a.name.value == name), None)
            value = _as_int(value_from_ast(given, GraphQLInt, self.variables) if given else None)
            if value is None:
                value = _as_int(argument.default_value)
            if value is not None:
                return max(value, 0)
        return None


def _as_int(value: object) -> int | None:
    """An Int as the executor will take it; None for what it will refuse (it runs nothing)."""
    if value is None or value is Undefined:
        return None
    try:
        parsed = GraphQLInt.parse_value(value)
    except GraphQLError:
        return None
    return parsed if isinstance(parsed, int) else None


def _first_of(*counts: int | None) -> int:
    return next(c for c in counts if c is not None)


def _estimate(parent: str, field: str, item: str) -> int:
    return LIST_ESTIMATES.get(f"{parent}.{field}") or ITEM_ESTIMATES.get(
        item, DEFAULT_LIST_ESTIMATE
    )


class _Costs:
    """`query_cost`, remembered per document (the parser cache's object, so its identity) and
    the variables that could size a page: the same storefront page costs the same each time.
    Only a number can be `first`/`last`: of a string, an object or a list (`_as_int` takes
    none of them) the key holds only that it was given (it hides a variable's default)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.known: OrderedDict[Hashable, tuple[DocumentNode, int]] = OrderedDict()

    def cost(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        variables: Mapping[str, Any] | None,
        operation_name: str | None,
    ) -> int:
        given = tuple(
            sorted(
                (name, type(value).__name__, value if isinstance(value, int | float) else None)
                for name, value in (variables or {}).items()
            )
        )
        key = (id(schema), id(document), operation_name, given)
        found = self.known.get(key)
        if found is not None and found[0] is document:  # not an id reused after eviction
            self.known.move_to_end(key)
            return found[1]
        cost = query_cost(schema, document, variables, operation_name)
        self.known[key] = (document, cost)
        if len(self.known) > self.size:
            self.known.popitem(last=False)
        return cost


_COSTS = _Costs(size=1024)


# --- the limits ------------------------------------------------------------------------------


class QueryCostLimiter(SchemaExtension):
    """Refuse, before anything runs, a request that costs more than its caller's maximum
    (QUERY_TOO_COSTLY) or than what is left of an anonymous client's budget (RATE_LIMITED);
    report the cost in the response's `extensions.cost`.

    Integration tokens (1C, admin tools) get a larger maximum and no budget: they are few,
    known and revocable. Everyone else (shoppers, signed in or not) spends from a bucket per
    client address that holds one second of budget and refills continuously.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.report: dict[str, int] = {}

    async def on_execute(self) -> AsyncIterator[None]:
        refusal = await self._judge()
        if refusal is not None:
            self.execution_context.result = ExecutionResult(data=None, errors=[refusal])
        yield

    def get_results(self) -> dict[str, Any]:
        return {"cost": self.report} if self.report else {}

    async def _judge(self) -> GraphQLError | None:
        execution = self.execution_context
        context: Context = execution.context
        assert execution.graphql_document is not None
        cost = _COSTS.cost(
            execution.schema._schema,
            execution.graphql_document,
            execution.variables,
            execution.operation_name,
        )
        integration = await context.integration() is not None
        limit = (
            self.settings.max_query_cost_integration
            if integration
            else self.settings.max_query_cost
        )
        self.report = {"requested": cost, "limit": limit}
        if cost > limit:
            return too_costly(cost, limit)
        budget = self.settings.resolved_query_budget_per_second
        if integration or not budget:
            return None
        spent = await spend(
            redis=context.redis,
            client=context.client_ip,
            cost=cost,
            per_second=budget,
            now=context.now,
        )
        self.report["remaining"] = spent.remaining
        return None if spent.admitted else rate_limited(spent.retry_after)


def too_costly(cost: int, limit: int) -> GraphQLError:
    return GraphQLError(
        f"this request costs {cost}, more than the {limit} allowed: ask for fewer items "
        "(first:), fewer fields or fewer aliases",
        extensions={"code": "QUERY_TOO_COSTLY", "cost": cost, "limit": limit},
    )


def rate_limited(retry_after: int) -> GraphQLError:
    return GraphQLError(
        f"too many costly requests from this address: retry in {retry_after} s",
        extensions={"code": "RATE_LIMITED", "retryAfter": retry_after},
    )
