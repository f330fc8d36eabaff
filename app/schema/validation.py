"""Every string in every operation's arguments, checked once, before any resolver runs.

`ValidateInput` walks the coerced arguments of each field (input objects and lists included)
and applies `check_text` (app/domain/text.py): at most MAX_TEXT_LENGTH characters, or the
column's size where the string is stored as given (`RULES`); no NUL, control character or lone
surrogate, line breaks and tabs only in free text. So PostgreSQL and SQLite see the same strings.

A refusal names the place in the caller's variables, e.g. ["contact", "firstName"]:
- a mutation answers its payload's `refused(errors)`: errors with code INVALID, nothing done;
- any other field (a query) raises a GraphQL error, extensions {"code": "INVALID", "field"};
- a mutation marked `metadata=ITEMWISE` (1C batches) runs anyway and gets what was found as
  its parent value (`RejectedItems`): each refused item is reported with its path and never
  written, the others are applied.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from graphql import (
    GraphQLError,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLResolveInfo,
    OperationType,
)
from strawberry.extensions import SchemaExtension

from app.domain.catalog import MAX_SLUG_LENGTH
from app.domain.errors import DomainError, Problem
from app.domain.text import MAX_TEXT_LENGTH, TextRule, check_text
from app.schema.errors import UserError

ITEMWISE: Mapping[str, object] = {"vitrina.validation": "itemwise"}
_DEFINITION = "strawberry-definition"  # where strawberry keeps its own definition of a type


@dataclass(frozen=True, slots=True)
class Stored(TextRule):
    """A string stored as given: at most its column's size (`table.column`, a test compares)."""

    column: str = ""


def _stored(column: str, max_length: int, *, multiline: bool = False) -> Stored:
    return Stored(max_length, multiline, column)


FREE_TEXT = TextRule(MAX_TEXT_LENGTH, multiline=True)
SLUG = TextRule(MAX_SLUG_LENGTH)  # an explicit slug; a longer one could not stay as sent

# Schema coordinates (Type.field, Type.field(argument:)) → rule; every other string: TextRule().
RULES: Mapping[str, TextRule] = {
    # 1C intake
    "WarehouseInput.name": _stored("warehouse.name", 200),
    "WarehouseInput.address": _stored("warehouse.address", 500, multiline=True),
    "WarehouseInput.slackChannel": _stored("warehouse.slack_channel", 100),
    "WarehouseInput.slackOnDuty": _stored("warehouse.slack_on_duty", 100),
    "CategoryInput.name": _stored("category.name", 200),
    "CategoryInput.slug": SLUG,
    "CollectionInput.name": _stored("collection.name", 200),
    "CollectionInput.slug": SLUG,
    "CollectionInput.description": FREE_TEXT,
    "ProductInput.name": _stored("product.name", 300),
    "ProductInput.slug": SLUG,
    "ProductInput.description": FREE_TEXT,
    "VariantInput.sku": _stored("variant.sku", 64),
    "VariantInput.size": _stored("variant.size", 32),
    "VariantInput.colour": _stored("variant.colour", 64),
    "ImageInput.url": _stored("product_image.url", 1000),
    "ImageInput.alt": _stored("product_image.alt", 300),
    # checkout
    "ContactInput.email": _stored("cart.email", 254),
    "ContactInput.firstName": _stored("cart.first_name", 100),
    "ContactInput.lastName": _stored("cart.last_name", 100),
    "DeliveryInput.address": _stored("cart.delivery_address", 500, multiline=True),
    # accounts
    "RegisterInput.email": _stored("customer.email", 254),
    "RegisterInput.firstName": _stored("customer.first_name", 100),
    "RegisterInput.lastName": _stored("customer.last_name", 100),
    "ProfileInput.firstName": _stored("customer.first_name", 100),
    "ProfileInput.lastName": _stored("customer.last_name", 100),
    "AddressInput.label": _stored("customer_address.label", 50),
    "AddressInput.recipient": _stored("customer_address.recipient", 200),
    "AddressInput.city": _stored("customer_address.city", 100),
    "AddressInput.street": _stored("customer_address.street", 300),
    "AddressInput.apartment": _stored("customer_address.apartment", 50),
    "AddressInput.postcode": _stored("customer_address.postcode", 12),
    "AddressInput.comment": _stored("customer_address.comment", 500, multiline=True),
    # finance
    "Mutation.refundPayment(reason:)": _stored("refund.reason", 250, multiline=True),
    # 1C inbound (issue 15)
    "ShopCustomerInput.phone": _stored("shop_receipt.phone", 64),
    "ShopCustomerInput.loyaltyCard": _stored("shop_receipt.loyalty_card", 64),
    "ShopCustomerInput.email": _stored("shop_receipt.email", 254),
    "OrderStatusUpdateInput.carrier": _stored("order_shipment.carrier", 100),
    "OrderStatusUpdateInput.trackingNumber": _stored("order_shipment.tracking_number", 100),
    "OrderStatusUpdateInput.reason": _stored("order_return.reason", 200, multiline=True),
    "MarkingCodeInput.code": _stored("marking_code.code", 255),
}
_ANY = TextRule()

