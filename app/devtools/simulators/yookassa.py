"""A local YooKassa API v3: payments, capture, cancel, refunds, notifications and failure modes."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import json
import re
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from app.devtools.simulators import checks

Json = dict[str, Any]
QUANTITY = re.compile(r"^\d{1,6}(\.\d{1,3})?$")
PAYMENT_MODES = {"full_prepayment", "partial_prepayment", "advance", "full_payment"}
PAYMENT_MODES |= {"partial_payment", "credit", "credit_payment"}
PAYMENT_SUBJECTS = {"commodity", "excise", "job", "service", "payment", "composite", "another"}
ERROR_CODES = {400: "invalid_request", 401: "invalid_credentials", 403: "forbidden"}
ERROR_CODES |= {404: "not_found", 429: "too_many_requests", 500: "internal_server_error"}
RETRY_AFTER_MS = 1800  # what a 202 asks for, in milliseconds


class ApiError(Exception):
    """A refusal, answered in YooKassa's error shape."""

    def __init__(self, status: int, description: str, parameter: str | None = None) -> None:
        super().__init__(description)
        self.status, self.parameter = status, parameter

    def body(self) -> Json:
        code = ERROR_CODES.get(self.status, "invalid_request")
        body = {"type": "error", "id": str(uuid.uuid4()), "code": code, "description": str(self)}
        return body | ({"parameter": self.parameter} if self.parameter else {})


def invalid(description: str, parameter: str) -> ApiError:
    return ApiError(400, description, parameter)


