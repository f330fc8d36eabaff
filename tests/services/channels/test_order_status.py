"""Order status from 1C: forward only, repeats change nothing, a refused report leaves nothing,
a return refunds what came back, a brand's cancel gives the money back, the shopper is told."""

from __future__ import annotations

import asyncio

import pytest

from app.db import is_sqlite
from app.domain.errors import ErrorCode
from app.domain.order_status import Reported
from app.domain.orders import OrderStatus
from app.domain.outbox import EventKind, Target
from app.domain.payments import PaymentStatus, RefundStatus
from app.domain.reservations import ReservationState
from app.models.channels import MarkingCode, OrderReturn, OrderShipment
from app.models.orders import OrderStatusChange, Payment, Refund
from app.models.outbox import OutboxEvent
from app.models.stock import Reservation
from tests import factories
from tests.services.channels.conftest import M, Paid, S

pytestmark = pytest.mark.usefixtures("db")


def problems(report: object) -> list[tuple[ErrorCode, list[object]]]:
    return [(p.code, list(p.path)) for p in report.problems]  # type: ignore[attr-defined]


async def messages(template: str) -> list[dict[str, object]]:
    rows = await OutboxEvent.filter(target=Target.NOTIFY, kind=EventKind.CUSTOMER_MESSAGE)
    return [r.payload for r in rows if r.payload["template"] == template]


async def test_shipped_records_the_carrier_and_tells_crm_and_the_shopper(paid: Paid) -> None:
    report = await paid.report(
        paid.update(
            Reported.SHIPPED,
            carrier="СДЭК",
            tracking_number="1234567890",
            marking_codes=[(M, "010463003407001221CODE1"), (M, "010463003407001221CODE2")],
        )
    )

    assert (report.applied, report.unchanged, problems(report)) == (1, 0, [])
    assert (await paid.fresh()).status is OrderStatus.SHIPPED
    shipment = await OrderShipment.get(order_id=paid.order.id)
    assert (shipment.carrier, shipment.tracking_number) == ("СДЭК", "1234567890")
    assert await MarkingCode.filter(order_id=paid.order.id).count() == 2
    told = await OutboxEvent.filter(kind=EventKind.ORDER_STATUS_CHANGED)
    shipped = [e.target for e in told if e.payload["status"] == "shipped"]
    assert shipped == [Target.RETAILCRM]  # 1C said it: it is not told back
    [message] = await messages("order_shipped")
    assert message["params"] == {
        "number": paid.order.number,
        "status": "shipped",
        "carrier": "СДЭК",
        "tracking": "1234567890",
    }


async def test_a_repeat_changes_nothing(paid: Paid) -> None:
    shipped = paid.update(Reported.SHIPPED, carrier="СДЭК")
    await paid.report(shipped)
    events = await OutboxEvent.all().count()

    report = await paid.report(shipped, paid.update(Reported.SHIPPED, carrier="Почта"))

    assert (report.applied, report.unchanged, problems(report)) == (0, 2, [])
    assert await OutboxEvent.all().count() == events
    assert (await OrderShipment.get(order_id=paid.order.id)).carrier == "СДЭК"


async def test_a_move_backward_is_refused_and_changes_nothing(paid: Paid) -> None:
    await paid.report(paid.update(Reported.SHIPPED, carrier="СДЭК"))
    await paid.report(paid.update(Reported.DELIVERED))
    history = await OrderStatusChange.filter(order_id=paid.order.id).count()

    report = await paid.report(
        paid.update(Reported.SHIPPED, carrier="Почта"), paid.update(Reported.CANCELLED, reason="x")
    )

    assert problems(report) == [
        (ErrorCode.INVALID_TRANSITION, ["updates", 0, "status"]),
        (ErrorCode.INVALID_TRANSITION, ["updates", 1, "status"]),
    ]
    assert (await paid.fresh()).status is OrderStatus.DELIVERED
    assert await OrderStatusChange.filter(order_id=paid.order.id).count() == history


async def test_unknown_orders_and_missing_fields_are_typed_errors(paid: Paid) -> None:
    from app.services.channels.order_status import StatusUpdate

    report = await paid.report(
        StatusUpdate(
            factories.guid("order/unknown"), Reported.DELIVERED, factories.iso(factories.T0)
        ),
        paid.update(Reported.SHIPPED),
        StatusUpdate("not-a-guid", Reported.DELIVERED, factories.iso(factories.T0)),
        StatusUpdate(paid.order.guid, Reported.DELIVERED, "yesterday"),
    )

    assert problems(report) == [
        (ErrorCode.UNKNOWN_ORDER, ["updates", 0, "orderGuid"]),
        (ErrorCode.INVALID, ["updates", 1, "carrier"]),
        (ErrorCode.INVALID_GUID, ["updates", 2, "orderGuid"]),
        (ErrorCode.INVALID_DATETIME, ["updates", 3, "changedAt"]),
    ]
    assert (await paid.fresh()).status is OrderStatus.PAID


