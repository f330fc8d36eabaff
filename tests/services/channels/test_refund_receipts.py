"""A return's refund receipt names the marked units that came back (`mark_code_info`): the
codes the return names, else the first still out in shipment order, each taken once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from app.db import is_sqlite
from app.devtools.simulators.yookassa import YooKassaSimulator
from app.domain.order_status import Reported
from app.models.channels import OrderReturn, ReturnedMarkingCode
from app.models.orders import Order, Refund
from app.services.channels.order_status import StatusUpdate
from tests import factories
from tests.services.channels.conftest import AT, M, S
from tests.services.channels.yookassa_orders import (
    CODES,
    YooOrder,
    paid_by_yookassa,
    simulator_client,
)

pytestmark = pytest.mark.usefixtures("db")
M1, M2, S1 = CODES


@pytest.fixture
async def shipped() -> AsyncIterator[YooOrder]:
    """Two M and one S, paid through YooKassa and shipped with a code per unit."""
    sim = YooKassaSimulator()
    client = simulator_client(sim)
    paid = await paid_by_yookassa(sim, client)
    codes = [(M, M1), (M, M2), (S, S1)]
    report = await paid.report(
        StatusUpdate(paid.order.guid, Reported.SHIPPED, AT, carrier="СДЭК", marking_codes=codes)
    )
    assert report.applied == 1
    yield paid
    await client.aclose()
    await sim.aclose()


def _back(
    order: Order, name: str, lines: list[tuple[str, int]] | None, *codes: str
) -> StatusUpdate:
    return StatusUpdate(
        order.guid,
        Reported.RETURNED,
        AT,
        return_guid=factories.guid(f"return/{name}"),
        return_lines=lines,
        return_codes=codes,
    )


async def _taken(name: str) -> list[tuple[str, bool]]:
    back = await OrderReturn.get(guid=factories.guid(f"return/{name}"))
    rows = await ReturnedMarkingCode.filter(order_return_id=back.id).prefetch_related(
        "marking_code"
    )
    return sorted((r.marking_code.code, r.named) for r in rows)


async def test_a_partial_return_naming_no_code_refunds_the_first_unit_out_with_its_code(
    shipped: YooOrder,
) -> None:
    report = await shipped.report(_back(shipped.order, "one-m", [(M, 1)]))

    assert report.applied == 1
    assert shipped.refund_receipt_items() == [("1.00", "4990.00", M1)]
    assert await _taken("one-m") == [(M1, False)]


async def test_a_second_partial_return_never_takes_the_same_code_again(
    shipped: YooOrder,
) -> None:
    await shipped.report(_back(shipped.order, "first", [(M, 1)]))

    await shipped.report(_back(shipped.order, "second", [(M, 1)]))

    assert shipped.refund_receipt_items() == [("1.00", "4990.00", M1), ("1.00", "4990.00", M2)]
    assert (await _taken("first"), await _taken("second")) == ([(M1, False)], [(M2, False)])
    assert (await Order.get(id=shipped.order.id)).status.value == "partly_returned"


async def test_a_return_naming_its_code_takes_that_unit_and_a_later_one_the_other(
    shipped: YooOrder,
) -> None:
    await shipped.report(_back(shipped.order, "named", [(M, 1)], M2))

    await shipped.report(_back(shipped.order, "unnamed", [(M, 1)]))

    assert shipped.refund_receipt_items() == [("1.00", "4990.00", M2), ("1.00", "4990.00", M1)]
    assert await _taken("named") == [(M2, True)]
    assert await _taken("unnamed") == [(M1, False)]


async def test_a_code_back_already_or_not_of_the_order_is_refused_and_changes_nothing(
    shipped: YooOrder,
) -> None:
    await shipped.report(_back(shipped.order, "named", [(M, 1)], M2))
    refunds = await Refund.all().count()

    again = await shipped.report(_back(shipped.order, "again", [(M, 1)], M2))
    stranger = await shipped.report(_back(shipped.order, "stranger", [(M, 1)], "0104NOPE"))
    too_many = await shipped.report(_back(shipped.order, "too-many", [(S, 1)], S1, M1))

    assert [(p.code, p.path) for r in (again, stranger, too_many) for p in r.problems] == [
        ("CONFLICT", ("updates", 0, "returnMarkingCodes", 0)),
        ("INVALID", ("updates", 0, "returnMarkingCodes", 0)),
        ("INVALID", ("updates", 0, "returnMarkingCodes", 1)),
    ]
    assert await OrderReturn.filter(guid__in=[factories.guid("return/again")]).count() == 0
    assert (await Refund.all().count(), await ReturnedMarkingCode.all().count()) == (refunds, 1)


async def test_a_full_return_refunds_every_unit_with_its_code(shipped: YooOrder) -> None:
    report = await shipped.report(_back(shipped.order, "all", None))

    assert report.applied == 1
    assert shipped.refund_receipt_items() == [
        ("1.00", "4990.00", M1),
        ("1.00", "4990.00", M2),
        ("1.00", "4990.00", S1),
    ]
    [refund] = shipped.sim.refunds.values()
    assert refund["amount"]["value"] == "14970.00"
    assert (await Order.get(id=shipped.order.id)).status.value == "returned"


async def test_the_rest_after_a_partial_return_carries_only_the_codes_still_out(
    shipped: YooOrder,
) -> None:
    await shipped.report(_back(shipped.order, "one-m", [(M, 1)], M2))

    await shipped.report(_back(shipped.order, "rest", None))

    assert shipped.refund_receipt_items() == [
        ("1.00", "4990.00", M2),
        ("1.00", "4990.00", M1),
        ("1.00", "4990.00", S1),
    ]
    assert await _taken("rest") == [(M1, False), (S1, False)]


async def test_units_shipped_without_codes_share_a_line_after_the_coded_ones() -> None:
    sim = YooKassaSimulator()
    client = simulator_client(sim)
    paid = await paid_by_yookassa(sim, client)
    await paid.report(
        StatusUpdate(paid.order.guid, Reported.SHIPPED, AT, carrier="СДЭК", marking_codes=[(M, M1)])
    )

    await paid.report(_back(paid.order, "both-m", [(M, 2)]))

    assert paid.refund_receipt_items() == [("1.00", "4990.00", M1), ("1.00", "4990.00", None)]
    await client.aclose()
    await sim.aclose()


async def test_a_one_stage_payment_ships_with_its_closing_receipt_and_no_capture(
    shipped: YooOrder,
) -> None:
    assert await shipped.deliver_receipts() == 1
    [receipt] = shipped.sim.receipts.values()
    assert [i.get("mark_code_info", {}).get("gs_1m") for i in receipt["items"]] == [M1, M2, S1]
    assert shipped.sim.capture_receipts == {}


async def test_returns_of_one_order_at_once_never_take_the_same_code(shipped: YooOrder) -> None:
    if is_sqlite():
        pytest.skip("concurrency is tested on PostgreSQL")
    returns = [_back(shipped.order, f"at-once-{n}", [(M, 1)]) for n in range(2)]

    reports = await asyncio.gather(*[shipped.report(r) for r in returns])

    assert sum(r.applied for r in reports) == 2
    taken = sorted([*await _taken("at-once-0"), *await _taken("at-once-1")])
    assert taken == [(M1, False), (M2, False)]
    codes = sorted(code for _, _, code in shipped.refund_receipt_items() if code)
    assert codes == [M1, M2]