@dataclass
class YooKassaSimulator:
    """In-memory YooKassa: `app` serves `/v3/...`; the methods play the payer and break things."""

    shop_id: str = "100500"
    secret_key: str = "test_simulator_secret"
    webhook_url: str | None = None
    payments: dict[str, Json] = field(default_factory=dict, init=False)
    refunds: dict[str, Json] = field(default_factory=dict, init=False)
    receipts: dict[str, Json] = field(default_factory=dict, init=False)  # POST receipts
    # the receipt each refund and capture came with (YooKassa registers them; kept for tests)
    refund_receipts: dict[str, Json] = field(default_factory=dict, init=False)
    payment_receipts: dict[str, Json] = field(default_factory=dict, init=False)
    capture_receipts: dict[str, Json] = field(default_factory=dict, init=False)
    notifications: list[Json] = field(default_factory=list, init=False)  # each body POSTed
    dropped_notifications: list[Json] = field(default_factory=list, init=False)
    requests: list[tuple[str, str, str | None]] = field(default_factory=list, init=False)
    app: Starlette = field(init=False, repr=False)
    _answers: dict[str, tuple[str, int, Json]] = field(default_factory=dict, init=False)
    _capture: dict[str, bool] = field(default_factory=dict, init=False)
    _with_receipt: set[str] = field(default_factory=set, init=False)
    _failures: deque[tuple[int, bool]] = field(default_factory=deque, init=False)
    _slow: float = field(default=0.0, init=False)
    _drop_next: bool = field(default=False, init=False)
    _duplicate: bool = field(default=False, init=False)
    _delay: float = field(default=0.0, init=False)
    _deliveries: set[asyncio.Task[None]] = field(default_factory=set, init=False)
    _sender: httpx.AsyncClient | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.app = Starlette(routes=_routes(self))

    # --- test controls ---------------------------------------------------------------------------

    def fail_5xx(self, times: int = 1, *, after_processing: bool = False, skip: int = 0) -> None:
        """Answer the next `times` API calls (after `skip` answered normally) with 500, having
        acted on them or not."""
        self._failures.extend([(0, False)] * skip + [(500, after_processing)] * times)

    def rate_limit(self, times: int = 1) -> None:
        """Answer the next `times` API calls with 429 without acting on them."""
        self._failures.extend([(429, False)] * times)

    def outcome_unknown(self, times: int = 1) -> None:
        """Answer the next `times` API calls with 202: still processing, retry with the same key."""
        self._failures.extend([(202, False)] * times)

    def forbid(self, times: int = 1) -> None:
        """Answer the next `times` API calls with 403 forbidden."""
        self._failures.extend([(403, False)] * times)

    def slow(self, seconds: float) -> None:
        """Wait `seconds` before answering each API call (0 to stop): client timeouts."""
        self._slow = seconds

    def drop_next_notification(self) -> None:
        self._drop_next = True

    def duplicate_notifications(self, *, enabled: bool = True) -> None:
        self._duplicate = enabled

    def delay_notifications(self, seconds: float) -> None:
        """Deliver in the background after `seconds`; `await settle()` waits for them."""
        self._delay = seconds

    async def pay(self, payment_id: str) -> Json:
        """The payer confirms: `succeeded` if capture was asked for, else `waiting_for_capture`."""
        payment = self._payment(payment_id, "pending")
        payment["paid"] = True
        if self._capture[payment_id]:
            self._succeed(payment)
            await self._notify("payment.succeeded", payment)
        else:
            payment["status"] = "waiting_for_capture"
            await self._notify("payment.waiting_for_capture", payment)
        return payment

    async def cancel_by_payer(
        self, payment_id: str, reason: str = "expired_on_confirmation", party: str = "yoo_money"
    ) -> Json:
        """The payer gives up (or their bank declines): the pending payment is canceled."""
        payment = self._payment(payment_id, "pending")
        await self._cancel(payment, party, reason)
        return payment

    async def expire_authorisation(self, payment_id: str) -> Json:
        """Seven days without a capture: YooKassa releases the authorised money."""
        payment = self._payment(payment_id, "waiting_for_capture")
        await self._cancel(payment, "yoo_money", "expired_on_capture")
        return payment

    async def settle(self) -> None:
        """Wait for delayed notifications still on their way."""
        while self._deliveries:
            await asyncio.gather(*self._deliveries)

    async def aclose(self) -> None:
        """Abandon deliveries still waiting."""
        for task in self._deliveries:
            task.cancel()
        await asyncio.gather(*self._deliveries, return_exceptions=True)
        if self._sender is not None:
            await self._sender.aclose()
            self._sender = None

    # --- API operations --------------------------------------------------------------------------

    async def create_payment(self, request: Request, body: Json) -> Json:
        _check(NEW_PAYMENT, body)
        amount = {"value": body["amount"]["value"], "currency": "RUB"}
        payment_id = str(uuid.uuid4())
        checkout = str(request.url_for("checkout", payment_id=payment_id))
        confirmation = body["confirmation"] | {"confirmation_url": checkout}
        self._capture[payment_id] = body.get("capture", False)
        if "receipt" in body:
            self._with_receipt.add(payment_id)
            self.payment_receipts[payment_id] = body["receipt"]
        payment = {"id": payment_id, "status": "pending", "paid": False, "amount": amount}
        payment |= {"confirmation": confirmation, "created_at": _timestamp(), "refundable": False}
        payment |= {"metadata": body.get("metadata", {}), "test": True}
        payment |= {"description": body["description"]} if "description" in body else {}
        self.payments[payment_id] = payment
        return payment

    async def capture(self, request: Request, body: Json) -> Json:
        _check(CAPTURE, body)
        payment = self._payment(request.path_params["payment_id"], "waiting_for_capture")
        if "amount" in body and body["amount"]["value"] != payment["amount"]["value"]:
            self._receipt_required(payment["id"], body)
        if "amount" in body:
            if Decimal(body["amount"]["value"]) > Decimal(payment["amount"]["value"]):
                raise invalid("capture amount exceeds the authorised amount", "amount.value")
            payment["amount"] = {"value": body["amount"]["value"], "currency": "RUB"}
        if "receipt" in body:
            self.capture_receipts[payment["id"]] = body["receipt"]
        self._succeed(payment)
        await self._notify("payment.succeeded", payment)
        return payment

    async def cancel(self, request: Request, body: Json) -> Json:
        payment = self._payment(request.path_params["payment_id"], "waiting_for_capture")
        await self._cancel(payment, "merchant", "canceled_by_merchant")
        return payment

    async def refund(self, request: Request, body: Json) -> Json:
        _check(REFUND, body)
        payment = self.payments.get(body["payment_id"])
        if payment is None:
            raise invalid("payment_id names no payment of this shop", "payment_id")
        amount = {"value": body["amount"]["value"], "currency": "RUB"}
        self._receipt_required(payment["id"], body)
        if payment["status"] != "succeeded":
            raise invalid(f"a {payment['status']} payment cannot be refunded", "payment_id")
        refunded = _refunded(payment) + Decimal(amount["value"])
        if refunded > Decimal(payment["amount"]["value"]):
            raise invalid("refunds would exceed the amount paid", "amount.value")
        refund = {"id": str(uuid.uuid4()), "payment_id": payment["id"], "status": "succeeded"}
        refund |= {"amount": amount, "created_at": _timestamp()}
        refund |= {"description": body["description"]} if "description" in body else {}
        self.refunds[refund["id"]] = refund
        if "receipt" in body:
            self.refund_receipts[refund["id"]] = body["receipt"]
        payment["refunded_amount"] = {"value": f"{refunded:.2f}", "currency": "RUB"}
        payment["refundable"] = refunded < Decimal(payment["amount"]["value"])
        await self._notify("refund.succeeded", refund)
        return refund

    async def create_receipt(self, request: Request, body: Json) -> Json:
        """A receipt of its own (54-FZ), e.g. the closing receipt of a prepayment: its
        settlements add up to its items, and a payment's receipt names a succeeded payment."""
        _check_receipt(body)
        payment = self.payments.get(body["payment_id"])
        if payment is None:
            raise invalid("payment_id names no payment of this shop", "payment_id")
        if payment["status"] != "succeeded":
            raise invalid(f"a {payment['status']} payment has no receipts yet", "payment_id")
        receipt = {"id": str(uuid.uuid4()), "status": "pending", "type": body["type"]}
        receipt |= {key: body[key] for key in ("payment_id", "items", "settlements")}
        self.receipts[receipt["id"]] = receipt
        return receipt

    async def read_payment(self, request: Request, body: Json) -> Json:
        return self._payment(request.path_params["payment_id"])

    async def read_refund(self, request: Request, body: Json) -> Json:
        refund_id = request.path_params["refund_id"]
        if refund_id not in self.refunds:
            raise ApiError(404, f"Refund {refund_id} not found")
        return self.refunds[refund_id]

    def _receipt_required(self, payment_id: str, body: Json) -> None:
        """A shop that sends receipts through YooKassa sends one with every refund and every
        partial capture (54-FZ: a receipt per change of what was paid)."""
        if payment_id in self._with_receipt and "receipt" not in body:
            raise invalid("receipt is required: this payment was made with a receipt", "receipt")

    # --- plumbing --------------------------------------------------------------------------------

    async def handle(self, request: Request, operation: Operation) -> Response:
        """Auth, injected failures, idempotence, then the operation; answers in YooKassa's shape."""
        key = request.headers.get("Idempotence-Key")
        self.requests.append((request.method, request.url.path, key))
        try:
            self._authenticate(request)
            await asyncio.sleep(self._slow)
            status, after_processing = self._failures.popleft() if self._failures else (0, False)
            if status and not after_processing:
                return _failure(status)
            if request.method == "GET":
                answer: tuple[int, Json] = 200, await operation(request, {})
            else:
                answer = await self._idempotent(request, operation, _idempotence_key(key))
            return _failure(status) if status else JSONResponse(answer[1], status_code=answer[0])
        except ApiError as error:
            return JSONResponse(error.body(), status_code=error.status)

    async def _idempotent(
        self, request: Request, operation: Operation, key: str
    ) -> tuple[int, Json]:
        """Same key and body: the first answer again; same key, other body: 400."""
        body = await _json_body(request)
        fingerprint = json.dumps([request.url.path, body], sort_keys=True)
        if key in self._answers:
            first, status, answer = self._answers[key]
            if first != fingerprint:
                raise invalid("Idempotence-Key was used with another request", "Idempotence-Key")
            return status, answer
        try:
            status, answer = 200, await operation(request, body)
        except ApiError as error:
            status, answer = error.status, error.body()
        self._answers[key] = (fingerprint, status, _copy(answer))  # the answer as it was then
        return status, answer

    def _authenticate(self, request: Request) -> None:
        scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
        try:
            given = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            given = b""
        expected = f"{self.shop_id}:{self.secret_key}".encode()
        if scheme.lower() != "basic" or not hmac.compare_digest(given, expected):
            raise ApiError(401, "Authentication by given credentials failed", "Authorization")

    def _payment(self, payment_id: str, status: str | None = None) -> Json:
        if payment_id not in self.payments:
            raise ApiError(404, f"Payment {payment_id} not found")
        payment = self.payments[payment_id]
        if status is not None and payment["status"] != status:
            raise invalid(f"payment is {payment['status']}, not {status}", "payment_id")
        return payment

    def _succeed(self, payment: Json) -> None:
        payment.update(status="succeeded", captured_at=_timestamp(), refundable=True)

    async def _cancel(self, payment: Json, party: str, reason: str) -> None:
        payment.update(status="canceled", paid=False, refundable=False)
        payment["cancellation_details"] = {"party": party, "reason": reason}
        await self._notify("payment.canceled", payment)

    async def _notify(self, event: str, obj: Json) -> None:
        if self.webhook_url is None:
            return
        body = {"type": "notification", "event": event, "object": _copy(obj)}
        if self._drop_next:
            self._drop_next = False
            self.dropped_notifications.append(body)
            return
        delivery = self._deliver(self.webhook_url, body, 2 if self._duplicate else 1, self._delay)
        if not self._delay:
            return await delivery  # before the API call that caused it answers: tests stay simple
        task = asyncio.create_task(delivery)
        self._deliveries.add(task)
        task.add_done_callback(self._deliveries.discard)

    async def _deliver(self, url: str, body: Json, copies: int, delay: float = 0.0) -> None:
        await asyncio.sleep(delay)
        if self._sender is None:  # one pool for every notification (call aclose() at the end)
            self._sender = httpx.AsyncClient(timeout=5.0)
        for _ in range(copies):
            self.notifications.append(body)
            try:
                await self._sender.post(url, json=body)
            except httpx.HTTPError:
                pass  # YooKassa retries for 24 hours; tests read `notifications` instead