async def test_marking_codes_of_another_variant_or_too_many_leave_no_shipment(paid: Paid) -> None:
    other = factories.guid("variant/Other/M/black")
    await factories.product("Other")

    report = await paid.report(
        paid.update(Reported.SHIPPED, carrier="СДЭК", marking_codes=[(other, "CODE-X")]),
        paid.update(Reported.SHIPPED, carrier="СДЭК", marking_codes=[(S, "C1"), (S, "C2")]),
    )

    assert problems(report) == [
        (ErrorCode.UNKNOWN_VARIANT, ["updates", 0, "markingCodes", 0, "variantGuid"]),
        (ErrorCode.INVALID, ["updates", 1, "markingCodes", 1, "code"]),
    ]
    assert await OrderShipment.all().count() == 0
    assert await MarkingCode.all().count() == 0
    assert (await paid.fresh()).status is OrderStatus.PAID


async def test_a_partial_return_refunds_its_units_and_a_second_closes_the_order(
    paid: Paid,
) -> None:
    await paid.report(paid.update(Reported.SHIPPED, carrier="СДЭК"))
    first = factories.guid("return/1")

    report = await paid.report(
        paid.update(Reported.RETURNED, return_guid=first, return_lines=[(M, 1)])
    )

    assert (report.applied, problems(report)) == (1, [])
    assert (await paid.fresh()).status is OrderStatus.PARTLY_RETURNED
    [refund] = await Refund.all()
    assert (refund.amount, refund.status, refund.requested_by) == (
        499000,
        RefundStatus.SUCCEEDED,
        "1c",
    )
    assert (await Payment.get(id=refund.payment_id)).refunded == 499000
    [told] = await messages("order_refunded")
    assert told["params"]["amount"] == "4990.00"  # type: ignore[index]

    again = await paid.report(
        paid.update(Reported.RETURNED, return_guid=first, return_lines=[(M, 1)])
    )
    rest = await paid.report(paid.update(Reported.RETURNED, return_guid=factories.guid("return/2")))

    assert (again.applied, again.unchanged) == (0, 1)
    assert (rest.applied, problems(rest)) == (1, [])
    assert (await paid.fresh()).status is OrderStatus.RETURNED
    assert sorted(r.amount for r in await Refund.all()) == [499000, 499000 + 499000]
    payment = await Payment.get(order_id=paid.order.id)
    assert (payment.status, payment.refunded) == (PaymentStatus.REFUNDED, 3 * 499000)


async def test_returning_more_than_went_out_leaves_nothing(paid: Paid) -> None:
    await paid.report(paid.update(Reported.SHIPPED, carrier="СДЭК"))

    report = await paid.report(
        paid.update(Reported.RETURNED, return_guid=factories.guid("r"), return_lines=[(S, 2)]),
        paid.update(Reported.RETURNED, return_guid=factories.guid("q"), return_lines=[(S, 0)]),
    )

    assert problems(report) == [
        (ErrorCode.INVALID_QUANTITY, ["updates", 0, "returnLines"]),
        (ErrorCode.INVALID_QUANTITY, ["updates", 1, "returnLines"]),
    ]
    assert await OrderReturn.all().count() == 0
    assert await Refund.all().count() == 0
    assert (await paid.fresh()).status is OrderStatus.SHIPPED


async def test_nothing_comes_back_from_an_order_not_shipped(paid: Paid) -> None:
    report = await paid.report(paid.update(Reported.RETURNED, return_guid=factories.guid("r")))

    assert problems(report) == [(ErrorCode.INVALID_TRANSITION, ["updates", 0, "status"])]
    assert await OrderReturn.all().count() == 0


async def test_cancelled_by_the_brand_releases_units_and_refunds_in_full(paid: Paid) -> None:
    unexplained = await paid.report(paid.update(Reported.CANCELLED))

    report = await paid.report(paid.update(Reported.CANCELLED, reason="брак ткани"))

    assert problems(unexplained) == [(ErrorCode.INVALID, ["updates", 0, "reason"])]
    assert (report.applied, problems(report)) == (1, [])
    order = await paid.fresh()
    assert order.status is OrderStatus.CANCELLED
    active = Reservation.filter(order_line__order_id=order.id, state=ReservationState.ACTIVE)
    assert await active.count() == 0
    payment = await Payment.get(order_id=order.id)
    assert (payment.status, payment.refunded) == (PaymentStatus.REFUNDED, payment.amount)
    [told] = await messages("order_cancelled_by_brand")
    assert told["params"]["reason"] == "брак ткани"  # type: ignore[index]


async def test_concurrent_copies_of_one_report_apply_once(paid: Paid) -> None:
    if is_sqlite():
        pytest.skip("concurrency is tested on PostgreSQL")
    shipped = paid.update(Reported.SHIPPED, carrier="СДЭК")

    reports = await asyncio.gather(*[paid.report(shipped) for _ in range(10)])

    assert sum(r.applied for r in reports) == 1
    assert sum(r.unchanged for r in reports) == 9
    assert await OrderShipment.all().count() == 1
    shipped_rows = OrderStatusChange.filter(to_status=OrderStatus.SHIPPED)
    assert await shipped_rows.count() == 1


async def test_one_call_may_take_an_order_through_several_steps_in_order(paid: Paid) -> None:
    report = await paid.report(
        paid.update(Reported.SHIPPED, carrier="СДЭК"),
        paid.update(Reported.DELIVERED),
        paid.update(Reported.RETURNED, return_guid=factories.guid("return/all")),
    )

    assert (report.applied, problems(report)) == (3, [])
    steps = await OrderStatusChange.filter(order_id=paid.order.id).order_by("id")
    assert [s.to_status for s in steps][-3:] == [
        OrderStatus.SHIPPED,
        OrderStatus.DELIVERED,
        OrderStatus.RETURNED,
    ]
