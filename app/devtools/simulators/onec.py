"""1C's HTTP service for Vitrina, as the 1C side will implement it (see integrations.onec).

Checks what the real service checks: HTTP Basic auth of the 1C user, JSON UTF-8 bodies, GUIDs,
decimal-string prices, moments with offsets, required fields. Drops a repeated X-Event-Id by
answering what it answered the first time (only successful answers are kept: a rejected event
may be sent again once the data is fixed). Registers an order once: re-sent orders keep their
document number and `registeredAt` (this simulator's clock, +03:00).

Errors: 400 `{"error": {"code", "message"}}` for a malformed request; 409 `UNKNOWN_ORDER` for a
status or payment of an order 1C has not got; 422 `REJECTED` for `reject(guid)`; 401 for wrong
credentials; 500 with a text body (`fail_5xx`), 429 with Retry-After (`rate_limit`), 503 (`down`).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount

from app.devtools.simulators import checks
from app.devtools.simulators.base import Refusal, Simulator

Json = dict[str, Any]
Apply = Callable[[Mapping[str, str], Json], Json]
SERVICE_PATH = "/hs/vitrina"
MOSCOW = timezone(timedelta(hours=3))
ORDER_STATUSES: tuple[str, ...] = ("awaiting_payment", "paid", "ready_for_shipping", "cancelled")
# what managers set in RetailCRM reaches 1C too (1C's own reports are not echoed back)
ORDER_STATUSES += ("shipped", "delivered", "partly_returned", "returned")
PAYMENT_STATUSES = ("pending", "waiting_for_capture", "succeeded", "canceled", "refunded")

CUSTOMER_FIELDS: dict[str, checks.Check] = {
    "firstName": checks.text,
    "lastName": checks.text,
    "email": checks.nullable(checks.text),
    "phone": checks.nullable(checks.text),
    "createdAt": checks.nullable(checks.moment),
}
CUSTOMER = checks.shape(CUSTOMER_FIELDS)


def _flag(value: Any, path: str) -> None:
    if not isinstance(value, bool):
        raise checks.Invalid(path, "must be true or false")


def _flags(value: Any, path: str) -> None:
    if not isinstance(value, dict) or not all(isinstance(x, bool) for x in value.values()):
        raise checks.Invalid(path, "must be an object of true/false")


CONSENTS = checks.shape(  # app/integrations/onec/identity.py
    {
        "counterparties": checks.list_of(checks.filled),
        "personalData": _flag,
        "marketing": _flags,
        "changedAt": checks.moment,
    }
)
ERASURE = checks.shape({"counterparties": checks.list_of(checks.filled), "erasedAt": checks.moment})
LINE = checks.shape(
    {
        "variantGuid": checks.guid,
        "productGuid": checks.guid,
        "warehouseGuid": checks.guid,
        "sku": checks.text,
        "name": checks.filled,
        "quantity": checks.positive_int,
        "price": checks.money,
        "amount": checks.money,
    }
)
DELIVERY = checks.shape(
    {
        "kind": checks.one_of(("courier", "pickup")),
        "address": checks.text,
        "pickupWarehouseGuid": checks.nullable(checks.guid),
        "cost": checks.money,
    }
)
ORDER = checks.shape(
    {
        "number": checks.filled,
        "createdAt": checks.moment,
        "status": checks.one_of(ORDER_STATUSES),
        "customerGuid": checks.guid,
        "customer": checks.shape({"guid": checks.guid, **CUSTOMER_FIELDS}),
        "lines": checks.list_of(LINE, min_items=1),
        "delivery": DELIVERY,
        "total": checks.money,
        "comment": checks.text,
    }
)
STATUS = checks.shape(
    {"status": checks.one_of(ORDER_STATUSES), "changedAt": checks.moment, "reason": checks.text}
)
PAYMENT = checks.shape(
    {
        "provider": checks.filled,
        "providerPaymentId": checks.text,
        "status": checks.one_of(PAYMENT_STATUSES),
        "amount": checks.money,
        "paidAt": checks.nullable(checks.moment),
        "extra": checks.string_map,
    },
    {"refundedAmount": checks.money},
)


@dataclass
class OneCOrder:
    """A ЗаказКлиента: what we sent, and what 1C made of it."""

    body: Json
    number: str  # 1C's document number
    registered_at: str  # as answered
    status: str


@dataclass
class OneCState:
    customers: dict[str, Json] = field(default_factory=dict)  # by customer GUID
    orders: dict[str, OneCOrder] = field(default_factory=dict)  # by order GUID
    payments: dict[str, Json] = field(default_factory=dict)  # by payment GUID (+ "orderGuid")
    answers: dict[str, tuple[int, Json]] = field(default_factory=dict)  # by X-Event-Id
    applied: list[str] = field(default_factory=list)  # event ids that changed state, in order
    consents: dict[str, Json] = field(default_factory=dict)  # by customer key: the latest
    erased: dict[str, Json] = field(default_factory=dict)  # by customer key
    documents: int = 0  # document numbers issued


class OneCSimulator(Simulator):
    """1C's HTTP service in memory; `app` serves it under `base_path`."""

    def __init__(
        self,
        username: str = "vitrina",
        password: str = "secret",
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__()
        self.base_path = SERVICE_PATH
        self.clock = clock or (lambda: datetime.now(UTC))
        self.state = OneCState()
        self._credentials = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
        routes = [
            self.route("/customers/{guid}", self._customer, ["PUT"]),
            self.route("/customers/{guid}/consents", self._consents, ["PUT"]),
            self.route("/customers/{guid}/erasure", self._erasure, ["PUT"]),
            self.route("/orders/{guid}", self._order, ["PUT"]),
            self.route("/orders/{guid}/status", self._status, ["PUT"]),
            self.route("/orders/{guid}/payments/{payment}", self._payment, ["PUT"]),
        ]
        self.app = Starlette(routes=[Mount(SERVICE_PATH, routes=routes)])

    def reset(self) -> None:
        """Forget everything: state, request log, failures."""
        self.state = OneCState()
        self.requests.clear()
        self.reset_faults()

    # --- how 1C answers -------------------------------------------------------------------

    def too_many_requests(self, retry_after: float) -> Response:
        headers = {"Retry-After": f"{retry_after:g}"}
        return PlainTextResponse("Слишком много запросов", 429, headers=headers)

    def server_error(self) -> Response:
        return PlainTextResponse(
            "{ОбщийМодуль.ОбменVitrina.Модуль(118)}: Ошибка при вызове метода контекста "
            "(Записать): Конфликт блокировок при выполнении транзакции",
            500,
        )

    async def admit(self, request: Request) -> Response | None:
        if request.headers.get("Authorization") == self._credentials:
            return None
        headers = {"WWW-Authenticate": 'Basic realm="1C:Enterprise"'}
        return PlainTextResponse("Unauthorized", 401, headers=headers)

    # --- resources ------------------------------------------------------------------------

    async def _customer(self, request: Request) -> Response:
        return await self._write(request, self._apply_customer)

    async def _order(self, request: Request) -> Response:
        return await self._write(request, self._apply_order)

    async def _consents(self, request: Request) -> Response:
        return await self._write(request, self._apply_consents)

    async def _erasure(self, request: Request) -> Response:
        return await self._write(request, self._apply_erasure)

    def _apply_consents(self, params: Mapping[str, str], body: Json) -> Json:
        CONSENTS(body, "")
        self.state.consents[params["guid"]] = body
        return {"guid": params["guid"]}

    def _apply_erasure(self, params: Mapping[str, str], body: Json) -> Json:
        ERASURE(body, "")
        self.state.erased[params["guid"]] = body
        customer = self.state.customers.get(params["guid"])
        if customer is not None:  # 1C keeps the counterparty, not the person's data
            customer.update(firstName="", lastName="", email=None, phone=None)
        return {"guid": params["guid"]}

    async def _status(self, request: Request) -> Response:
        return await self._write(request, self._apply_status)

    async def _payment(self, request: Request) -> Response:
        return await self._write(request, self._apply_payment)

    async def _write(self, request: Request, apply: Apply) -> Response:
        event_id = request.headers.get("X-Event-Id", "").strip()
        if not event_id:
            raise Refusal(_error(400, "MISSING_EVENT_ID", "the X-Event-Id header is required"))
        if (earlier := self.state.answers.get(event_id)) is not None:
            request.state.logged.replayed = True
            return JSONResponse(earlier[1], earlier[0])
        body = await _json_body(request)
        try:
            answer = apply(request.path_params, body)
        except checks.Invalid as problem:
            raise Refusal(_error(400, problem.code, str(problem))) from problem
        self.state.answers[event_id] = (200, answer)
        self.state.applied.append(event_id)
        return JSONResponse(answer)

    def _apply_customer(self, params: Mapping[str, str], body: Json) -> Json:
        guid = params["guid"]
        checks.guid(guid, "path.guid")
        CUSTOMER(body, "")
        self._refuse_if_told(guid)
        created = guid not in self.state.customers
        self.state.customers[guid] = body
        return {"guid": guid, "result": "created" if created else "updated"}

    def _apply_order(self, params: Mapping[str, str], body: Json) -> Json:
        guid = params["guid"]
        checks.guid(guid, "path.guid")
        ORDER(body, "")
        if body["customer"]["guid"] != body["customerGuid"]:
            raise checks.Invalid("customer.guid", "differs from customerGuid")
        self._refuse_if_told(guid)
        customer = {k: v for k, v in body["customer"].items() if k != "guid"}
        self.state.customers.setdefault(body["customerGuid"], customer)
        order = self.state.orders.get(guid)
        created = order is None
        if order is None:
            order = self._register(body)
        elif _reserved(order.body) != _reserved(body):
            # its lines moved between warehouses (a shop declined): the new reservation is
            # registered now, and that moment is what the answer carries
            order.registered_at = self._now_registered()
        order.body, order.status = body, body["status"]
        self.state.orders[guid] = order
        return {
            "guid": guid,
            "number": order.number,
            "registeredAt": order.registered_at,
            "result": "created" if created else "updated",
        }

    def _register(self, body: Json) -> OneCOrder:
        self.state.documents += 1
        number = f"ЗК-{self.state.documents:06d}"
        return OneCOrder(body=body, number=number, registered_at=self._now_registered(), status="")

    def _now_registered(self) -> str:
        return self.clock().astimezone(MOSCOW).isoformat(timespec="milliseconds")

    def _apply_status(self, params: Mapping[str, str], body: Json) -> Json:
        guid = params["guid"]
        checks.guid(guid, "path.guid")
        STATUS(body, "")
        order = self._known_order(guid)
        self._refuse_if_told(guid)
        order.status = body["status"]
        return {"guid": guid, "status": order.status}

    def _apply_payment(self, params: Mapping[str, str], body: Json) -> Json:
        order_guid, guid = params["guid"], params["payment"]
        checks.guid(order_guid, "path.guid")
        checks.guid(guid, "path.payment")
        PAYMENT(body, "")
        self._known_order(order_guid)
        self._refuse_if_told(guid)
        created = guid not in self.state.payments
        self.state.payments[guid] = {**body, "orderGuid": order_guid}
        return {"guid": guid, "result": "created" if created else "updated"}

    def _known_order(self, guid: str) -> OneCOrder:
        order = self.state.orders.get(guid)
        if order is None:
            raise Refusal(_error(409, "UNKNOWN_ORDER", f"no order with GUID {guid}"))
        return order

    def _refuse_if_told(self, guid: str) -> None:
        if self.is_rejected(guid):
            raise Refusal(_error(422, "REJECTED", f"1C refused {guid} (simulated)"))


async def _json_body(request: Request) -> Json:
    media, _, params = request.headers.get("Content-Type", "").partition(";")
    charset = params.strip().lower().removeprefix("charset=").strip('"') or "utf-8"
    if media.strip().lower() != "application/json" or charset != "utf-8":
        raise Refusal(_error(400, "INVALID_REQUEST", "send application/json; charset=utf-8"))
    try:
        body = json.loads((await request.body()).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise Refusal(_error(400, "INVALID_JSON", f"not JSON UTF-8: {exc}")) from exc
    if not isinstance(body, dict):
        raise Refusal(_error(400, "INVALID_JSON", "the body must be a JSON object"))
    return body


def _error(status: int, code: str, message: str) -> Response:
    return JSONResponse({"error": {"code": code, "message": message}}, status)


def _reserved(body: Json) -> list[tuple[str, str, int]]:
    """What an order reserves: units per characteristic and Склад."""
    return sorted((ln["variantGuid"], ln["warehouseGuid"], ln["quantity"]) for ln in body["lines"])