Operation = Callable[[Request, Json], Awaitable[Json]]


def _routes(sim: YooKassaSimulator) -> list[Route]:
    def api(operation: Operation) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            return await sim.handle(request, operation)

        return endpoint

    return [
        Route("/v3/payments", api(sim.create_payment), methods=["POST"]),
        Route("/v3/payments/{payment_id}", api(sim.read_payment), methods=["GET"]),
        Route("/v3/payments/{payment_id}/capture", api(sim.capture), methods=["POST"]),
        Route("/v3/payments/{payment_id}/cancel", api(sim.cancel), methods=["POST"]),
        Route("/v3/refunds", api(sim.refund), methods=["POST"]),
        Route("/v3/refunds/{refund_id}", api(sim.read_refund), methods=["GET"]),
        Route("/v3/receipts", api(sim.create_receipt), methods=["POST"]),
        Route("/checkout/{payment_id}", _checkout(sim), methods=["GET", "POST"], name="checkout"),
    ]


def _checkout(sim: YooKassaSimulator) -> Callable[[Request], Awaitable[Response]]:
    """The payer's page, for manual runs: GET shows Pay and Cancel, POST applies the choice."""

    async def page(request: Request) -> Response:
        payment = sim.payments.get(request.path_params["payment_id"], {"status": "unknown"})
        if request.method == "POST" and payment["status"] == "pending":
            paying = parse_qs((await request.body()).decode()).get("action") == ["pay"]
            await (sim.pay(payment["id"]) if paying else sim.cancel_by_payer(payment["id"]))
        if payment["status"] == "pending":
            buttons = '<button name="action" value="pay">Pay</button><button>Cancel</button>'
            return HTMLResponse(
                f"<p>{payment['amount']['value']} RUB</p><form method=post>{buttons}"
            )
        url = payment.get("confirmation", {}).get("return_url")
        return RedirectResponse(url, 303) if url else HTMLResponse("No such payment", 404)

    return page


