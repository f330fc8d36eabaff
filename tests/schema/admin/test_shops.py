"""Shop confirmations for ops through the real ASGI app: requests and per-shop figures with the
shops:read scope, a shop's Slack settings with admin, in a constant number of queries."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from app.domain.access import Scope
from app.models.catalog import Warehouse
from app.models.shops import ShopRequest
from tests import factories
from tests.conftest import Clock, QueryCounter, graphql
from tests.services.shops.test_reporting import DEADLINE, LATER, WEEK_AGO, _three_answers
from tests.services.shops.test_shop_confirmation import NOW, _paid_order

REQUESTS = """
query Requests($warehouse: ID, $state: ShopRequestState, $since: DateTime, $first: Int!,
               $after: String) {
  shopRequests(warehouse: $warehouse, state: $state, since: $since, first: $first, after: $after) {
    nodes {
      id orderNumber shop { id name } state channel createdAt postedAt deadline closedAt
      lines { sku productName quantity state decidedBy decidedAt reason note }
    }
    pageInfo { hasNextPage hasPreviousPage endCursor }
  }
}"""
STATS = """
query Stats($since: DateTime!, $until: DateTime) {
  shopConfirmationStats(since: $since, until: $until) {
    shop { id name }
    requests lines confirmed declined declinedByReason { reason count }
    timedOut notShown withdrawn waiting medianAnswerSeconds declineRate timeoutRate openNow
  }
}"""
SET_SLACK = """
mutation Set($warehouse: ID!, $channel: String, $onDuty: String) {
  setShopSlack(warehouse: $warehouse, channel: $channel, onDuty: $onDuty) {
    settings { shop { id } channel onDuty }
    errors { code path message }
  }
}"""
SET_CHANNEL_ONLY = """
mutation SetChannel($warehouse: ID!, $channel: String) {
  setShopSlack(warehouse: $warehouse, channel: $channel) {
    settings { channel onDuty }
    errors { code path }
  }
}"""


def _iso(moment: Any) -> str:
    return str(moment.isoformat())


def _codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body["errors"]]


async def _slack_of(guid: str) -> tuple[str | None, str | None]:
    shop = await Warehouse.get(guid=guid)
    return shop.slack_channel, shop.slack_on_duty


async def test_ops_see_the_requests_newest_first_with_their_lines_page_by_page(
    client: httpx.AsyncClient,
) -> None:
    orders = await _three_answers()
    ops = await factories.token(Scope.SHOPS_READ)
    page = {"first": 4}

    body = await graphql(client, REQUESTS, page, ops)
    more = await graphql(
        client,
        REQUESTS,
        {**page, "after": body["data"]["shopRequests"]["pageInfo"]["endCursor"]},
        ops,
    )

    first, rest = body["data"]["shopRequests"], more["data"]["shopRequests"]
    assert [n["shop"]["name"] for n in first["nodes"] + rest["nodes"]] == [
        "Shop B",  # asked at the deadline, when shop A let the third order time out
        "Shop B",  # asked at 4 minutes, when shop A declined the second
        "Shop A",
        "Shop A",
        "Shop A",
    ]
    assert (first["pageInfo"]["hasNextPage"], rest["pageInfo"]["hasNextPage"]) == (True, False)
    assert rest["pageInfo"]["hasPreviousPage"] is True
    confirmed = rest["nodes"][0]
    request = await ShopRequest.get(order_id=orders[0].id)
    assert confirmed == {
        "id": str(request.id),
        "orderNumber": orders[0].number,
        "shop": {"id": factories.SHOP_A, "name": "Shop A"},
        "state": "CLOSED",
        "channel": "C0SHOPA",
        "createdAt": _iso(NOW),
        "postedAt": _iso(NOW),
        "deadline": _iso(DEADLINE),
        "closedAt": _iso(NOW + timedelta(minutes=2)),
        "lines": [
            {
                "sku": "Dress-M-black",
                "productName": "Dress",
                "quantity": 1,
                "state": "CONFIRMED",
                "decidedBy": "u0anna",
                "decidedAt": _iso(NOW + timedelta(minutes=2)),
                "reason": None,
                "note": None,
            }
        ],
    }
    silent = first["nodes"][2]["lines"][0]  # the third order, newest of those asked at NOW
    assert (silent["state"], silent["decidedBy"], silent["note"]) == (
        "TIMED_OUT",
        None,
        "no answer",
    )


async def test_requests_filter_by_shop_and_state_and_an_unknown_shop_is_named(
    client: httpx.AsyncClient,
) -> None:
    await _three_answers()
    ops = await factories.token(Scope.SHOPS_READ)

    open_in_b = await graphql(
        client, REQUESTS, {"first": 50, "warehouse": factories.SHOP_B, "state": "OPEN"}, ops
    )
    recent = await graphql(client, REQUESTS, {"first": 50, "since": _iso(DEADLINE)}, ops)
    unknown = await graphql(
        client, REQUESTS, {"first": 50, "warehouse": factories.guid("nowhere")}, ops
    )

    nodes = open_in_b["data"]["shopRequests"]["nodes"]
    assert [(n["shop"]["id"], n["state"]) for n in nodes] == [(factories.SHOP_B, "OPEN")] * 2
    assert [n["createdAt"] for n in recent["data"]["shopRequests"]["nodes"]] == [_iso(DEADLINE)]
    assert unknown["data"] is None
    (error,) = unknown["errors"]
    assert error["extensions"] == {"code": "UNKNOWN_WAREHOUSE", "field": ["warehouse"]}
    naive = await graphql(client, REQUESTS, {"first": 50, "since": "2026-11-20T12:00:00"}, ops)
    assert naive["errors"][0]["extensions"] == {"code": "INVALID_DATETIME", "field": ["since"]}


async def test_each_shop_has_its_figures_over_the_period(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    await _three_answers()
    clock.now = LATER  # `until` defaults to the request's now
    ops = await factories.token(Scope.SHOPS_READ)

    body = await graphql(client, STATS, {"since": _iso(WEEK_AGO)}, ops)

    a, b = body["data"]["shopConfirmationStats"]
    assert a == {
        "shop": {"id": factories.SHOP_A, "name": "Shop A"},
        "requests": 3,
        "lines": 3,
        "confirmed": 1,
        "declined": 1,
        "declinedByReason": [
            {"reason": "NOT_FOUND", "count": 1},
            {"reason": "DEFECT", "count": 0},
            {"reason": "KEPT_FOR_CUSTOMER", "count": 0},
            {"reason": "OTHER", "count": 0},
        ],
        "timedOut": 1,
        "notShown": 0,
        "withdrawn": 0,
        "waiting": 0,
        "medianAnswerSeconds": 180.0,
        "declineRate": 1 / 3,
        "timeoutRate": 1 / 3,
        "openNow": 0,
    }
    assert (b["shop"]["id"], b["requests"], b["waiting"], b["openNow"]) == (
        factories.SHOP_B,
        2,
        2,
        2,
    )
    assert (b["medianAnswerSeconds"], b["declineRate"], b["timeoutRate"]) == (None, None, None)
    backwards = await graphql(client, STATS, {"since": _iso(LATER), "until": _iso(NOW)}, ops)
    assert backwards["errors"][0]["extensions"] == {"code": "INVALID", "field": ["since"]}
    naive = await graphql(client, STATS, {"since": "2026-11-13T12:00:00"}, ops)
    assert naive["errors"][0]["extensions"] == {"code": "INVALID_DATETIME", "field": ["since"]}


@pytest.mark.parametrize(
    ("query", "variables"), [(REQUESTS, {"first": 10}), (STATS, {"since": _iso(WEEK_AGO)})]
)
async def test_reading_needs_shops_read_or_admin(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any]
) -> None:
    await factories.warehouses()
    catalog = await factories.token(Scope.CATALOG_WRITE)
    admin = await factories.token(Scope.ADMIN)

    assert _codes(await graphql(client, query, variables)) == ["UNAUTHENTICATED"]
    assert _codes(await graphql(client, query, variables, catalog)) == ["FORBIDDEN"]
    assert "errors" not in await graphql(client, query, variables, admin)


async def test_a_page_of_five_requests_costs_as_many_queries_as_a_page_of_one(
    client: httpx.AsyncClient, sql_counter: QueryCounter
) -> None:
    await _three_answers()  # five requests
    ops = await factories.token(Scope.SHOPS_READ)
    await graphql(client, REQUESTS, {"first": 1}, ops)  # the token's first use is written down

    async def statements(first: int) -> int:
        sql_counter.statements.clear()
        body = await graphql(client, REQUESTS, {"first": first}, ops)
        assert len(body["data"]["shopRequests"]["nodes"]) == first
        return len(sql_counter.statements)

    one, five = await statements(1), await statements(5)

    sent = "\n".join(sql_counter.statements)
    assert five == one, sent
    # besides the token's: the requests with their orders and shops, then their lines
    assert len([s for s in sql_counter.statements if "shop_request" in s]) == 2, sent


async def test_an_admin_sets_a_shops_channel_and_on_duty_and_the_next_request_uses_them(
    client: httpx.AsyncClient,
) -> None:
    await factories.warehouses()
    await factories.product("Dress", variants=[factories.variant("Dress", "M", "black", "5000.00")])
    await factories.stock(factories.guid("variant/Dress/M/black"), factories.SHOP_A, 1)
    admin = await factories.token(Scope.ADMIN)
    variables = {"warehouse": factories.SHOP_A, "channel": "shop-a-new", "onDuty": "<@U0ANNA>"}

    body = await graphql(client, SET_SLACK, variables, admin)

    assert body["data"]["setShopSlack"] == {
        "settings": {
            "shop": {"id": factories.SHOP_A},
            "channel": "#shop-a-new",
            "onDuty": "<@U0ANNA>",
        },
        "errors": [],
    }
    assert await _slack_of(factories.SHOP_A) == ("#shop-a-new", "<@U0ANNA>")
    order = await _paid_order()
    assert (await ShopRequest.get(order_id=order.id)).channel == "#shop-a-new"


async def test_an_omitted_setting_stays_and_null_or_empty_clears_it(
    client: httpx.AsyncClient,
) -> None:
    await factories.warehouses()
    admin = await factories.token(Scope.ADMIN)
    both = {"warehouse": factories.SHOP_A, "channel": "C0123ABCD", "onDuty": "<!subteam^S0OPS>"}
    await graphql(client, SET_SLACK, both, admin)

    kept = await graphql(client, SET_CHANNEL_ONLY, {"warehouse": factories.SHOP_A}, admin)
    assert kept["data"]["setShopSlack"]["settings"] == {
        "channel": "C0123ABCD",
        "onDuty": "<!subteam^S0OPS>",
    }
    cleared = {"warehouse": factories.SHOP_A, "channel": None, "onDuty": ""}
    body = await graphql(client, SET_SLACK, cleared, admin)
    assert body["data"]["setShopSlack"]["settings"]["channel"] is None
    assert await _slack_of(factories.SHOP_A) == (None, None)


@pytest.mark.parametrize(
    ("variables", "code", "path"),
    [
        ({"warehouse": factories.guid("nowhere")}, "UNKNOWN_WAREHOUSE", ["warehouse"]),
        ({"warehouse": factories.ONLINE, "channel": "#online"}, "INVALID", ["warehouse"]),
        ({"warehouse": factories.SHOP_A, "channel": "#Shop A"}, "INVALID", ["channel"]),
        ({"warehouse": factories.SHOP_A, "onDuty": "@anna"}, "INVALID", ["onDuty"]),
        # a good channel with a bad mention: neither is written
        (
            {"warehouse": factories.SHOP_A, "channel": "#b", "onDuty": "@anna"},
            "INVALID",
            ["onDuty"],
        ),
        ({"warehouse": factories.SHOP_A, "channel": "#shop\u0000"}, "INVALID", ["channel"]),
    ],
)
async def test_a_refused_setting_says_where_and_changes_nothing(
    client: httpx.AsyncClient, variables: dict[str, Any], code: str, path: list[str]
) -> None:
    await factories.warehouses()
    admin = await factories.token(Scope.ADMIN)
    before = {w.guid: (w.slack_channel, w.slack_on_duty) for w in await Warehouse.all()}

    body = await graphql(client, SET_SLACK, variables, admin)

    assert body["data"]["setShopSlack"]["settings"] is None
    assert [(e["code"], e["path"]) for e in body["data"]["setShopSlack"]["errors"]] == [
        (code, path)
    ]
    assert {w.guid: (w.slack_channel, w.slack_on_duty) for w in await Warehouse.all()} == before


async def test_setting_slack_needs_admin(client: httpx.AsyncClient) -> None:
    await factories.warehouses()
    ops = await factories.token(Scope.SHOPS_READ)
    variables = {"warehouse": factories.SHOP_A, "channel": "#elsewhere"}

    body = await graphql(client, SET_SLACK, variables, ops)

    assert _codes(body) == ["FORBIDDEN"]
    assert await _slack_of(factories.SHOP_A) == ("#shop-a", None)
