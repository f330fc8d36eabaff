"""RetailCRM API v5 in memory: customers, orders and payments by externalId (or id).

Checks what the real API checks: the API key (`X-API-KEY` header or `apiKey` query
parameter), form bodies (`application/x-www-form-urlencoded`) whose entity field is a JSON
string, the `site` code, `Y-m-d H:i:s` dates, codes from the account's dictionaries, a known
`customer.externalId` on orders and a known order on payments. Creating an externalId that
exists is refused (400, "already exists"); editing an unknown entity is 404. With `rps_limit`
it also answers 503 past that many requests in one second, as the real API does per key.

Batches: `customers/upload` and `orders/upload` (field `customers` / `orders`: a JSON list of
1 to 50 entities, each checked as its create is) create what they can, in order, and answer as
RetailCRM does: 201 `{"success": true, "uploadedCustomers": [{"id", "externalId"}]}` when all
were created, else 460 with `uploadedOrders`, `failedOrders` (`[{"externalId"}]`), `errorMsg`
"Orders are loaded with errors" and `errors`, a list of texts that do not name their entity
(except "… externalId=<id> already exists."). An order created here (one by one or uploaded)
may carry its `payments`; an order edit does not apply them (API v5 edits payments on their
own, through `orders/payments/*`).
`GET /api/credentials` answers any valid key. Every call counts once against `rps_limit`.

Failures on demand: `down` (503), `slow`, `fail_5xx` (500), `rate_limit` (503 with
Retry-After, or 429 with `limit_status = 429`), `reject(externalId)` (400 for writes about that
entity; inside a batch, that entity alone fails).

`order_violations` lists every refusal for order (an order before its customer, a payment
before its order): a sender that keeps order never causes one.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount

from app.devtools.simulators import checks
from app.devtools.simulators import retailcrm_history as history
from app.devtools.simulators.base import Refusal, Simulator
from app.devtools.simulators.retailcrm_fields import (
    CUSTOMER_EDIT_FIELDS,
    CUSTOMER_FIELDS,
    Dictionaries,
    custom_fields,
    order_fields,
    payment_fields,
)

Json = dict[str, Any]
API_PATH = "/api/v5"
FORM = "application/x-www-form-urlencoded"
MAX_UPLOAD = 50


@dataclass
class RetailCrmState:
    customers: dict[str, Json] = field(default_factory=dict)  # by externalId, with "id"
    orders: dict[str, Json] = field(default_factory=dict)  # by externalId, with "id", "site"
    payments: dict[str, Json] = field(default_factory=dict)  # by externalId, with "id"
    last_id: int = 0


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
        self.limit_status = 503  # RetailCRM's answer past the limit (429 to test that one)
        self.state = RetailCrmState()
        self.order_violations: list[str] = []
        self.history = history.HistoryLog()  # orders/history, customers/history
        self.managers = history.Managers(self)  # changes made by hand, in the histories
        self._arrivals: deque[float] = deque()
        self._schemas(dictionaries or Dictionaries())
        routes = [
            self.route("/orders/history", self._orders_history, ["GET"]),
            self.route("/customers/history", self._customers_history, ["GET"]),
            self.route("/customers/combine", self._combine, ["POST"]),
            self.route("/customers/upload", self._upload_customers, ["POST"]),
            self.route("/orders/upload", self._upload_orders, ["POST"]),
            self.route("/customers/create", self._create_customer, ["POST"]),
            self.route("/customers/{key}/edit", self._edit_customer, ["POST"]),
            self.route("/customers/{key}", self._get_customer, ["GET"]),
            self.route("/orders/create", self._create_order, ["POST"]),
            self.route("/orders/payments/create", self._create_payment, ["POST"]),
            self.route("/orders/payments/{key}/edit", self._edit_payment, ["POST"]),
            self.route("/orders/{key}/edit", self._edit_order, ["POST"]),
            self.route("/orders/{key}", self._get_order, ["GET"]),
        ]
        credentials = self.route("/api/credentials", self._credentials, ["GET"])
        self.app = Starlette(routes=[credentials, Mount(API_PATH, routes=routes)])

    def _schemas(self, d: Dictionaries) -> None:
        order, payment = order_fields(d), payment_fields(d)
        order_ref = checks.shape({"externalId": checks.filled})
        # a create (or an upload) may carry custom fields too: a segment export's members
        created = {**CUSTOMER_FIELDS, "customFields": custom_fields}
        self.customer_create = checks.shape({"externalId": checks.filled}, created)
        # an edit may also carry consents, a segment's custom field, or blanks (an erasure)
        self.customer_edit = checks.shape({}, {**CUSTOMER_FIELDS, **CUSTOMER_EDIT_FIELDS})
        self.order_create = checks.shape({"externalId": checks.filled}, order)
        self.order_edit = checks.shape({}, {k: v for k, v in order.items() if k != "payments"})
        self.payment_create = checks.shape({"order": order_ref, "type": payment["type"]}, payment)
        self.payment_edit = checks.shape({}, {"order": order_ref, **payment})

    def reset(self) -> None:
        """Forget everything: state, request log, failures, the rate window."""
        self.state = RetailCrmState()
        self.history = history.HistoryLog()
        self.requests.clear()
        self.order_violations.clear()
        self._arrivals.clear()
        self.reset_faults()

    # --- how RetailCRM answers ------------------------------------------------------------

    def too_many_requests(self, retry_after: float) -> Response:
        headers = {"Retry-After": f"{retry_after:g}"}
        message = "Service Unavailable: request limit exceeded"
        return _failure(self.limit_status, message, headers=headers)

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
        stored = self._add_customer(customer)
        return _success({"id": stored["id"]}, 201)

    def _add_customer(self, customer: Json) -> Json:
        external_id = customer["externalId"]
        self._refuse_if_told(external_id, "Customer")
        self._refuse_existing(self.state.customers, external_id, "Customer")
        stored = self.state.customers[external_id] = {**customer, "id": self._next_id()}
        history.customer_written(self.history, stored)
        return stored

    async def _upload_customers(self, request: Request) -> Response:
        customers = self._entities(await self._form(request), "customers")
        return self._upload(customers, "Customer", self.customer_create, self._add_customer)

    async def _edit_customer(self, request: Request) -> Response:
        form = await self._form(request)
        changes = self._entity(form, "customer", self.customer_edit)
        stored = self._find(self.state.customers, request, form.get("by"))
        self._refuse_if_told(stored["externalId"], "Customer")
        stored.update(_without(changes, "id", "externalId"))
        return _success({"id": stored["id"]})

    async def _get_customer(self, request: Request) -> Response:
        by = request.query_params.get("by")
        if (gone := history.combined_to(self, request.path_params["key"], by)) is not None:
            return gone
        stored = self._find(self.state.customers, request, request.query_params.get("by"))
        return _success({"customer": stored})

    # --- orders ---------------------------------------------------------------------------

    async def _create_order(self, request: Request) -> Response:
        order = self._entity(await self._form(request), "order", self.order_create)
        stored = self._add_order(order)
        return _success({"id": stored["id"], "order": stored}, 201)

    def _add_order(self, order: Json) -> Json:
        external_id = order["externalId"]
        self._refuse_if_told(external_id, "Order")
        self._refuse_existing(self.state.orders, external_id, "Order")
        self._require_customer(order)
        payments = order.get("payments", [])
        for payment in payments:
            self._refuse_new_payment(payment.get("externalId", ""))
        stored = {"status": "new", **_without(order, "payments")}
        stored.update(id=self._next_id(), site=self.site)
        self.state.orders[external_id] = stored
        history.order_written(self.history, None, stored)
        for payment in payments:
            self._store_payment({**payment, "order": {"externalId": external_id}})
        return stored

    async def _upload_orders(self, request: Request) -> Response:
        orders = self._entities(await self._form(request), "orders")
        return self._upload(orders, "Order", self.order_create, self._add_order)

    async def _edit_order(self, request: Request) -> Response:
        form = await self._form(request)
        changes = self._entity(form, "order", self.order_edit)
        stored = self._find(self.state.orders, request, form.get("by"))
        self._refuse_if_told(stored["externalId"], "Order")
        if "customer" in changes:
            self._require_customer(changes)
        # API v5 edits payments through orders/payments/*: an order edit does not apply them
        before = dict(stored)
        stored.update(_without(changes, "id", "externalId", "site", "payments"))
        history.order_written(self.history, before, stored)
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
        self._refuse_new_payment(payment.get("externalId", ""))
        self._require_order(payment)
        stored = self._store_payment(payment)
        return _success({"id": stored["id"]}, 201)

    def _refuse_new_payment(self, external_id: str) -> None:
        self._refuse_if_told(external_id, "Payment")
        self._refuse_existing(self.state.payments, external_id, "Payment")

    def _store_payment(self, payment: Json) -> Json:
        external_id = payment.get("externalId") or f"#{self.state.last_id + 1}"
        stored = {**payment, "externalId": external_id, "id": self._next_id()}
        self.state.payments[external_id] = stored
        return stored

    async def _edit_payment(self, request: Request) -> Response:
        form = await self._form(request)
        changes = self._entity(form, "payment", self.payment_edit)
        stored = self._find(self.state.payments, request, form.get("by"))
        self._refuse_if_told(stored["externalId"], "Payment")
        order = stored["order"]["externalId"]
        if "order" in changes and changes["order"]["externalId"] != order:
            raise NotLoaded("Payment", {"order": "a payment cannot change its order"})
        stored.update(_without(changes, "id", "externalId"))
        return _success({"id": stored["id"]})

    async def _orders_history(self, request: Request) -> Response:
        return await history.history_endpoint(self, request, "orders")

    async def _customers_history(self, request: Request) -> Response:
        return await history.history_endpoint(self, request, "customers")

    async def _combine(self, request: Request) -> Response:
        return await history.combine_endpoint(self, request)

    async def _credentials(self, request: Request) -> Response:
        methods = ["/api/customers/upload", "/api/orders/upload", "/api/orders/create"]
        body = {"credentials": methods, "siteAccess": "access_selective"}
        return _success({**body, "sitesAvailable": [self.site]})

    # --- batches --------------------------------------------------------------------------

    def _entities(self, form: dict[str, str], name: str) -> list[Any]:
        if name not in form:
            raise Refusal(_failure(400, f'Parameter "{name}" is missing'))
        try:
            entities = json.loads(form[name])
        except ValueError as exc:
            raise Refusal(_failure(400, f'Parameter "{name}" must be a JSON string')) from exc
        if not isinstance(entities, list) or not 1 <= len(entities) <= MAX_UPLOAD:
            message = f'Parameter "{name}" must be a list of 1 to {MAX_UPLOAD} {name}'
            raise Refusal(_failure(400, message))
        return entities

    def _upload(
        self, entities: list[Any], entity: str, check: checks.Check, add: Callable[[Json], Json]
    ) -> Response:
        """Create each entity that passes (in order); say which were and which were not."""
        plural = f"{entity}s"
        uploaded: list[Json] = []
        failed: list[Json] = []
        errors: list[str] = []
        for item in entities:
            try:
                checked = self._checked(item, entity, check)
                stored = add(checked)
            except NotLoaded as refusal:
                external_id = item.get("externalId") if isinstance(item, dict) else None
                failed.append({"externalId": external_id})
                errors.extend(f"{path}: {text}" for path, text in refusal.errors.items())
                continue
            uploaded.append({"id": stored["id"], "externalId": stored["externalId"]})
        listed = {f"uploaded{plural}": uploaded}
        if not failed:
            return _success(listed, 201)
        body: Json = {"success": False, **listed, f"failed{plural}": failed}
        body.update(errorMsg=f"{plural} are loaded with errors", errors=errors)
        return JSONResponse(body, 460)

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
        return self._checked(entity, name.title(), check)

    def _checked(self, entity: Any, name: str, check: checks.Check) -> Json:
        try:
            check(entity, "")
        except checks.Invalid as problem:
            raise NotLoaded(name, {problem.path: problem.message}) from None
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
            raise NotLoaded(entity, {"externalId": message})

    def _require_customer(self, order: Json) -> None:
        external_id = order.get("customer", {}).get("externalId")
        if external_id is not None and external_id not in self.state.customers:
            message = f"Customer with externalId={external_id} not found."
            self.order_violations.append(f"order {order.get('externalId')}: {message}")
            raise NotLoaded("Order", {"customer.externalId": message})

    def _require_order(self, payment: Json) -> None:
        external_id = payment["order"]["externalId"]
        if external_id not in self.state.orders:
            message = f"Order with externalId={external_id} not found."
            self.order_violations.append(f"payment {payment.get('externalId')}: {message}")
            raise NotLoaded("Payment", {"order.externalId": message})

    def _refuse_if_told(self, external_id: str, entity: str) -> None:
        if self.is_rejected(external_id):
            raise NotLoaded(entity, {"externalId": f"{entity} {external_id} refused (simulated)"})

    def _next_id(self) -> int:
        self.state.last_id += 1
        return self.state.last_id


class NotLoaded(Refusal):
    """An entity RetailCRM does not take: 400 "… is not loaded" alone, listed in a batch."""

    def __init__(self, entity: str, errors: dict[str, str]) -> None:
        super().__init__(_not_loaded(entity, errors))
        self.errors = errors


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
