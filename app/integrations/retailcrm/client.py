"""HTTP client of RetailCRM API v5: upserts by externalId (our GUIDs), within the rate limit.

Writes are `POST` form bodies (`application/x-www-form-urlencoded`) whose entity field holds
the entity as a JSON string, plus `site`. RetailCRM has no idempotency key: a create of an
externalId it already has is refused, and that refusal is answered with an edit by externalId.
The same goes for payments: `orders/payments/{externalId}/edit` with `by=externalId` (the
payment edit takes `by` like the order edit does), so no lookup of RetailCRM's own id is needed.

Answers:
- status < 400 with `"success": true`: done.
- 400 `{"success": false, "errorMsg", "errors"}` saying the externalId exists: the edit is
  sent instead (only on create); any other 400, 401/403 (API key), 404 (unknown entity on an
  edit) and every other answer: `RejectedError` with the body.
- 503 (over the rate limit), 429, other 5xx, timeouts, connection errors: `RetryableError`
  with Retry-After when RetailCRM sends one.

Requests leave each client at most `max_rps` per second (RetailCRM allows 10 per API key; give
two clients sharing a key half each).
"""

from __future__ import annotations

import json
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from app.domain.outbound import CustomerRecord, OrderRecord, OrderStatusRecord, PaymentRecord
from app.integrations.errors import RejectedError
from app.integrations.http import RateLimiter, rejected, retryable_answer, send
from app.integrations.retailcrm.mapping import (
    Json,
    RetailCrmCodes,
    customer_payload,
    order_edit_payload,
    order_payload,
    order_status_payload,
    payment_payload,
)


class AlreadyExistsError(RejectedError):
    """RetailCRM refused a create: an entity with this externalId exists."""


class RetailCrmClient:
    """Upsert customers, orders, order statuses and payments in RetailCRM."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        site: str,
        timeout: float = 10.0,
        max_rps: float = 10,
        codes: RetailCrmCodes | None = None,
    ) -> None:
        """`base_url` is the API root, e.g. `https://shop.retailcrm.ru/api/v5`."""
        self._http = httpx.AsyncClient(
            base_url=base_url,
            headers={"X-API-KEY": api_key, "Accept": "application/json"},
            timeout=timeout,
        )
        self._site = site
        self._codes = codes or RetailCrmCodes()
        self._limiter = RateLimiter(max_rps)

    async def upsert_customer(self, record: CustomerRecord) -> None:
        """Create the customer with our GUID as externalId, or edit it if it exists."""
        payload = customer_payload(record)
        await self._create_or_edit("customers", "customer", record.guid, payload, payload)

    async def upsert_order(self, record: OrderRecord) -> None:
        """Create the order with our GUID as externalId, or edit it if it exists.

        The caller sends the order's customer first (`upsert_customer`): RetailCRM refuses an
        order whose `customer.externalId` it does not know, and that refusal is a RejectedError.
        """
        created = order_payload(record, self._codes)
        edited = order_edit_payload(record, self._codes)
        await self._create_or_edit("orders", "order", record.guid, created, edited)

    async def update_order_status(self, record: OrderStatusRecord) -> None:
        """Set the order's status (a RejectedError if RetailCRM does not know the order)."""
        fields = {"order": order_status_payload(record, self._codes), "by": "externalId"}
        await self._post(f"orders/{_seg(record.order_guid)}/edit", fields)

    async def upsert_payment(self, record: PaymentRecord) -> None:
        """Create the order's payment with our GUID as externalId, or edit it if it exists."""
        payload = payment_payload(record, self._codes)
        await self._create_or_edit("orders/payments", "payment", record.guid, payload, payload)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def __aenter__(self) -> RetailCrmClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _create_or_edit(
        self, resource: str, field: str, external_id: str, created: Json, edited: Json
    ) -> None:
        try:
            await self._post(f"{resource}/create", {field: created})
        except AlreadyExistsError:
            edit = f"{resource}/{_seg(external_id)}/edit"
            await self._post(edit, {field: edited, "by": "externalId"})

    async def _post(self, path: str, fields: dict[str, Any]) -> Json:
        form = {name: _form_value(value) for name, value in fields.items()}
        form["site"] = self._site
        await self._limiter.acquire()
        response = await send(self._http, self._http.build_request("POST", path, data=form))
        return _answer(response)


def _answer(response: httpx.Response) -> Json:
    if (retry := retryable_answer(response)) is not None:
        raise retry
    body = _json_object(response)
    if response.status_code < 400 and body.get("success") is True:
        return body
    reason = _reason(body)
    if response.status_code == 400 and "already exist" in reason.lower():
        raise AlreadyExistsError(reason, response.status_code, response.text)
    raise rejected(response, reason)


def _json_object(response: httpx.Response) -> Json:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _reason(body: Json) -> str:
    """errorMsg and the per-field errors, as one line."""
    errors = body.get("errors")
    details: list[str] = []
    if isinstance(errors, dict):
        details = [f"{name}: {text}" for name, text in errors.items()]
    elif isinstance(errors, list):
        details = [str(text) for text in errors]
    parts = [str(body.get("errorMsg") or ""), *details]
    return "; ".join(part for part in parts if part)


def _form_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _seg(value: str) -> str:
    return quote(value, safe="")
