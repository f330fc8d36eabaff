"""updateOrderStatuses through the real app, as 1C sends it, and what the shopper then sees on
the order page: the new status, the carrier and tracking number, the history."""

from __future__ import annotations

import httpx
import pytest

from app.devtools.simulators import onec_push
from app.devtools.simulators.onec_push import OneCPusher, PushRefused
from app.domain.access import Scope
from app.models.channels import OrderShipment
from tests import factories
from tests.conftest import graphql
from tests.schema.accounts.flows import flush_redis, sign_up
from tests.services.channels.conftest import Paid, make_paid


@pytest.fixture
async def paid(db: str) -> Paid:
    return await make_paid()


PAGE = """query Page($token: String!) { order(token: $token) {
  status shipment { carrier trackingNumber } history { toStatus reason } } }"""


@pytest.fixture
async def onec(client: httpx.AsyncClient, paid: Paid) -> OneCPusher:
    return OneCPusher(client, await factories.token(Scope.ORDERS_WRITE))


async def test_a_shipment_shows_on_the_order_page(
    onec: OneCPusher,
    paid: Paid,
    client: httpx.AsyncClient,
) -> None:
    answer = await onec.update_order_statuses(
        [onec_push.shipped(paid.order.guid, "СДЭК", "1234567890")]
    )

    assert answer == {"applied": 1, "unchanged": 0, "errors": []}
    page = (await graphql(client, PAGE, {"token": paid.order.token}))["data"]["order"]
    assert page["status"] == "SHIPPED"
    assert page["shipment"] == {"carrier": "СДЭК", "trackingNumber": "1234567890"}
    assert page["history"][-1] == {"toStatus": "SHIPPED", "reason": "shipped (СДЭК)"}


async def test_repeats_and_moves_back_are_answered_item_by_item(
    onec: OneCPusher,
    paid: Paid,
) -> None:
    guid = paid.order.guid
    await onec.update_order_statuses([onec_push.shipped(guid, "СДЭК")])

    answer = await onec.update_order_statuses(
        [
            onec_push.delivered(guid),
            onec_push.shipped(guid, "СДЭК"),
            onec_push.cancelled(guid, "передумали"),
            onec_push.delivered(factories.guid("order/unknown")),
        ]
    )

    assert (answer["applied"], answer["unchanged"]) == (1, 0)
    assert [(e["code"], e["path"]) for e in answer["errors"]] == [
        ("INVALID_TRANSITION", ["updates", "1", "status"]),
        ("INVALID_TRANSITION", ["updates", "2", "status"]),
        ("UNKNOWN_ORDER", ["updates", "3", "orderGuid"]),
    ]


async def test_text_that_does_not_fit_refuses_that_update_only(
    onec: OneCPusher,
    paid: Paid,
) -> None:
    long_carrier = onec_push.shipped(paid.order.guid, "С" * 101)

    answer = await onec.update_order_statuses([long_carrier, onec_push.delivered(paid.order.guid)])

    assert [(e["code"], e["path"]) for e in answer["errors"]] == [
        ("INVALID", ["updates", "0", "carrier"]),
        ("INVALID_TRANSITION", ["updates", "1", "status"]),  # never shipped: nothing to deliver
    ]
    assert await OrderShipment.all().count() == 0


async def test_the_token_needs_the_orders_scope(
    client: httpx.AsyncClient,
    paid: Paid,
) -> None:
    sales_only = OneCPusher(client, await factories.token(Scope.SALES_WRITE))

    with pytest.raises(PushRefused) as refused:
        await sales_only.update_order_statuses([onec_push.delivered(paid.order.guid)])

    assert refused.value.errors[0]["extensions"]["code"] == "FORBIDDEN"


async def test_an_unknown_status_refuses_the_whole_call(
    onec: OneCPusher,
    paid: Paid,
) -> None:
    lost = {**onec_push.delivered(paid.order.guid), "status": "LOST"}

    with pytest.raises(PushRefused):
        await onec.update_order_statuses([lost])


MY_ORDERS = """query { me { orders(first: 5) { nodes {
  number status shipment { carrier trackingNumber } } } } }"""


async def test_the_shoppers_order_history_shows_the_shipment(
    onec: OneCPusher, paid: Paid, client: httpx.AsyncClient, redis_url: str
) -> None:
    await flush_redis(redis_url)
    await onec.update_order_statuses([onec_push.shipped(paid.order.guid, "СДЭК", "CD-42")])
    tokens = await sign_up(client, "buyer@example.com")  # the paid order's e-mail

    body = await graphql(client, MY_ORDERS, {}, tokens["accessToken"])

    assert body["data"]["me"]["orders"]["nodes"] == [
        {
            "number": paid.order.number,
            "status": "SHIPPED",
            "shipment": {"carrier": "СДЭК", "trackingNumber": "CD-42"},
        }
    ]