def _failure(status: int) -> Response:
    if status == 202:
        body = {"type": "processing", "description": "Request accepted, retry later"}
        return JSONResponse(body | {"retry_after": RETRY_AFTER_MS}, status_code=202)
    return JSONResponse(ApiError(status, "Injected by the simulator").body(), status_code=status)


def _idempotence_key(key: str | None) -> str:
    if not key or len(key) > 64:
        raise invalid("Idempotence-Key header of 1..64 characters is required", "Idempotence-Key")
    return key


async def _json_body(request: Request) -> Json:
    if request.headers.get("Content-Type", "").split(";")[0].strip() != "application/json":
        raise ApiError(415, "Content-Type must be application/json", "Content-Type")
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError as exc:
        raise invalid("The body is not JSON", "body") from exc
    if not isinstance(body, dict):
        raise invalid("The body is not a JSON object", "body")
    return body


def _check(rule: checks.Check, body: Json) -> None:
    try:
        rule(body, "")
    except checks.Invalid as exc:
        raise invalid(exc.message, exc.path) from exc
    receipt = body.get("receipt")
    if receipt is None or "amount" not in body:
        return
    lines = sum(Decimal(i["amount"]["value"]) * Decimal(i["quantity"]) for i in receipt["items"])
    if lines != Decimal(body["amount"]["value"]):
        raise invalid("receipt items do not add up to the amount", "receipt.items")
    _check_marked_units(receipt["items"], "receipt.items")


