"""Typed errors in the schema: a code, a field path and a message, for every expected failure."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import TypeVar

import strawberry
from graphql import GraphQLError

from app.domain.access import Scope
from app.domain.errors import DomainError, ErrorCode, Problem
from app.schema.context import Info

strawberry.enum(ErrorCode, name="UserErrorCode")

T = TypeVar("T")
P = TypeVar("P")


@strawberry.type
class UserError:
    code: ErrorCode
    path: list[str] = strawberry.field(description="where in the input, e.g. rows.12.quantity")
    message: str
    available: int | None = strawberry.field(
        default=None, description="INSUFFICIENT_STOCK: how many units are available now"
    )
    retry_after: int | None = strawberry.field(
        default=None, description="TOO_MANY_ATTEMPTS: seconds before another try is allowed"
    )

    @classmethod
    def from_problem(cls, problem: Problem) -> UserError:
        path = [str(p) for p in problem.path]
        return cls(
            code=problem.code,
            path=path,
            message=problem.message,
            available=problem.available,
            retry_after=problem.retry_after,
        )

    @classmethod
    def from_error(cls, error: DomainError) -> UserError:
        return cls.from_problem(error.as_problem())


class AccessCode(StrEnum):
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"


def access_error(code: AccessCode, message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code.value})


async def require_scope(info: Info, scope: Scope, *others: Scope) -> None:
    """Refuse the call unless it carries an integration token with `scope` or one of `others`
    (nothing is written)."""
    principal = await info.context.integration()
    if principal is None:
        raise access_error(
            AccessCode.UNAUTHENTICATED,
            "a valid integration token is required: Authorization: Bearer <token>",
        )
    if not any(principal.may(s) for s in (scope, *others)):
        wanted = " or ".join(s.value for s in (scope, *others))
        raise access_error(AccessCode.FORBIDDEN, f"this token lacks the {wanted} scope")


async def payload(
    work: Awaitable[T],
    ok: Callable[[T], P | Awaitable[P]],
    refused: Callable[[list[UserError]], P],
) -> P:
    """A mutation's payload: `ok` of what the service call gave, or, when the service refused
    with a domain error, `refused` with that error typed (code, path, message)."""
    try:
        value = await work
    except DomainError as error:
        return refused([UserError.from_error(error)])
    made = ok(value)
    return await made if inspect.isawaitable(made) else made
