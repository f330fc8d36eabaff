"""Outbox administration through the real ASGI app: listing, counts, replay, admin tokens only."""

from __future__ import annotations

from typing import Any

import httpx

from app.domain.access import Scope
from app.domain.outbox import EventKind, EventState, Target
from app.models.outbox import OutboxEvent
from tests import factories
from tests.conftest import Clock, graphql

EVENTS = """
query Events($state: OutboxEventState, $target: OutboxTarget, $first: Int, $after: String) {
  outboxEvents(state: $state, target: $target, first: $first, after: $after) {
    nodes {
      id target kind aggregate state attempts nextAttemptAt lastError responseStatus
      responseBody createdAt deliveredAt
    }
    pageInfo { hasNextPage hasPreviousPage endCursor }
  }
}"""
IDS = """
query Ids($state: OutboxEventState, $target: OutboxTarget, $first: Int, $after: String) {
  outboxEvents(state: $state, target: $target, first: $first, after: $after) {
    nodes { id } pageInfo { hasNextPage endCursor }
  }
}"""
COUNTS = "{ outboxCounts { target state count } }"
REPLAY = """
mutation Replay($ids: [ID!], $all: Boolean) {
  replayOutbox(eventIds: $ids, all: $all) { replayed errors { code path message } }
}"""


def _id(name: str) -> str:
    return factories.guid(f"event/{name}")


async def _event(
    name: str,
    state: EventState,
    minute: int,
    target: Target = Target.ONEC,
    **extra: Any,
) -> OutboxEvent:
    return await OutboxEvent.create(
        event_id=_id(name),
        target=target,
        aggregate=f"order:{factories.guid(f'order/{name}')}",
        kind=EventKind.ORDER_PLACED,
        payload={},
        state=state,
        next_attempt_at=factories.later(minute),
        created_at=factories.later(minute),
        **extra,
    )


async def _outbox() -> None:
    """Two dead letters (one per system), one pending, one delivered; created in that order."""
    await _event(
        "rejected",
        EventState.DEAD,
        1,
        attempts=1,
        last_error="1C refused the order: unknown warehouse",
        response_status=422,
        response_body='{"error": "unknown warehouse"}',
    )
    await _event("waiting", EventState.PENDING, 2, attempts=3, last_error="timeout")
    await _event(
        "sent",
        EventState.DELIVERED,
        3,
        Target.RETAILCRM,
        attempts=1,
        delivered_at=factories.later(4),
    )
    await _event(
        "exhausted", EventState.DEAD, 5, Target.RETAILCRM, attempts=12, last_error="gave up"
    )


async def _states() -> dict[str, tuple[EventState, int]]:
    rows = await OutboxEvent.all().values_list("event_id", "state", "attempts")
    return {event_id: (EventState(state), attempts) for event_id, state, attempts in rows}


def _ids(body: dict[str, Any]) -> list[str]:
    return [n["id"] for n in body["data"]["outboxEvents"]["nodes"]]


async def test_dead_letters_are_listed_newest_first_with_what_the_system_answered(
    client: httpx.AsyncClient,
) -> None:
    await _outbox()
    token = await factories.token(Scope.ADMIN)
    body = await graphql(client, EVENTS, {}, token)
    listing = body["data"]["outboxEvents"]
    assert [n["id"] for n in listing["nodes"]] == [_id("exhausted"), _id("rejected")]
    assert listing["nodes"][1] == {
        "id": _id("rejected"),
        "target": "ONEC",
        "kind": "ORDER_PLACED",
        "aggregate": f"order:{factories.guid('order/rejected')}",
        "state": "DEAD",
        "attempts": 1,
        "nextAttemptAt": factories.iso(factories.later(1)),
        "lastError": "1C refused the order: unknown warehouse",
        "responseStatus": 422,
        "responseBody": '{"error": "unknown warehouse"}',
        "createdAt": factories.iso(factories.later(1)),
        "deliveredAt": None,
    }
    assert listing["pageInfo"] == {
        "hasNextPage": False,
        "hasPreviousPage": False,
        "endCursor": listing["pageInfo"]["endCursor"],
    }


async def test_events_are_filtered_by_state_and_system(client: httpx.AsyncClient) -> None:
    await _outbox()
    token = await factories.token(Scope.ADMIN)
    pending = await graphql(client, IDS, {"state": "PENDING"}, token)
    assert _ids(pending) == [_id("waiting")]
    every = await graphql(client, IDS, {"state": None}, token)
    assert _ids(every) == [_id("exhausted"), _id("sent"), _id("waiting"), _id("rejected")]
    crm = await graphql(client, IDS, {"state": None, "target": "RETAILCRM"}, token)
    assert _ids(crm) == [_id("exhausted"), _id("sent")]
    dead_in_1c = await graphql(client, IDS, {"target": "ONEC"}, token)
    assert _ids(dead_in_1c) == [_id("rejected")]


async def test_events_page_with_a_cursor(client: httpx.AsyncClient) -> None:
    await _outbox()
    token = await factories.token(Scope.ADMIN)
    seen: list[str] = []
    after = None
    for _ in range(4):
        body = await graphql(client, IDS, {"state": None, "first": 3, "after": after}, token)
        seen += _ids(body)
        page = body["data"]["outboxEvents"]["pageInfo"]
        if not page["hasNextPage"]:
            break
        after = page["endCursor"]
    assert seen == [_id("exhausted"), _id("sent"), _id("waiting"), _id("rejected")]
    assert after is not None  # two pages, not one


