"""The checkout mutations a storefront repeats, answered without the general GraphQL path.

A drop's checkout is a few documents sent thousands of times: `createCart`, `addToCart`,
`setCartContact`, `setCartDelivery`, `placeOrder`. Through strawberry's view each one pays for
the request adapter, a dozen schema-extension hooks, graphql-core's executor and the field
middleware; that was about 1.5 ms of CPU per call around a service call that is often cheaper
(a refused `placeOrder` is three statements). Here a document is parsed and validated once
(the schema's rules, the depth, alias, token and cost limits, introspection off), and its
payload selection is turned into a plan; a request of it then coerces its variables as
graphql-core does, checks its strings as `ValidateInput` does, calls the same resolver
(`resolvers.CheckoutMutation`) and writes the payload from the plan.

Exactness: a request the plan does not model goes the general way *before anything happens*:
an `Authorization` header (tokens, partners, signed-in shoppers), a free-form document in
strict mode, a content type or `Accept` other than JSON, query parameters, body keys other than
`query`/`documentId`/`variables`/`operationName`, variables that do not coerce, a document that
is not one of these mutations alone, a selection with directives, abstract types or resolvers
that take arguments or `info`, a cost over the limit. Once the resolver has started, a mutation
is never run a second time: anything that goes wrong from there is answered here as
graphql-core would (the error at its path, nulls up to the nearest nullable field, masked in
prod). `tests/schema/checkout/test_fast.py` compares the answers with the general path's;
the plans themselves are made in `fast_plans.py`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from graphql import (
    GraphQLError,
    GraphQLSchema,
    NoSchemaIntrospectionCustomRule,
    located_error,
    specified_rules,
)
from graphql.execution.values import get_argument_values, get_variable_values
from starlette.requests import Request
from starlette.responses import Response
from strawberry import Schema
from strawberry.extensions import MaskErrors, MaxAliasesLimiter, QueryDepthLimiter
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule
from strawberry.types.arguments import convert_arguments

from app.schema import is_unexpected
from app.schema.checkout.fast_plans import NullPayload, Plan, Planner, compile_plan
from app.schema.context import Context
from app.schema.cost import rate_limited
from app.schema.documents import NO_STORE, PRIVATE, TrustedDocuments
from app.schema.errors import UserError
from app.schema.validation import argument_problems
from app.services.query_budget import spend
from app.settings import Settings

BODY_KEYS = frozenset({"query", "documentId", "variables", "operationName"})
FREE_FORM_PLANS = 256  # distinct free-form texts remembered (trusted texts always are)


class View(Protocol):
    """What the fast path needs of the GraphQL view (app.main.VitrinaGraphQL)."""

    def encode_json_bytes(self, data: object) -> bytes: ...

    async def get_context(self, request: Request, response: Response) -> Context: ...


@dataclass(frozen=True, slots=True)
class _RootInfo:
    """What the planned root resolvers read of strawberry's Info: the request's context."""

    context: Context


@dataclass(frozen=True, slots=True)
class _Answer:
    data: dict[str, Any] | None
    errors: list[GraphQLError]
    report: dict[str, int]


class FastMutations:
    """Plans of the checkout mutation documents, and the requests that run from them."""

    def __init__(self, schema: Schema, settings: Settings, documents: TrustedDocuments) -> None:
        self.schema = schema
        self.core: GraphQLSchema = schema._schema
        self.settings = settings
        self.documents = documents
        self.plans: dict[tuple[str, str | None], Plan | None] = {}
        self.trusted = {d.text for d in documents.documents.values()}
        rules = (
            *specified_rules,
            *QueryDepthLimiter(max_depth=settings.max_query_depth).validation_rules,
            *MaxAliasesLimiter(max_alias_count=settings.max_aliases).validation_rules,
            NoSchemaIntrospectionCustomRule,  # a plan never answers introspection
            MaybeNullValidationRule,
            OneOfInputValidationRule,
        )
        self.planner = Planner(schema, rules, settings.max_tokens)
        self.mask = (
            MaskErrors(should_mask_error=is_unexpected) if settings.environment == "prod" else None
        )

    async def answer(self, request: Request, view: View) -> Response | None:
        """The response, or None: the request takes the general path (nothing was done)."""
        found = await self._admit(request)
        if found is None:
            return None
        plan, raw_variables = found
        variables = get_variable_values(
            self.core, plan.operation.variable_definitions or [], raw_variables or {}
        )
        if isinstance(variables, list):
            return None  # graphql-core's own refusal, from the general path
        try:
            arguments = get_argument_values(plan.definition, plan.node, variables)
        except GraphQLError:
            return None
        context = await view.get_context(request, Response())
        answer = await self._run(plan, arguments, context)
        return self._respond(view, answer)

    async def _admit(self, request: Request) -> tuple[Plan, dict[str, Any] | None] | None:
        headers = request.headers
        if "authorization" in headers or request.url.query:
            return None
        if headers.get("content-type") != "application/json" or not _accepts_json(headers):
            return None
        try:
            body = json.loads(await request.body())
        except (ValueError, RecursionError):
            return None
        if type(body) is not dict or not body.keys() <= BODY_KEYS:
            return None
        text, name, variables = self._text(body), body.get("operationName"), body.get("variables")
        if (
            text is None
            or not isinstance(name, str | None)
            or not isinstance(variables, dict | None)
        ):
            return None
        plan = self._plan(text, name)
        return None if plan is None else (plan, variables)

    def _text(self, body: dict[str, Any]) -> str | None:
        query = body.get("query")
        if query is None:  # a registered document by id
            document = self.documents.documents.get(body.get("documentId"))  # type: ignore[arg-type]
            return document.text if document is not None else None
        if not isinstance(query, str) or self.documents.mode == "strict":
            return None  # strict: only an integration token may send a free-form document
        return query

    def _plan(self, text: str, name: str | None) -> Plan | None:
        key = (text, name)
        if key in self.plans:
            return self.plans[key]
        plan = compile_plan(self.planner, text, name)
        if plan is not None and plan.cost > self.settings.max_query_cost:
            plan = None  # QueryCostLimiter refuses it on the general path (QUERY_TOO_COSTLY)
        if text in self.trusted or len(self.plans) < FREE_FORM_PLANS:
            self.plans[key] = plan
        return plan

    async def _run(self, plan: Plan, arguments: dict[str, Any], context: Context) -> _Answer:
        report = {"requested": plan.cost, "limit": self.settings.max_query_cost}
        budget = self.settings.resolved_query_budget_per_second
        if budget:  # QueryCostLimiter's budget, for an anonymous caller
            spent = await spend(
                redis=context.redis,
                client=context.client_ip,
                cost=plan.cost,
                per_second=budget,
                now=context.now,
            )
            report["remaining"] = spent.remaining
            if not spent.admitted:
                return _Answer(None, [rate_limited(spent.retry_after)], report)
        path: list[str | int] = [plan.key]
        problems = argument_problems(self.core.mutation_type, plan.node.name.value, arguments)  # type: ignore[arg-type]
        errors: list[GraphQLError] = []
        try:
            if problems:  # ValidateInput: a refusal in the payload, nothing done
                value = plan.refused([UserError.from_problem(p) for p in problems])
            else:
                value = await self._call(plan, arguments, context)
        except Exception as error:  # the resolver crashed: its payload is non-null
            return _Answer(None, [located_error(error, [plan.node], path)], report)
        try:
            payload = await plan.complete(value, path, errors)
        except NullPayload:
            return _Answer(None, errors, report)
        return _Answer({plan.key: payload}, errors, report)

    async def _call(self, plan: Plan, arguments: dict[str, Any], context: Context) -> Any:
        converter = self.schema.schema_converter
        kwargs = convert_arguments(
            arguments,
            plan.field.arguments,
            scalar_registry=converter.scalar_registry,
            config=self.schema.config,
        )
        return await plan.function(None, _RootInfo(context), **kwargs)

    def _respond(self, view: View, answer: _Answer) -> Response:
        errors = answer.errors
        if errors:
            self.schema.process_errors(errors)  # logged as the general path logs them
            if self.mask is not None:
                errors = self.mask._process_errors(errors)
        body: dict[str, Any] = {"data": answer.data}
        if errors:
            body["errors"] = [error.formatted for error in errors]
        body["extensions"] = {"cost": answer.report}
        response = Response(view.encode_json_bytes(body), media_type="application/json")
        response.headers["cache-control"] = NO_STORE if errors else PRIVATE
        return response


def _accepts_json(headers: Mapping[str, str]) -> bool:
    accept = headers.get("accept")
    if accept is None:
        return True
    kinds = {part.split(";", 1)[0].strip() for part in accept.split(",")}
    return bool(kinds & {"*/*", "application/json", "application/graphql-response+json"}) and not (
        kinds & {"multipart/mixed", "text/event-stream"}
    )
