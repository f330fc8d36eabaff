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

Batches: `customers/upload` and `orders/upload` create up to 50 entities in one call and say
which they created (app/integrations/retailcrm/uploads.py); those that exist are edited by
externalId one by one. `ping` asks whether RetailCRM answers at all (`GET /api/credentials`,
which touches no entity).

Every request first takes its turn of the budget: the API key's shared budget in redis
(app/integrations/retailcrm/budget.py) when one is given, else at most `max_rps` per second
from this client alone (RetailCRM allows 10 per API key).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from app.domain.coalescing import CustomerUpsert, OrderDelivery
from app.domain.consents import (
    ConsentRecord,
    ErasureRecord,
    MarketingChannel,
    SegmentMemberRecord,
    SystemIds,
)
from app.domain.outbound import CustomerRecord, OrderRecord, OrderStatusRecord, PaymentRecord
from app.domain.segment_export import Member
from app.integrations.errors import RejectedError
from app.integrations.http import RateLimiter, rejected, retryable_answer, send
from app.integrations.retailcrm import identity
from app.integrations.retailcrm.budget import Budget
from app.integrations.retailcrm.known import KnownCustomers
from app.integrations.retailcrm.mapping import (
    Json,
    RetailCrmCodes,
    customer_payload,
    customer_upsert_payload,
    order_edit_payload,
    order_edits_payload,
    order_payload,
    order_status_payload,
    order_upload_payload,
    payment_fold_payload,
    payment_payload,
)
from app.integrations.retailcrm.uploads import PARTLY_LOADED, Uploaded, read_upload


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
        budget: Budget | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        known: KnownCustomers | None = None,
    ) -> None:
        """`base_url` is the API root, e.g. `https://shop.retailcrm.ru/api/v5`. `budget`: the
        API key's shared budget; `known`: what RetailCRM was last told of each customer (both
        closed with the client). `transport`: httpx's (tests hand in the simulator's app)."""
        self._http = httpx.AsyncClient(
            base_url=base_url,
            headers={"X-API-KEY": api_key, "Accept": "application/json"},
            timeout=timeout,
            transport=transport,
        )
        self._site = site
        self._codes = codes or RetailCrmCodes()
        self._budget: Budget = budget or RateLimiter(max_rps)
        self._known = known

    async def upsert_customer(self, record: CustomerRecord) -> None:
        """Create the customer with our GUID as externalId, or edit it if it exists."""
        payload = customer_payload(record)
        async with self._telling({record.guid: payload}):
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

    async def upload_customers(self, customers: Sequence[CustomerUpsert]) -> Uploaded:
        """Create up to 50 customers in one call; say which were created (or are in RetailCRM
        as these would leave them: not sent), exist or failed."""
        payloads = {c.guid: customer_upsert_payload(c) for c in customers}
        kept = await self._known.unchanged(payloads) if self._known else set()
        sending = {guid: p for guid, p in payloads.items() if guid not in kept}
        if not sending:
            return Uploaded(created=frozenset(kept))
        async with self._telling(sending) as taken:
            answer = await self._upload("customers", "uploadedCustomers", list(sending.values()))
            taken.difference_update(set(sending) - answer.created)
        return Uploaded(answer.created | kept, answer.existing, answer.failed)

    async def edit_customer(self, customer: CustomerUpsert) -> None:
        """Edit an existing customer by externalId (a RejectedError if it is unknown)."""
        payload = customer_upsert_payload(customer)
        async with self._telling({customer.guid: payload}):
            await self._post(
                f"customers/{_seg(customer.guid)}/edit", {"customer": payload, "by": "externalId"}
            )

    async def upload_orders(self, orders: Sequence[OrderDelivery]) -> Uploaded:
        """Create up to 50 orders, with their payments, in one call; their customers first."""
        payloads = [order_upload_payload(o, self._codes) for o in orders]
        return await self._upload("orders", "uploadedOrders", payloads)

    async def edit_order(self, order: OrderDelivery) -> None:
        """Edit an existing order by externalId with its changes and status changes folded
        (a RejectedError, 404, if RetailCRM does not know it)."""
        fields = {"order": order_edits_payload(order, self._codes), "by": "externalId"}
        await self._post(f"orders/{_seg(order.guid)}/edit", fields)

    async def upsert_payment_snapshots(self, snapshots: Sequence[PaymentRecord]) -> None:
        """Create a payment, or edit it if it exists, as its snapshots leave it."""
        payload = payment_fold_payload(snapshots, self._codes)
        guid = snapshots[-1].guid
        await self._create_or_edit("orders/payments", "payment", guid, payload, payload)

    async def history(self, entity: str, since_id: int, limit: int = 100) -> Json:
        """One page of `orders/history` or `customers/history` after `since_id`, oldest first
        (app/integrations/retailcrm/history.py reads it). Takes its turn of the budget."""
        if entity not in ("orders", "customers"):
            raise ValueError(f"no history of {entity!r}")
        params = {"filter[sinceId]": str(since_id), "limit": str(limit)}
        await self._budget.acquire()
        request = self._http.build_request("GET", f"{entity}/history", params=params)
        return _answer(await send(self._http, request))

    async def put_consents(self, record: ConsentRecord) -> list[str]:
        """Set a person's subscriptions on each of their RetailCRM customers; answer the keys
        RetailCRM does not know (yet: the caller decides whether to wait for them)."""
        return await self._edit_each(record.ids, identity.consent_payload(record))

    async def erase_customer(self, record: ErasureRecord) -> None:
        """Blank a person's fields on each of their RetailCRM customers."""
        await self._edit_each(record.ids, identity.erasure_payload(record.erased_at))

    async def put_segment_member(self, record: SegmentMemberRecord) -> None:
        """Mark one member of an exported segment (its custom field)."""
        await self._edit_each(record.ids, identity.segment_member_payload(record))

    async def upload_segment_members(
        self, segment: str, channel: MarketingChannel, members: Sequence[Member]
    ) -> Uploaded:
        """Create up to 50 members (by our GUID) with the segment's field set, in one call;
        say which were created, exist (edit them: `mark_segment_member`) or failed."""
        payloads = [identity.segment_upload_payload(m, segment, channel) for m in members]
        return await self._upload("customers", "uploadedCustomers", payloads)

    async def mark_segment_member(self, key: str, by: str, segment: str) -> None:
        """Set the segment's field on one customer RetailCRM has (`by` externalId or id; a
        RejectedError with status 404 if it has none)."""
        payload = identity.segment_mark_payload(segment)
        await self._post(f"customers/{_seg(key)}/edit", {"customer": payload, "by": by})

    async def _edit_each(self, ids: SystemIds, payload: Json) -> list[str]:
        """customers/{key}/edit for each key; a customer RetailCRM does not have is skipped
        (404: there is nothing there to change) and named in the answer."""
        unknown = []
        for key, by in identity.customer_keys(ids):
            try:
                await self._post(f"customers/{_seg(key)}/edit", {"customer": payload, "by": by})
            except RejectedError as error:
                if error.status != 404:
                    raise
                unknown.append(key)
        return unknown

    async def ping(self) -> None:
        """Ask whether RetailCRM answers at all (a RetryableError if not)."""
        url = str(self._http.base_url).rstrip("/").removesuffix("/v5") + "/credentials"
        await self._budget.acquire()
        _answer(await send(self._http, self._http.build_request("GET", url)))

    async def aclose(self) -> None:
        """Close the connection pool, the budget and what it knows of customers."""
        await self._http.aclose()
        for held in (self._budget, self._known):
            if (close := getattr(held, "aclose", None)) is not None:
                await close()

    @asynccontextmanager
    async def _telling(self, payloads: dict[str, Json]) -> AsyncIterator[set[str]]:
        """Around a write of these customers: remember those RetailCRM took (all, unless the
        body takes some out of the yielded set), forget the rest and all after a failure."""
        taken = set(payloads)
        try:
            yield taken
        except BaseException:
            if self._known is not None:
                await self._known.forget(payloads)
            raise
        if self._known is not None:
            await self._known.remember({g: payloads[g] for g in taken})
            await self._known.forget(set(payloads) - taken)

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

    async def _upload(self, resource: str, listed: str, payloads: list[Json]) -> Uploaded:
        sent = [str(p["externalId"]) for p in payloads]
        response = await self._send_form(f"{resource}/upload", {resource: payloads})
        if (retry := retryable_answer(response)) is not None:
            raise retry
        body = _json_object(response)
        if response.status_code < 400 and body.get("success") is True:
            return read_upload(body, listed, sent, "")
        if response.status_code in (400, PARTLY_LOADED):  # refused, wholly or in part
            return read_upload(body, listed, sent, str(rejected(response, _reason(body))))
        raise rejected(response, _reason(body))

    async def _post(self, path: str, fields: dict[str, Any]) -> Json:
        return _answer(await self._send_form(path, fields))

    async def _send_form(self, path: str, fields: dict[str, Any]) -> httpx.Response:
        form = {name: _form_value(value) for name, value in fields.items()}
        form["site"] = self._site
        await self._budget.acquire()
        return await send(self._http, self._http.build_request("POST", path, data=form))


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
