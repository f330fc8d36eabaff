"""The YooKassa simulator refuses what the real API refuses, in the real error shape."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from app.devtools.simulators.yookassa import ApiError, YooKassaSimulator

GOOD: dict[str, Any] = {
    "amount": {"value": "4990.00", "currency": "RUB"},
    "capture": True,
    "confirmation": {"type": "redirect", "return_url": "https://shop.example/orders/42"},
    "description": "Заказ №42",
    "metadata": {"order_guid": "7c9e6679-7425-40de-944b-e07fc1f90ae7"},
    "receipt": {
        "customer": {"email": "anna@example.com"},
        "items": [
            {
                "description": "Платье",
                "quantity": "2.00",
                "amount": {"value": "2495.00", "currency": "RUB"},
                "vat_code": 1,
                "payment_mode": "full_payment",
                "payment_subject": "commodity",
            }
        ],
    },
}


def with_item(**changes: Any) -> dict[str, Any]:
    item = GOOD["receipt"]["items"][0] | changes
    return GOOD | {"receipt": GOOD["receipt"] | {"items": [item]}}


@pytest.fixture
async def sim() -> AsyncIterator[YooKassaSimulator]:
    simulator = YooKassaSimulator()
    yield simulator
    await simulator.aclose()


@pytest.fixture
async def http(sim: YooKassaSimulator) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=sim.app)
    auth = (sim.shop_id, sim.secret_key)
    async with httpx.AsyncClient(transport=transport, base_url="http://sim", auth=auth) as client:
        yield client


async def post(http: httpx.AsyncClient, body: Any, key: str | None = "k-1") -> httpx.Response:
    headers = {"Idempotence-Key": key} if key else {}
    return await http.post("/v3/payments", json=body, headers=headers)


async def test_a_documented_payment_body_is_accepted(
    http: httpx.AsyncClient, sim: YooKassaSimulator
) -> None:
    response = await post(http, GOOD)

    assert response.status_code == 200
    assert response.json() == sim.payments[response.json()["id"]]
    assert response.json()["status"] == "pending"


@pytest.mark.parametrize(
    ("body", "parameter"),
    [
        (GOOD | {"amount": {"value": "4990", "currency": "RUB"}}, "amount.value"),
        (GOOD | {"amount": {"value": 4990.0, "currency": "RUB"}}, "amount.value"),
        (GOOD | {"amount": {"value": "0.00", "currency": "RUB"}}, "amount.value"),
        (GOOD | {"amount": {"value": "4990.00", "currency": "USD"}}, "amount.currency"),
        (GOOD | {"confirmation": {"type": "redirect"}}, "confirmation.return_url"),
        (
            GOOD | {"confirmation": {"type": "embedded", "return_url": "https://s.e"}},
            "confirmation.type",
        ),
        (GOOD | {"description": "x" * 129}, "description"),
        (GOOD | {"metadata": {"order_guid": 42}}, "metadata"),
        (GOOD | {"capture": "yes"}, "capture"),
        (GOOD | {"receipt": GOOD["receipt"] | {"customer": {}}}, "receipt.customer"),
        (GOOD | {"receipt": GOOD["receipt"] | {"items": []}}, "receipt.items"),
        (with_item(quantity=2), "receipt.items.0.quantity"),
        (with_item(vat_code=13), "receipt.items.0.vat_code"),
        (with_item(payment_mode="whatever"), "receipt.items.0.payment_mode"),
        (with_item(description="x" * 129), "receipt.items.0.description"),
        (with_item(quantity="1.00"), "receipt.items"),  # lines add up to 2495.00, not 4990.00
    ],
)
async def test_a_body_off_the_documented_shape_is_an_invalid_request(
    http: httpx.AsyncClient, sim: YooKassaSimulator, body: dict[str, Any], parameter: str
) -> None:
    response = await post(http, body)

    assert response.status_code == 400
    assert response.json() | {"id": "-", "description": "-"} == {
        "type": "error",
        "id": "-",
        "code": "invalid_request",
        "description": "-",
        "parameter": parameter,
    }
    assert sim.payments == {}


async def test_a_post_without_an_idempotence_key_is_refused(http: httpx.AsyncClient) -> None:
    response = await post(http, GOOD, key=None)

    assert response.status_code == 400 and response.json()["parameter"] == "Idempotence-Key"


async def test_a_post_that_is_not_json_is_refused(http: httpx.AsyncClient) -> None:
    response = await http.post("/v3/payments", content="amount=1", headers={"Idempotence-Key": "k"})

    assert response.status_code == 415


async def test_a_refused_request_is_refused_again_under_its_key(
    http: httpx.AsyncClient, sim: YooKassaSimulator
) -> None:
    bad = GOOD | {"capture": "yes"}

    first, again = await post(http, bad), await post(http, bad)

    assert again.json() == first.json() and sim.payments == {}


async def test_the_checkout_page_lets_a_person_pay_and_go_back_to_the_shop(
    http: httpx.AsyncClient, sim: YooKassaSimulator
) -> None:
    payment = (await post(http, GOOD)).json()
    page = await http.get(payment["confirmation"]["confirmation_url"])

    paid = await http.post(page.url, data={"action": "pay"})

    assert page.status_code == 200 and "4990.00" in page.text
    assert paid.status_code == 303 and paid.headers["location"] == "https://shop.example/orders/42"
    assert sim.payments[payment["id"]]["status"] == "succeeded"


async def test_the_payer_cannot_act_on_a_payment_twice(
    http: httpx.AsyncClient, sim: YooKassaSimulator
) -> None:
    payment = (await post(http, GOOD, key=str(uuid.uuid4()))).json()
    await sim.pay(payment["id"])

    with pytest.raises(ApiError):
        await sim.cancel_by_payer(payment["id"])

    assert sim.payments[payment["id"]]["status"] == "succeeded"


async def test_a_capture_beyond_the_authorised_amount_is_refused(
    http: httpx.AsyncClient, sim: YooKassaSimulator
) -> None:
    two_stage = {k: v for k, v in GOOD.items() if k != "receipt"} | {"capture": False}
    payment = (await post(http, two_stage)).json()
    await sim.pay(payment["id"])
    more = {"amount": {"value": "4990.01", "currency": "RUB"}}

    response = await http.post(
        f"/v3/payments/{payment['id']}/capture", json=more, headers={"Idempotence-Key": "c-1"}
    )

    assert response.status_code == 400 and response.json()["parameter"] == "amount.value"
    assert sim.payments[payment["id"]]["status"] == "waiting_for_capture"
