"""How GraphQL errors leave the schema: logged once, and without hints about the schema in prod.

strawberry logs every error at ERROR with a traceback, validation mistakes included, and puts
whatever the caller sent into the line. Here each error is logged once: a client's mistake (a
document that does not validate, a refusal with a code) at INFO without a stack and with its
message cut to LOGGED_CHARS; a crash (a bug) at ERROR with its stack. The request id comes from
the structlog context that RequestIdMiddleware binds.

graphql-core appends "Did you mean 'products'?" to many messages (fields, arguments, types,
enum values, input fields): with introspection off that would list the schema piece by piece.
`disable_field_suggestions` in the config makes strawberry strip the field hint only; this
schema strips every hint.
"""

from __future__ import annotations

import strawberry
import structlog
from graphql import GraphQLError
from strawberry.types import ExecutionContext

from app.domain.errors import DomainError
from app.logging import clip

log = structlog.get_logger("app.graphql")

LOGGED_CHARS = 200
SUGGESTION = " Did you mean "  # how graphql-core's did_you_mean starts every hint


class VitrinaSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        for error in errors:
            if self.config.disable_field_suggestions:
                error.message = error.message.split(SUGGESTION, 1)[0]
            report(error)


def is_client_error(error: GraphQLError) -> bool:
    """The caller's mistake or a refusal on purpose, not a crash inside a resolver."""
    original = error.original_error
    return original is None or isinstance(original, GraphQLError | DomainError)


def report(error: GraphQLError) -> None:
    """One log line for one error."""
    where = {"path": error.path} if error.path else {}
    message = clip(error.message, LOGGED_CHARS)
    if not is_client_error(error):
        log.error("graphql.failed", message=message, **where, exc_info=error.original_error)
        return
    code = (error.extensions or {}).get("code")
    if code is None and isinstance(error.original_error, DomainError):
        code = error.original_error.code.value
    log.info("graphql.refused", code=code, message=message, **where)
