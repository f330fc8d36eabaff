"""The rate limit of partner tokens, reported in every answer's `extensions.rateLimit`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from graphql import ExecutionResult, GraphQLError
from strawberry.extensions import SchemaExtension

from app.schema.context import Context
from app.services.partners.apps import partner_id_of
from app.services.partners.rate_limit import Poured, pour
from app.settings import Settings


class PartnerRateLimiter(SchemaExtension):
    """Count each request of a partner's token in its leaky bucket; refuse it (RATE_LIMITED,
    with `retryAfter`) when the bucket is full. The brand's own tokens (1C, admin) and
    anonymous callers are not counted here (the query cost budget covers the latter)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.report: dict[str, int] = {}

    async def on_execute(self) -> AsyncIterator[None]:
        poured = await self._pour()
        if poured is not None:
            self.report = {
                "limit": poured.limit,
                "remaining": poured.remaining,
                "reset": poured.reset,
            }
            if not poured.admitted:
                refusal = partner_rate_limited(poured.retry_after)
                self.execution_context.result = ExecutionResult(data=None, errors=[refusal])
        yield

    def get_results(self) -> dict[str, Any]:
        return {"rateLimit": self.report} if self.report else {}

    async def _pour(self) -> Poured | None:
        context: Context = self.execution_context.context
        principal = await context.integration()
        if principal is None or await partner_id_of(principal) is None:
            return None
        return await pour(
            redis=context.redis,
            token_id=principal.token_id,
            now=context.now,
            per_second=self.settings.partner_rate_limit_per_second,
            burst=self.settings.partner_rate_limit_burst,
        )


def partner_rate_limited(retry_after: int) -> GraphQLError:
    return GraphQLError(
        f"this token's request budget is spent: retry in {retry_after} s",
        extensions={"code": "RATE_LIMITED", "retryAfter": retry_after},
    )