async def test_a_page_over_200_and_a_foreign_cursor_are_refused(
    client: httpx.AsyncClient,
) -> None:
    token = await factories.token(Scope.ADMIN)
    cases: list[tuple[dict[str, Any], str, list[str]]] = [
        ({"first": 201}, "INVALID", ["first"]),
        ({"first": 0}, "INVALID", ["first"]),
        ({"after": "bm90LW91cnM="}, "INVALID_CURSOR", ["after"]),
        ({"after": "%%%"}, "INVALID_CURSOR", ["after"]),
    ]
    for variables, code, field in cases:
        body = await graphql(client, IDS, variables, token)
        assert body["data"] is None
        assert [(e["extensions"]["code"], e["extensions"]["field"]) for e in body["errors"]] == [
            (code, field)
        ]


async def test_counts_cover_every_system_and_state(client: httpx.AsyncClient) -> None:
    await _outbox()
    token = await factories.token(Scope.ADMIN)
    body = await graphql(client, COUNTS, {}, token)
    assert body["data"]["outboxCounts"] == [
        {"target": "ONEC", "state": "PENDING", "count": 1},
        {"target": "ONEC", "state": "DELIVERED", "count": 0},
        {"target": "ONEC", "state": "DEAD", "count": 1},
        {"target": "RETAILCRM", "state": "PENDING", "count": 0},
        {"target": "RETAILCRM", "state": "DELIVERED", "count": 1},
        {"target": "RETAILCRM", "state": "DEAD", "count": 1},
        {"target": "NOTIFY", "state": "PENDING", "count": 0},
        {"target": "NOTIFY", "state": "DELIVERED", "count": 0},
        {"target": "NOTIFY", "state": "DEAD", "count": 0},
        {"target": "SLACK", "state": "PENDING", "count": 0},
        {"target": "SLACK", "state": "DELIVERED", "count": 0},
        {"target": "SLACK", "state": "DEAD", "count": 0},
        {"target": "PARTNER", "state": "PENDING", "count": 0},
        {"target": "PARTNER", "state": "DELIVERED", "count": 0},
        {"target": "PARTNER", "state": "DEAD", "count": 0},
        {"target": "RECEIPTS", "state": "PENDING", "count": 0},
        {"target": "RECEIPTS", "state": "DELIVERED", "count": 0},
        {"target": "RECEIPTS", "state": "DEAD", "count": 0},
    ]


async def test_a_replayed_dead_letter_is_pending_again_from_scratch(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    await _outbox()
    token = await factories.token(Scope.ADMIN)
    ids = [_id("rejected"), _id("waiting"), _id("no-such-event")]
    body = await graphql(client, REPLAY, {"ids": ids}, token)
    assert body["data"]["replayOutbox"] == {"replayed": 1, "errors": []}
    replayed = await OutboxEvent.get(event_id=_id("rejected"))
    assert (replayed.state, replayed.attempts) == (EventState.PENDING, 0)
    assert replayed.next_attempt_at == clock.now
    assert (replayed.response_status, replayed.response_body) == (None, "")
    assert await _states() == {
        _id("rejected"): (EventState.PENDING, 0),
        _id("waiting"): (EventState.PENDING, 3),
        _id("sent"): (EventState.DELIVERED, 1),
        _id("exhausted"): (EventState.DEAD, 12),
    }


async def test_replay_all_replays_every_dead_letter_and_nothing_else(
    client: httpx.AsyncClient,
) -> None:
    await _outbox()
    token = await factories.token(Scope.ADMIN)
    body = await graphql(client, REPLAY, {"all": True}, token)
    assert body["data"]["replayOutbox"] == {"replayed": 2, "errors": []}
    assert await _states() == {
        _id("rejected"): (EventState.PENDING, 0),
        _id("waiting"): (EventState.PENDING, 3),
        _id("sent"): (EventState.DELIVERED, 1),
        _id("exhausted"): (EventState.PENDING, 0),
    }
    again = await graphql(client, REPLAY, {"all": True}, token)
    assert again["data"]["replayOutbox"] == {"replayed": 0, "errors": []}


async def test_replay_needs_exactly_one_of_ids_or_all(client: httpx.AsyncClient) -> None:
    await _outbox()
    before = await _states()
    token = await factories.token(Scope.ADMIN)
    cases: list[tuple[dict[str, Any], list[str]]] = [
        ({}, ["eventIds"]),
        ({"ids": []}, ["eventIds"]),
        ({"all": False}, ["eventIds"]),
        ({"ids": [_id("rejected")], "all": True}, ["all"]),
    ]
    for variables, path in cases:
        body = await graphql(client, REPLAY, variables, token)
        payload = body["data"]["replayOutbox"]
        assert payload["replayed"] == 0
        assert [(e["code"], e["path"]) for e in payload["errors"]] == [("INVALID", path)]
    assert await _states() == before


async def test_missing_wrong_and_underscoped_tokens_see_and_change_nothing(
    client: httpx.AsyncClient,
) -> None:
    await _outbox()
    before = await _states()
    catalog_only = await factories.token(Scope.CATALOG_WRITE, Scope.STOCK_WRITE)
    for token, code in [
        (None, "UNAUTHENTICATED"),
        ("vit_forged", "UNAUTHENTICATED"),
        (catalog_only, "FORBIDDEN"),
    ]:
        for query, variables in [(EVENTS, {}), (COUNTS, {}), (REPLAY, {"all": True})]:
            body = await graphql(client, query, variables, token)
            assert body["data"] is None
            assert [e["extensions"]["code"] for e in body["errors"]] == [code]
    assert await _states() == before
