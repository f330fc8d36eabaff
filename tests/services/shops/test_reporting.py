"""Ops' view of shop confirmations: requests newest first by shop and state, paged; each shop's
answers over a period (counts, declines by reason, median time to answer, rates, open now)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.domain.errors import DomainError, ErrorCode
from app.domain.reservations import ShopConfirmation
from app.domain.shop_confirmation import DeclineReason, RequestState
from app.models.orders import Order
from app.models.shops import ShopRequest, ShopRequestLine
from app.services.shops import deciding, reporting
from tests import factories
from tests.services.shops.test_shop_confirmation import (
    DRESS,
    NOW,
    RULES,
    FakeSlack,
    _click,
    _given,
    _paid_order,
    _send_slack,
)

DEADLINE = NOW + RULES.window
WEEK_AGO = NOW - timedelta(days=7)
LATER = NOW + timedelta(hours=1)


async def _asked(order: Order, shop: str = factories.SHOP_A) -> tuple[ShopRequest, ShopRequestLine]:
    request = await ShopRequest.get(order_id=order.id, warehouse__guid=shop)
    return request, await ShopRequestLine.get(request_id=request.id)


async def _three_answers() -> list[Order]:
    """Shop A confirms one order after 2 minutes, declines one (not found) after 4 and lets
    the third time out; the two that moved on wait in shop B."""
    await _given(shop_a=3, shop_b=2)
    orders = [await _paid_order() for _ in range(3)]
    slack = FakeSlack()
    await _send_slack(slack)
    answers = [("confirm", None, 2), ("decline", DeclineReason.NOT_FOUND, 4)]
    for order, (kind, reason, minutes) in zip(orders, answers, strict=False):
        request, line = await _asked(order)
        await deciding.handle_click(
            _click(line, request, kind, reason), rules=RULES, now=NOW + timedelta(minutes=minutes)
        )
    request, _ = await _asked(orders[2])
    assert await deciding.time_out_request(request_id=request.id, rules=RULES, now=DEADLINE)
    await _send_slack(slack, DEADLINE)
    return orders


def _by_shop(stats: list[reporting.ShopStats]) -> dict[str, reporting.ShopStats]:
    return {row.shop.guid: row for row in stats}


async def test_each_shop_has_its_answers_counted_timed_and_rated(db: str) -> None:
    await _three_answers()

    stats = await reporting.shop_stats(since=WEEK_AGO, until=LATER)

    assert [row.shop.guid for row in stats] == [factories.SHOP_A, factories.SHOP_B]  # priority
    a = _by_shop(stats)[factories.SHOP_A].figures
    assert (a.requests, a.lines, a.confirmed, a.declined_total, a.timed_out) == (3, 3, 1, 1, 1)
    assert dict(a.declined) == {
        DeclineReason.NOT_FOUND: 1,
        DeclineReason.DEFECT: 0,
        DeclineReason.KEPT_FOR_CUSTOMER: 0,
        DeclineReason.OTHER: 0,
    }
    assert a.median_answer_seconds == 180.0  # of 2 and 4 minutes; the timeout is not an answer
    assert (a.decline_rate, a.timeout_rate) == (1 / 3, 1 / 3)
    assert (a.open_now, a.waiting, a.not_shown) == (0, 0, 0)
    b = _by_shop(stats)[factories.SHOP_B].figures
    assert (b.requests, b.lines, b.waiting, b.open_now) == (2, 2, 2, 2)
    assert (b.median_answer_seconds, b.decline_rate, b.timeout_rate) == (None, None, None)


async def test_the_period_counts_requests_by_creation_and_open_now_counts_every_open_one(
    db: str,
) -> None:
    await _three_answers()  # shop A asked at NOW, shop B at 4 minutes and at the deadline

    stats = await reporting.shop_stats(since=NOW + timedelta(minutes=1), until=DEADLINE)

    a = _by_shop(stats)[factories.SHOP_A].figures
    assert (a.requests, a.lines, a.median_answer_seconds, a.decline_rate) == (0, 0, None, None)
    b = _by_shop(stats)[factories.SHOP_B].figures
    assert (b.requests, b.lines, b.open_now) == (1, 1, 2)  # the one asked at the deadline is out


async def test_a_request_slack_never_showed_is_not_counted_as_the_shops_silence(db: str) -> None:
    await factories.warehouses()  # shop B has no channel here
    await factories.product("Dress", variants=[factories.variant("Dress", "M", "black", "5000.00")])
    await factories.stock(DRESS, factories.SHOP_B, 1)
    await factories.upsert_shop_b_channel(None, priority=5)
    order = await _paid_order()
    request = await ShopRequest.get(order_id=order.id)
    await deciding.time_out_request(request_id=request.id, rules=RULES, now=NOW)

    (b,) = await reporting.shop_stats(since=WEEK_AGO, until=LATER, warehouse=factories.SHOP_B)

    assert b.shop.guid == factories.SHOP_B
    f = b.figures
    assert (f.requests, f.lines, f.not_shown, f.timed_out, f.timeout_rate) == (1, 1, 1, 0, None)


async def test_a_shop_never_asked_is_listed_with_zeros(db: str) -> None:
    await factories.warehouses()

    stats = await reporting.shop_stats(since=WEEK_AGO, until=LATER)

    assert [(row.shop.guid, row.figures.requests, row.figures.lines) for row in stats] == [
        (factories.SHOP_A, 0, 0),
        (factories.SHOP_B, 0, 0),
    ]


async def test_a_period_must_run_forwards_and_a_shop_must_exist(db: str) -> None:
    await factories.warehouses()
    with pytest.raises(DomainError) as backwards:
        await reporting.shop_stats(since=NOW, until=NOW)
    assert (backwards.value.code, tuple(backwards.value.path)) == (ErrorCode.INVALID, ("since",))
    with pytest.raises(DomainError) as unknown:
        await reporting.shop_stats(since=WEEK_AGO, until=NOW, warehouse=factories.guid("nowhere"))
    assert unknown.value.code is ErrorCode.UNKNOWN_WAREHOUSE


async def test_requests_come_newest_first_with_their_lines_and_page_by_cursor(db: str) -> None:
    orders = await _three_answers()
    everything = await ShopRequest.all().order_by("-created_at", "-id").values_list("id")
    newest_first = [rid for (rid,) in everything]

    first = await reporting.list_requests(
        warehouse=None, state=None, since=None, first=3, after=None
    )
    rest = await reporting.list_requests(
        warehouse=None, state=None, since=None, first=3, after=first.cursors[-1]
    )

    assert [r.id for r in first.requests + rest.requests] == newest_first
    assert (first.has_next_page, rest.has_next_page, len(newest_first)) == (True, False, 5)
    confirmed = next(r for r in rest.requests if r.order_id == orders[0].id)
    (line,) = rest.lines[confirmed.id]
    assert (confirmed.order.number, confirmed.warehouse.guid) == (
        orders[0].number,
        factories.SHOP_A,
    )
    assert (line.order_line.sku, line.state, line.decided_by_name) == (
        "Dress-M-black",
        ShopConfirmation.CONFIRMED,
        "u0anna",
    )


async def test_requests_filter_by_shop_state_and_creation(db: str) -> None:
    await _three_answers()

    def ids(page: reporting.RequestPage) -> list[tuple[str, RequestState]]:
        return [(r.warehouse.guid, r.state) for r in page.requests]

    open_in_b = await reporting.list_requests(
        warehouse=factories.SHOP_B, state=RequestState.OPEN, since=None, first=50, after=None
    )
    closed = await reporting.list_requests(
        warehouse=None, state=RequestState.CLOSED, since=None, first=50, after=None
    )
    recent = await reporting.list_requests(
        warehouse=None, state=None, since=DEADLINE, first=50, after=None
    )

    assert ids(open_in_b) == [(factories.SHOP_B, RequestState.OPEN)] * 2
    assert ids(closed) == [(factories.SHOP_A, RequestState.CLOSED)] * 3
    assert ids(recent) == [(factories.SHOP_B, RequestState.OPEN)]


@pytest.mark.parametrize(
    ("first", "after", "path", "code"),
    [
        (0, None, ("first",), ErrorCode.INVALID),
        (201, None, ("first",), ErrorCode.INVALID),
        (50, "bm90LWEtY3Vyc29y", ("after",), ErrorCode.INVALID_CURSOR),
    ],
)
async def test_a_bad_page_is_refused_with_its_argument(
    db: str, first: int, after: str | None, path: tuple[str, ...], code: ErrorCode
) -> None:
    with pytest.raises(DomainError) as refused:
        await reporting.list_requests(
            warehouse=None, state=None, since=None, first=first, after=after
        )
    assert (refused.value.code, tuple(refused.value.path)) == (code, path)
