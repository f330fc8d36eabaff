"""RetailCRM API v5 in memory: customers, orders and payments by externalId (or id).

Checks what the real API checks: the API key (`X-API-KEY` header or `apiKey` query
parameter), form bodies (`application/x-www-form-urlencoded`) whose entity field is a JSON
string, the `site` code, `Y-m-d H:i:s` dates, codes from the account's dictionaries, a known
`customer.externalId` on orders and a known order on payments. Creating an externalId that
exists is refused (400, "already exists"); editing an unknown entity is 404. With `rps_limit`
it also answers 503 past that many requests in one second, as the real API does per key.

Failures on demand: `down` (503), `slow`, `fail_5xx` (500), `rate_limit` (503 with
Retry-After), `reject(externalId)` (400 for writes about that entity).
"""

from __future__ import annotations

import json
import re
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount

from app.devtools.simulators import checks
from app.devtools.simulators.base import Refusal, Simulator

Json = dict[str, Any]
API_PATH = "/api/v5"
FORM = "application/x-www-form-urlencoded"
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class Dictionaries:
    """The account's codes (a fresh account's defaults)."""

    order_statuses: frozenset[str] = frozenset(
        {"new", "client-confirmed", "prepayed", "assembling", "assembling-complete"}
        | {"delivering", "complete"}
        | {"cancel-other", "no-product"}
    )
    payment_types: frozenset[str] = frozenset({"bank-card", "cash", "bank-transfer", "credit"})
    payment_statuses: frozenset[str] = frozenset(
        {"not-paid", "invoice", "payment-start", "paid", "fail", "canceled", "returned"}
    )
    delivery_types: frozenset[str] = frozenset({"courier", "self-delivery", "russian-post"})
    order_methods: frozenset[str] = frozenset({"shopping-cart", "phone", "one-click", "app"})


@dataclass
class RetailCrmState:
    customers: dict[str, Json] = field(default_factory=dict)  # by externalId, with "id"
    orders: dict[str, Json] = field(default_factory=dict)  # by externalId, with "id", "site"
    payments: dict[str, Json] = field(default_factory=dict)  # by externalId, with "id"
    last_id: int = 0


def _email(value: Any, path: str) -> None:
    if not isinstance(value, str) or not EMAIL.match(value):
        raise checks.Invalid(path, f"not an email: {value!r}")


def _positive(value: Any, path: str) -> None:
    checks.number(value, path)
    if value <= 0:
        raise checks.Invalid(path, "must be greater than 0")


CUSTOMER_FIELDS: dict[str, checks.Check] = {
    "firstName": checks.text,
    "lastName": checks.text,
    "email": _email,
    "phones": checks.list_of(checks.shape({"number": checks.filled})),
    "createdAt": checks.local_datetime,
}
ITEM = checks.shape(
    {
        "offer": checks.shape({"externalId": checks.filled}),
        "quantity": _positive,
        "initialPrice": checks.number,
    },
    {"productName": checks.text},
)


def _order_fields(d: Dictionaries) -> dict[str, checks.Check]:
    delivery = {
        "code": checks.one_of(d.delivery_types),
        "cost": checks.number,
        "address": checks.shape({"text": checks.text}),
    }
    return {
        "number": checks.filled,
        "createdAt": checks.local_datetime,
        "firstName": checks.text,
        "lastName": checks.text,
        "phone": checks.text,
        "email": _email,
        "customer": checks.shape({"externalId": checks.filled}),
        "items": checks.list_of(ITEM),
        "delivery": checks.shape({}, delivery),
        "status": checks.one_of(d.order_statuses),
        "statusComment": checks.text,
        "orderMethod": checks.one_of(d.order_methods),
        "customerComment": checks.text,
    }


def _payment_fields(d: Dictionaries) -> dict[str, checks.Check]:
    return {
        "externalId": checks.filled,
        "amount": checks.number,
        "type": checks.one_of(d.payment_types),
        "status": checks.one_of(d.payment_statuses),
        "paidAt": checks.local_datetime,
        "comment": checks.text,
    }


