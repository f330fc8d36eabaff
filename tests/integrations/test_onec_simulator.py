"""The 1C simulator refuses what the real 1C service refuses (raw HTTP, no client)."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from app.devtools.simulators.onec import OneCSimulator
from app.devtools.simulators.server import LocalServer
from app.integrations.onec.mapping import order_payload, payment_payload
from tests.integrations import records
from tests.integrations.stands import Front

AUTH = "Basic " + base64.b64encode(b"vitrina:secret").decode()
JSON_HEADERS = {"Authorization": AUTH, "Content-Type": "application/json; charset=utf-8"}


@pytest.fixture(scope="module")
async def stand() -> AsyncIterator[tuple[LocalServer, Front]]:
    front = Front()
    async with LocalServer(front) as server:
        yield server, front


@pytest.fixture
def sim(stand: tuple[LocalServer, Front]) -> OneCSimulator:
    simulator = OneCSimulator()
    stand[1].app = simulator.app
    return simulator


@pytest.fixture
async def http(
    stand: tuple[LocalServer, Front], sim: OneCSimulator
) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stand[0].url + sim.base_path + "/") as client:
        yield client


async def _put(
    http: httpx.AsyncClient, path: str, body: Any, event: str | None = "evt-1", **headers: str
) -> httpx.Response:
    sent = {**JSON_HEADERS, **({"X-Event-Id": event} if event else {}), **headers}
    return await http.put(path, content=json.dumps(body).encode(), headers=sent)


def _code(response: httpx.Response) -> str:
    return str(response.json()["error"]["code"])


async def test_without_credentials_1c_asks_for_basic_auth(
    http: httpx.AsyncClient, sim: OneCSimulator
) -> None:
    response = await http.put(f"customers/{records.CUSTOMER}", json={})
    assert (response.status_code, response.headers["WWW-Authenticate"]) == (
        401,
        'Basic realm="1C:Enterprise"',
    )


@pytest.mark.parametrize(
    ("content_type", "code"),
    [
        ("text/plain", "INVALID_REQUEST"),
        ("application/json; charset=windows-1251", "INVALID_REQUEST"),
    ],
)
async def test_only_json_in_utf8_is_accepted(
    http: httpx.AsyncClient, content_type: str, code: str
) -> None:
    response = await _put(http, f"orders/{records.ORDER}", {}, **{"Content-Type": content_type})
    assert (response.status_code, _code(response)) == (400, code)


async def test_every_request_needs_an_event_id(http: httpx.AsyncClient) -> None:
    response = await _put(
        http, f"orders/{records.ORDER}", order_payload(records.order()), event=None
    )
    assert (response.status_code, _code(response)) == (400, "MISSING_EVENT_ID")


async def test_a_body_that_is_not_json_is_refused(http: httpx.AsyncClient) -> None:
    headers = {**JSON_HEADERS, "X-Event-Id": "evt-1"}
    response = await http.put(f"orders/{records.ORDER}", content=b"{nope", headers=headers)
    assert (response.status_code, _code(response)) == (400, "INVALID_JSON")


def _order_with(**changes: Any) -> dict[str, Any]:
    return {**order_payload(records.order()), **changes}


@pytest.mark.parametrize(
    ("body", "code", "where"),
    [
        (_order_with(total=11780.5), "INVALID_PRICE", "total"),
        (_order_with(createdAt="2025-12-01T14:03:05"), "INVALID_DATETIME", "createdAt"),
        (_order_with(customerGuid="42"), "INVALID_GUID", "customerGuid"),
        (_order_with(lines=[]), "INVALID", "lines"),
        (_order_with(status="new"), "INVALID", "status"),
        ({k: v for k, v in _order_with().items() if k != "delivery"}, "INVALID", "delivery"),
    ],
)
async def test_an_order_with_a_bad_field_is_refused_and_not_stored(
    http: httpx.AsyncClient, sim: OneCSimulator, body: dict[str, Any], code: str, where: str
) -> None:
    response = await _put(http, f"orders/{records.ORDER}", body)
    assert (response.status_code, _code(response)) == (400, code)
    assert response.json()["error"]["message"].startswith(f"{where}:")
    assert (sim.state.orders, sim.state.answers) == ({}, {})


async def test_a_bad_guid_in_the_path_is_refused(http: httpx.AsyncClient) -> None:
    response = await _put(http, "orders/V-000123", order_payload(records.order()))
    assert (response.status_code, _code(response)) == (400, "INVALID_GUID")


async def test_a_payment_of_an_unknown_order_is_a_conflict(http: httpx.AsyncClient) -> None:
    path = f"orders/{records.ORDER}/payments/{records.PAYMENT}"
    response = await _put(http, path, payment_payload(records.payment()))
    assert (response.status_code, _code(response)) == (409, "UNKNOWN_ORDER")


async def test_a_refused_event_is_not_remembered_so_it_can_be_sent_again(
    http: httpx.AsyncClient, sim: OneCSimulator
) -> None:
    sim.reject(records.ORDER)
    refused = await _put(http, f"orders/{records.ORDER}", order_payload(records.order()))
    sim.reset_faults()
    accepted = await _put(http, f"orders/{records.ORDER}", order_payload(records.order()))
    assert (refused.status_code, accepted.status_code) == (422, 200)
    assert sim.state.applied == ["evt-1"]