def _check_marked_units(items: list[Json], path: str) -> None:
    """A marked unit (with `mark_code_info`) is a line of quantity 1.00 with `mark_mode`."""
    for index, item in enumerate(items):
        if "mark_code_info" in item and (item["quantity"] != "1.00" or "mark_mode" not in item):
            raise invalid(
                "a marked unit is a line of quantity 1.00 with mark_mode", f"{path}.{index}"
            )


def _positive_amount(value: Any, path: str) -> None:
    checks.money(value, path)
    if Decimal(value) <= 0:
        raise checks.Invalid(path, "must be positive")


def _rule(ok: Callable[[Any], bool], message: str) -> checks.Check:
    def check(value: Any, path: str) -> None:
        if not ok(value):
            raise checks.Invalid(path, message)

    return check


def _is_metadata(value: Any) -> bool:
    if not isinstance(value, dict) or len(value) > 16:
        return False
    return all(len(k) <= 32 and isinstance(v, str) and len(v) <= 512 for k, v in value.items())


def _short(limit: int) -> checks.Check:
    return _rule(lambda v: isinstance(v, str) and 0 < len(v) <= limit, f"1..{limit} characters")


def _is_quantity(value: Any) -> bool:
    return isinstance(value, str) and bool(QUANTITY.match(value)) and Decimal(value) > 0


