"""A query field that does more than read is never run from a plan (it would run twice)."""

from __future__ import annotations

import strawberry

from app.schema import build_schema, plans
from app.schema.effects import has_side_effects, side_effects
from app.settings import Settings

DOCUMENT = "query Twice { counted broken }"


def _schema(calls: list[str], *, marked: bool) -> strawberry.Schema:
    metadata = side_effects("counts its calls") if marked else None

    @strawberry.type
    class Query:
        @strawberry.field(metadata=metadata)  # type: ignore[untyped-decorator]
        async def counted(self) -> int:
            calls.append("counted")
            return len(calls)

        @strawberry.field
        async def broken(self) -> int:
            raise ValueError("no figure")

    return strawberry.Schema(
        query=Query, execution_context_class=plans.planned_executor([DOCUMENT])
    )


async def test_a_plan_that_gives_up_runs_an_unmarked_resolver_a_second_time() -> None:
    # given a trusted document whose second field fails, its first one not marked
    calls: list[str] = []
    # when it is executed
    result = await _schema(calls, marked=False).execute(DOCUMENT)
    # then the plan gave up and graphql-core ran the first resolver again: what the marker is for
    assert result.errors and calls == ["counted", "counted"]


async def test_a_marked_resolver_runs_once_when_the_document_fails() -> None:
    # given the same document with its first field marked as having side effects
    calls: list[str] = []
    # when it is executed
    result = await _schema(calls, marked=True).execute(DOCUMENT)
    # then graphql-core ran it, once, and answered the failure as usual
    assert calls == ["counted"]
    assert result.data is None and result.errors and result.errors[0].path == ["broken"]


def test_the_query_fields_that_log_spend_or_move_state_are_marked() -> None:
    # given the whole schema
    schema = build_schema(Settings(environment="test"))
    query = schema.get_type_by_name("Query")
    assert query is not None
    fields = {f.python_name: f for f in query.fields}  # type: ignore[union-attr]
    # then every query field known to log a read, spend a throttle or tick a queue is marked
    marked = {name for name, f in fields.items() if has_side_effects(f)}
    assert {"queue_status", "customer_profile", "customer_segment", "shop_receipts"} <= marked