Path = tuple[str | int, ...]


def argument_problems(
    parent: GraphQLObjectType, name: str, arguments: Mapping[str, Any]
) -> list[Problem]:
    """What is wrong with the strings among a field's coerced arguments, in argument order."""
    field = parent.fields[name]
    problems: list[Problem] = []
    for arg_name, value in arguments.items():
        argument = field.args.get(arg_name)
        if argument is not None:
            coordinate = f"{parent.name}.{name}({arg_name}:)"
            _walk(argument.type, value, coordinate, (arg_name,), problems)
    return problems


def _walk(
    kind: GraphQLInputType, value: Any, coordinate: str, path: Path, out: list[Problem]
) -> None:
    if isinstance(kind, GraphQLNonNull):
        kind = kind.of_type
    if value is None:
        return
    if isinstance(kind, GraphQLList):
        items = value if isinstance(value, list) else [value]
        for index, item in enumerate(items):
            _walk(kind.of_type, item, coordinate, (*path, index), out)
    elif isinstance(kind, GraphQLInputObjectType) and isinstance(value, Mapping):
        for field_name, field_value in value.items():
            if (input_field := kind.fields.get(field_name)) is not None:
                where = f"{kind.name}.{field_name}"
                _walk(input_field.type, field_value, where, (*path, field_name), out)
    elif isinstance(value, str):
        rule = RULES.get(coordinate, _ANY)
        try:
            check_text(value, max_length=rule.max_length, multiline=rule.multiline, path=path)
        except DomainError as error:
            out.append(error.as_problem())


def _is_itemwise(field: GraphQLField) -> bool:
    definition = field.extensions.get(_DEFINITION)
    metadata = getattr(definition, "metadata", None) or {}
    return all(metadata.get(key) == value for key, value in ITEMWISE.items())


class ValidateInput(SchemaExtension):
    """Refuse a field whose arguments hold a string that is not acceptable text (see above)."""

    def resolve(
        self,
        _next: Callable[..., object],
        root: Any,
        info: GraphQLResolveInfo[Any],
        *args: str,
        **kwargs: Any,
    ) -> object:
        if not kwargs:
            return _next(root, info, *args, **kwargs)
        problems = argument_problems(info.parent_type, info.field_name, kwargs)
        if _is_itemwise(info.parent_type.fields[info.field_name]):
            return _next(RejectedItems(tuple(problems)), info, *args, **kwargs)
        if problems:
            return _refusal(info, problems)
        return _next(root, info, *args, **kwargs)


def _refusal(info: GraphQLResolveInfo[Any], problems: Sequence[Problem]) -> object:
    top_level_mutation = info.path.prev is None and (
        info.operation.operation is OperationType.MUTATION
    )
    refused = getattr(_payload_class(info), "refused", None) if top_level_mutation else None
    if refused is not None:
        return refused([UserError.from_problem(p) for p in problems])
    raise _field_error(problems[0])


def _field_error(problem: Problem) -> GraphQLError:
    """A refusal outside a payload: the same shape as `query_error` (code, field path)."""
    extensions = {"code": problem.code.value, "field": [str(p) for p in problem.path]}
    return GraphQLError(problem.message, extensions=extensions)


def _payload_class(info: GraphQLResolveInfo[Any]) -> type | None:
    kind = info.return_type
    if isinstance(kind, GraphQLNonNull):
        kind = kind.of_type
    definition = getattr(kind, "extensions", {}).get(_DEFINITION)
    origin = getattr(definition, "origin", None)
    return origin if isinstance(origin, type) else None


@dataclass(frozen=True, slots=True)
class RejectedItems:
    """What `ValidateInput` found in an ITEMWISE mutation's arguments. It is handed to the
    resolver as its parent value: declare `found: strawberry.Parent[RejectedItems]`."""

    problems: tuple[Problem, ...]

    def by_item(self, *, under: Path = ()) -> dict[str, dict[int, Problem]]:
        """Refused items by list name and index (the first problem of each), their paths taken
        from inside `under` (1C's paths start at the list's name). A problem outside any
        item refuses the whole call."""
        rejected: dict[str, dict[int, Problem]] = {}
        for problem in self.problems:
            path = tuple(problem.path[len(under) :])
            inside = tuple(problem.path[: len(under)]) == under and len(path) >= 2
            if not inside or not isinstance(path[0], str) or not isinstance(path[1], int):
                raise _field_error(problem)
            located = Problem(problem.code, path, problem.message)
            rejected.setdefault(path[0], {}).setdefault(path[1], located)
        return rejected
