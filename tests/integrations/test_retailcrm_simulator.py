"""The RetailCRM simulator refuses what RetailCRM refuses (raw HTTP, no client)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from app.devtools.simulators.retailcrm import RetailCrmSimulator
from app.devtools.simulators.server import LocalServer
from app.integrations.retailcrm.mapping import (
    RetailCrmCodes,
    customer_payload,
    order_payload,
    payment_payload,
)
from tests.integrations import records
from tests.integrations.stands import Front

KEY, SITE = "test-key", "vitrina"
CODES = RetailCrmCodes()


@pytest.fixture(scope="module")
async def stand() -> AsyncIterator[tuple[LocalServer, Front]]:
    front = Front()
    async with LocalServer(front) as server:
        yield server, front


@pytest.fixture
def sim(stand: tuple[LocalServer, Front]) -> RetailCrmSimulator:
    simulator = RetailCrmSimulator(api_key=KEY, site=SITE)
    stand[1].app = simulator.app
    return simulator


@pytest.fixture
async def http(
    stand: tuple[LocalServer, Front], sim: RetailCrmSimulator
) -> AsyncIterator[httpx.AsyncClient]:
    url = stand[0].url + sim.base_path + "/"
    async with httpx.AsyncClient(base_url=url, headers={"X-API-KEY": KEY}) as client:
        yield client


async def _post(http: httpx.AsyncClient, path: str, **fields: Any) -> httpx.Response:
    form = {k: v if isinstance(v, str) else json.dumps(v) for k, v in fields.items()}
    return await http.post(path, data={"site": SITE, **form})


async def _with_customer(http: httpx.AsyncClient) -> None:
    response = await _post(http, "customers/create", customer=customer_payload(records.customer()))
    assert response.status_code == 201, response.text


async def test_a_missing_api_key_is_forbidden(http: httpx.AsyncClient) -> None:
    response = await http.get(f"orders/{records.ORDER}", headers={"X-API-KEY": ""})
    assert (response.status_code, response.json()) == (
        403,
        {"success": False, "errorMsg": '"apiKey" is missing.'},
    )


async def test_the_api_key_may_come_as_a_query_parameter(
    stand: tuple[LocalServer, Front], sim: RetailCrmSimulator
) -> None:
    async with httpx.AsyncClient(base_url=stand[0].url) as plain:
        response = await plain.get(f"/api/v5/orders/{records.ORDER}?by=externalId&apiKey={KEY}")
    assert response.status_code == 404  # authenticated, the order just does not exist


async def test_a_json_body_is_not_a_form(http: httpx.AsyncClient) -> None:
    body = {"site": SITE, "customer": customer_payload(records.customer())}
    response = await http.post("customers/create", json=body)
    assert (response.status_code, response.json()["success"]) == (400, False)


async def test_the_entity_must_be_a_json_string(http: httpx.AsyncClient) -> None:
    missing = await _post(http, "customers/create")
    broken = await _post(http, "customers/create", customer="{externalId: 1")
    assert (missing.status_code, missing.json()["errorMsg"]) == (
        400,
        'Parameter "customer" is missing',
    )
    assert (broken.status_code, broken.json()["errorMsg"]) == (
        400,
        'Parameter "customer" must be a JSON string',
    )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"createdAt": "2025-12-01T14:03:05+03:00"}, "createdAt"),
        ({"status": "paid"}, "status"),
        ({"orderMethod": "telepathy"}, "orderMethod"),
        ({"delivery": {"code": "teleport"}}, "delivery.code"),
        (
            {
                "items": [
                    {"offer": {"externalId": records.DRESS_M}, "quantity": 0, "initialPrice": 1}
                ]
            },
            "items.0.quantity",
        ),
        ({"email": "not-an-email"}, "email"),
    ],
)
async def test_an_order_with_a_bad_field_is_not_loaded(
    http: httpx.AsyncClient, sim: RetailCrmSimulator, changes: dict[str, Any], field: str
) -> None:
    await _with_customer(http)
    order = {**order_payload(records.order(), CODES), **changes}
    response = await _post(http, "orders/create", order=order)
    assert response.status_code == 400
    assert response.json()["errorMsg"] == "Order is not loaded"
    assert list(response.json()["errors"]) == [field]
    assert sim.state.orders == {}


async def test_a_repeated_external_id_is_refused_as_existing(http: httpx.AsyncClient) -> None:
    await _with_customer(http)
    again = await _post(http, "customers/create", customer=customer_payload(records.customer()))
    assert (again.status_code, again.json()["errors"]) == (
        400,
        {"externalId": f"Customer with externalId={records.CUSTOMER} already exists."},
    )


async def test_edits_find_entities_by_id_unless_told_external_id(
    http: httpx.AsyncClient, sim: RetailCrmSimulator
) -> None:
    await _with_customer(http)
    by_id = await _post(http, "customers/1/edit", customer={"firstName": "Аня"})
    by_guid_as_id = await _post(http, f"customers/{records.CUSTOMER}/edit", customer={})
    bogus = await _post(http, "customers/1/edit", customer={}, by="email")
    assert (by_id.status_code, by_guid_as_id.status_code, bogus.status_code) == (200, 404, 400)
    assert sim.state.customers[records.CUSTOMER]["firstName"] == "Аня"


async def test_an_order_is_read_back_with_its_payments(http: httpx.AsyncClient) -> None:
    await _with_customer(http)
    await _post(http, "orders/create", order=order_payload(records.order(), CODES))
    await _post(http, "orders/payments/create", payment=payment_payload(records.payment(), CODES))
    response = await http.get(f"orders/{records.ORDER}", params={"by": "externalId"})
    order = response.json()["order"]
    assert (order["number"], order["status"]) == ("V-000123", "new")
    assert [(p["id"], p["externalId"]) for p in order["payments"].values()] == [
        (3, records.PAYMENT)
    ]


async def test_a_payment_cannot_move_to_another_order(http: httpx.AsyncClient) -> None:
    await _with_customer(http)
    await _post(http, "orders/create", order=order_payload(records.order(), CODES))
    await _post(http, "orders/payments/create", payment=payment_payload(records.payment(), CODES))
    moved = await _post(
        http,
        f"orders/payments/{records.PAYMENT}/edit",
        by="externalId",
        payment={"order": {"externalId": records.guid("order/2")}},
    )
    assert (moved.status_code, list(moved.json()["errors"])) == (400, ["order"])