class RetailCrmSimulator(Simulator):
    """RetailCRM's API in memory; `app` serves it under `base_path` (/api/v5)."""

    def __init__(
        self,
        api_key: str = "test-key",
        site: str = "vitrina",
        dictionaries: Dictionaries | None = None,
        rps_limit: int | None = None,
    ) -> None:
        super().__init__()
        self.base_path = API_PATH
        self.api_key, self.site, self.rps_limit = api_key, site, rps_limit
        self.state = RetailCrmState()
        self._arrivals: deque[float] = deque()
        self._schemas(dictionaries or Dictionaries())
        routes = [
            self.route("/customers/create", self._create_customer, ["POST"]),
            self.route("/customers/{key}/edit", self._edit_customer, ["POST"]),
            self.route("/customers/{key}", self._get_customer, ["GET"]),
            self.route("/orders/create", self._create_order, ["POST"]),
            self.route("/orders/payments/create", self._create_payment, ["POST"]),
            self.route("/orders/payments/{key}/edit", self._edit_payment, ["POST"]),
            self.route("/orders/{key}/edit", self._edit_order, ["POST"]),
            self.route("/orders/{key}", self._get_order, ["GET"]),
        ]
        self.app = Starlette(routes=[Mount(API_PATH, routes=routes)])

    def _schemas(self, d: Dictionaries) -> None:
        order, payment = _order_fields(d), _payment_fields(d)
        order_ref = checks.shape({"externalId": checks.filled})
        self.customer_create = checks.shape({"externalId": checks.filled}, CUSTOMER_FIELDS)
        self.customer_edit = checks.shape({}, CUSTOMER_FIELDS)
        self.order_create = checks.shape({"externalId": checks.filled}, order)
        self.order_edit = checks.shape({}, order)
        self.payment_create = checks.shape({"order": order_ref, "type": payment["type"]}, payment)
        self.payment_edit = checks.shape({}, {"order": order_ref, **payment})

    def reset(self) -> None:
        """Forget everything: state, request log, failures, the rate window."""
        self.state = RetailCrmState()
        self.requests.clear()
        self._arrivals.clear()
        self.reset_faults()

    # --- how RetailCRM answers ------------------------------------------------------------

    def too_many_requests(self, retry_after: float) -> Response:
        headers = {"Retry-After": f"{retry_after:g}"}
        return _failure(503, "Service Unavailable: request limit exceeded", headers=headers)

    def server_error(self) -> Response:
        return _failure(500, "Internal Server Error")

    async def admit(self, request: Request) -> Response | None:
        key = request.headers.get("X-API-KEY") or request.query_params.get("apiKey")
        if not key:
            return _failure(403, '"apiKey" is missing.')
        if key != self.api_key:
            return _failure(403, 'Wrong "apiKey" value.')
        return self._over_limit()

    def _over_limit(self) -> Response | None:
        if self.rps_limit is None:
            return None
        now = time.monotonic()
        while self._arrivals and self._arrivals[0] <= now - 1.0:
            self._arrivals.popleft()
        self._arrivals.append(now)
        if len(self._arrivals) > self.rps_limit:
            return self.too_many_requests(1)
        return None

    # --- customers ------------------------------------------------------------------------

    async def _create_customer(self, request: Request) -> Response:
        customer = self._entity(await self._form(request), "customer", self.customer_create)
        external_id = customer["externalId"]
        self._refuse_if_told(external_id, "Customer")
        self._refuse_existing(self.state.customers, external_id, "Customer")
        stored = self.state.customers[external_id] = {**customer, "id": self._next_id()}
        return _success({"id": stored["id"]}, 201)

    async def _edit_customer(self, request: Request) -> Response:
        form = await self._form(request)
        changes = self._entity(form, "customer", self.customer_edit)
        stored = self._find(self.state.customers, request, form.get("by"))
        self._refuse_if_told(stored["externalId"], "Customer")
        stored.update(_without(changes, "id", "externalId"))
        return _success({"id": stored["id"]})

    async def _get_customer(self, request: Request) -> Response:
        stored = self._find(self.state.customers, request, request.query_params.get("by"))
        return _success({"customer": stored})

    # --- orders ---------------------------------------------------------------------------

    async def _create_order(self, request: Request) -> Response:
        form = await self._form(request)
        order = self._entity(form, "order", self.order_create)
        external_id = order["externalId"]
        self._refuse_if_told(external_id, "Order")
        self._refuse_existing(self.state.orders, external_id, "Order")
        self._require_customer(order)
        stored = {"status": "new", **order, "id": self._next_id(), "site": form["site"]}
        self.state.orders[external_id] = stored
        return _success({"id": stored["id"], "order": stored}, 201)

    async def _edit_order(self, request: Request) -> Response:
        form = await self._form(request)
        changes = self._entity(form, "order", self.order_edit)
        stored = self._find(self.state.orders, request, form.get("by"))
        self._refuse_if_told(stored["externalId"], "Order")
        if "customer" in changes:
            self._require_customer(changes)
        stored.update(_without(changes, "id", "externalId", "site"))
        return _success({"id": stored["id"], "order": stored})

    async def _get_order(self, request: Request) -> Response:
        stored = self._find(self.state.orders, request, request.query_params.get("by"))
        payments = {
            str(p["id"]): p
            for p in self.state.payments.values()
            if p["order"]["externalId"] == stored["externalId"]
        }
        return _success({"order": {**stored, "payments": payments}})

    # --- payments -------------------------------------------------------------------------

    async def _create_payment(self, request: Request) -> Response:
        payment = self._entity(await self._form(request), "payment", self.payment_create)
        external_id = payment.get("externalId") or f"#{self.state.last_id + 1}"
        self._refuse_if_told(external_id, "Payment")
        self._refuse_existing(self.state.payments, external_id, "Payment")
        self._require_order(payment)
        stored = {**payment, "externalId": external_id, "id": self._next_id()}
        self.state.payments[external_id] = stored
        return _success({"id": stored["id"]}, 201)

    async def _edit_payment(self, request: Request) -> Response:
        form = await self._form(request)
        changes = self._entity(form, "payment", self.payment_edit)
        stored = self._find(self.state.payments, request, form.get("by"))
        self._refuse_if_told(stored["externalId"], "Payment")
        order = stored["order"]["externalId"]
        if "order" in changes and changes["order"]["externalId"] != order:
            raise Refusal(_not_loaded("Payment", {"order": "a payment cannot change its order"}))
        stored.update(_without(changes, "id", "externalId"))
        return _success({"id": stored["id"]})

    # --- shared steps ---------------------------------------------------------------------

    async def _form(self, request: Request) -> dict[str, str]:
        media = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if media != FORM:
            raise Refusal(_failure(400, f"Expected a {FORM} body"))
        try:
            form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        except (UnicodeDecodeError, ValueError) as exc:
            raise Refusal(_failure(400, "The body is not a valid form")) from exc
        if form.get("site") != self.site:
            raise Refusal(_failure(400, f'Wrong "site" value: {form.get("site")!r}'))
        return form

    def _entity(self, form: dict[str, str], name: str, check: checks.Check) -> Json:
        if name not in form:
            raise Refusal(_failure(400, f'Parameter "{name}" is missing'))
        try:
            entity = json.loads(form[name])
        except ValueError as exc:
            raise Refusal(_failure(400, f'Parameter "{name}" must be a JSON string')) from exc
        try:
            check(entity, "")
        except checks.Invalid as problem:
            raise Refusal(_not_loaded(name.title(), {problem.path: problem.message})) from None
        assert isinstance(entity, dict)  # the check passed
        return entity

    def _find(self, table: dict[str, Json], request: Request, by: str | None) -> Json:
        key = request.path_params["key"]
        if by == "externalId":
            found = table.get(key)
        elif by in (None, "id"):
            found = next((v for v in table.values() if str(v["id"]) == key), None)
        else:
            raise Refusal(_failure(400, 'Parameter "by" must be "id" or "externalId"'))
        if found is None:
            raise Refusal(_failure(404, "Not found"))
        return found

    def _refuse_existing(self, table: dict[str, Json], external_id: str, entity: str) -> None:
        if external_id in table:
            message = f"{entity} with externalId={external_id} already exists."
            raise Refusal(_not_loaded(entity, {"externalId": message}))

    def _require_customer(self, order: Json) -> None:
        external_id = order.get("customer", {}).get("externalId")
        if external_id is not None and external_id not in self.state.customers:
            message = f"Customer with externalId={external_id} not found."
            raise Refusal(_not_loaded("Order", {"customer.externalId": message}))

    def _require_order(self, payment: Json) -> None:
        external_id = payment["order"]["externalId"]
        if external_id not in self.state.orders:
            message = f"Order with externalId={external_id} not found."
            raise Refusal(_not_loaded("Payment", {"order.externalId": message}))

    def _refuse_if_told(self, external_id: str, entity: str) -> None:
        if self.is_rejected(external_id):
            errors = {"externalId": f"{entity} {external_id} refused (simulated)"}
            raise Refusal(_not_loaded(entity, errors))

    def _next_id(self) -> int:
        self.state.last_id += 1
        return self.state.last_id


def _without(entity: Json, *names: str) -> Json:
    return {k: v for k, v in entity.items() if k not in names}


def _success(body: Json, status: int = 200) -> Response:
    return JSONResponse({"success": True, **body}, status)


def _not_loaded(entity: str, errors: dict[str, str]) -> Response:
    return _failure(400, f"{entity} is not loaded", errors)


def _failure(
    status: int,
    message: str,
    errors: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body: Json = {"success": False, "errorMsg": message}
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status, headers=headers)
