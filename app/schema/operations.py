"""Which operation of a document runs: the one the request names, never a guess."""

from __future__ import annotations

from collections.abc import Iterator

from graphql import GraphQLError, OperationDefinitionNode
from strawberry.extensions import SchemaExtension


class RequireOperationName(SchemaExtension):
    """A document with several operations must name the one to run: strawberry would silently
    run the first (graphql-core refuses only when that first one is anonymous)."""

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        operations = [] if document is None else document.definitions
        several = sum(isinstance(d, OperationDefinitionNode) for d in operations) > 1
        # strawberry keeps the name the request gave only here (`operation_name` falls back)
        if several and context._provided_operation_name is None:
            refusal = GraphQLError(
                "operationName is required: the document holds several operations",
                extensions={"code": "BAD_REQUEST"},
            )
            context.pre_execution_errors = [*(context.pre_execution_errors or []), refusal]
        yield