AMOUNT = checks.shape({"value": _positive_amount, "currency": checks.one_of({"RUB"})})
MARK_CODE_KINDS = {"mark_code_raw", "unknown", "ean_8", "ean_13", "itf_14", "gs_10", "gs_1m"}
MARK_CODE_KINDS |= {"short", "fur", "egais_20", "egais_30"}
SETTLEMENT_TYPES = {"cashless", "prepayment", "postpayment", "consideration"}
MARK_CODE_INFO = _rule(
    lambda v: (
        isinstance(v, dict)
        and len(v) == 1
        and set(v) <= MARK_CODE_KINDS
        and all(isinstance(c, str) and 0 < len(c) <= 256 for c in v.values())
    ),
    f"one of {sorted(MARK_CODE_KINDS)}: the unit's code",
)
RECEIPT_ITEM = checks.shape(
    {
        "description": _short(128),
        "quantity": _rule(_is_quantity, "must be a positive decimal string like 1.00"),
        "amount": AMOUNT,
        "vat_code": _rule(lambda v: type(v) is int and 1 <= v <= 12, "must be 1..12"),
        "payment_mode": checks.one_of(PAYMENT_MODES),
        "payment_subject": checks.one_of(PAYMENT_SUBJECTS),
    },
    {"mark_code_info": MARK_CODE_INFO, "mark_mode": checks.one_of({"0"})},
)
RECEIPT = checks.shape(
    {
        "customer": _rule(
            lambda v: isinstance(v, dict) and bool(v.keys() & {"email", "phone"}),
            "needs email or phone",
        ),
        "items": checks.list_of(RECEIPT_ITEM, min_items=1),
    }
)
REDIRECT = checks.shape(
    {
        "type": checks.one_of({"redirect"}),
        "return_url": _rule(lambda v: str(v).startswith(("http://", "https://")), "not a URL"),
    }
)
NEW_PAYMENT = checks.shape(
    {"amount": AMOUNT, "confirmation": REDIRECT},
    {
        "capture": _rule(lambda v: isinstance(v, bool), "must be true or false"),
        "description": _short(128),
        "metadata": _rule(_is_metadata, "at most 16 keys ≤ 32 chars, string values ≤ 512 chars"),
        "receipt": RECEIPT,
    },
)
CAPTURE = checks.shape({}, {"amount": AMOUNT, "receipt": RECEIPT})
REFUND = checks.shape(
    {"payment_id": checks.filled, "amount": AMOUNT},
    {"description": _short(250), "receipt": RECEIPT},
)


RECEIPT_OF_ITS_OWN = checks.shape(
    {
        "type": checks.one_of({"payment", "refund"}),
        "payment_id": checks.filled,
        "customer": _rule(lambda v: isinstance(v, dict), "must be an object"),
        "send": _rule(lambda v: v is True, "must be true"),
        "settlements": checks.list_of(
            checks.shape({"type": checks.one_of(SETTLEMENT_TYPES), "amount": AMOUNT}), min_items=1
        ),
        "items": checks.list_of(
            checks.shape(
                {
                    "description": _short(128),
                    "quantity": _rule(_is_quantity, "must be a positive decimal string like 1.00"),
                    "amount": AMOUNT,
                    "vat_code": _rule(lambda v: type(v) is int and 1 <= v <= 12, "must be 1..12"),
                    "payment_mode": checks.one_of(PAYMENT_MODES),
                    "payment_subject": checks.one_of(PAYMENT_SUBJECTS),
                },
                {"mark_code_info": MARK_CODE_INFO, "mark_mode": checks.one_of({"0"})},
            ),
            min_items=1,
        ),
    }
)


def _check_receipt(body: Json) -> None:
    """A receipt of its own: its shape, the settlements equal to the items, and a marked unit
    (with `mark_code_info`) one to a line, with `mark_mode`."""
    try:
        RECEIPT_OF_ITS_OWN(body, "")
    except checks.Invalid as exc:
        raise invalid(exc.message, exc.path) from exc
    if not body["customer"].keys() & {"email", "phone"}:
        raise invalid("needs email or phone", "customer")
    items = sum(Decimal(i["amount"]["value"]) * Decimal(i["quantity"]) for i in body["items"])
    settled = sum(Decimal(s["amount"]["value"]) for s in body["settlements"])
    if items != settled:
        raise invalid("settlements do not add up to the items", "settlements")
    _check_marked_units(body["items"], "items")


def _timestamp() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _copy(obj: Json) -> Json:
    copy: Json = json.loads(json.dumps(obj))
    return copy


def _refunded(payment: Json) -> Decimal:
    return Decimal(payment.get("refunded_amount", {}).get("value", "0"))
