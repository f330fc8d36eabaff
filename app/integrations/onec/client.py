"""HTTP client of the brand's 1C HTTP service: upserts by our GUID, one outbox event per call.

Answers (see `mapping` for the bodies):
- 2xx: done. For an order, the body carries 1C's document number and registration moment.
- timeout, connection error, 5xx (1C answers unexpected failures with 500 and a text body),
  408/425/429: `RetryableError` (with Retry-After, if given). The outcome may be unknown; the
  same event id lets 1C drop the repeat.
- 400/409/422 with `{"error": {"code", "message"}}`: `RejectedError`, a dead letter.
- 401/403: `RejectedError` too. Wrong credentials or missing rights of the 1C user are a
  configuration problem: retrying every event until the limit would only hide it, so each one
  is parked at once (replayable after the fix) and the dead letters make the problem visible.
- any other status (404: wrong base URL or service not published): `RejectedError`.
- 2xx with an order answer we cannot read: `RejectedError` (status 200, body kept).
"""

from __future__ import annotations

import json
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from app.domain.consents import ConsentRecord, ErasureRecord
from app.domain.outbound import CustomerRecord, OrderRecord, OrderStatusRecord, PaymentRecord
from app.integrations.http import rejected, retryable_answer, send
from app.integrations.onec import identity
from app.integrations.onec.mapping import (
    OrderRegistration,
    customer_payload,
    order_payload,
    order_status_payload,
    parse_order_registration,
    payment_payload,
)

JSON_UTF8 = "application/json; charset=utf-8"


class OneCClient:
    """Send customers, orders, order statuses and payments to 1C."""

    def __init__(self, base_url: str, username: str, password: str, timeout: float = 10.0) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url,
            auth=httpx.BasicAuth(username, password),
            timeout=timeout,
            headers={"Accept": "application/json"},
        )

    async def put_customer(self, record: CustomerRecord, event_id: str) -> None:
        """Create or update the Контрагент with our customer GUID."""
        await self._put(f"customers/{_seg(record.guid)}", customer_payload(record), event_id)

    async def put_order(self, record: OrderRecord, event_id: str) -> OrderRegistration:
        """Create or update the ЗаказКлиента with our order GUID; return 1C's registration."""
        response = await self._put(f"orders/{_seg(record.guid)}", order_payload(record), event_id)
        try:
            return parse_order_registration(response.json())
        except ValueError as exc:  # includes a body that is not JSON
            raise rejected(response, f"unreadable order answer: {exc}") from exc

    async def put_order_status(self, record: OrderStatusRecord, event_id: str) -> None:
        """Tell 1C the order's new status."""
        path = f"orders/{_seg(record.order_guid)}/status"
        await self._put(path, order_status_payload(record), event_id)

    async def put_payment(self, record: PaymentRecord, event_id: str) -> None:
        """Create or update a payment of an order."""
        path = f"orders/{_seg(record.order_guid)}/payments/{_seg(record.guid)}"
        await self._put(path, payment_payload(record), event_id)

    async def put_consents(self, record: ConsentRecord, event_id: str) -> None:
        """A person's consents now (nothing to say when 1C knows nothing of them)."""
        if (key := identity.customer_key(record.ids)) is not None:
            payload = identity.consent_payload(record)
            await self._put(f"customers/{_seg(key)}/consents", payload, event_id)

    async def put_erasure(self, record: ErasureRecord, event_id: str) -> None:
        """A person asked to be forgotten: 1C anonymises its counterparties of them."""
        if (key := identity.customer_key(record.ids)) is not None:
            payload = identity.erasure_payload(record)
            await self._put(f"customers/{_seg(key)}/erasure", payload, event_id)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def __aenter__(self) -> OneCClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _put(self, path: str, payload: dict[str, Any], event_id: str) -> httpx.Response:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": JSON_UTF8, "X-Event-Id": event_id}
        request = self._http.build_request("PUT", path, content=body, headers=headers)
        response = await send(self._http, request)
        if response.is_success:
            return response
        if (retry := retryable_answer(response)) is not None:
            raise retry
        raise rejected(response, _reason(response))


def _seg(value: str) -> str:
    return quote(value, safe="")


def _reason(response: httpx.Response) -> str:
    if response.status_code in (401, 403):
        return "1C refused the credentials or rights of our 1C user (configuration)"
    try:
        error = response.json()["error"]
        return f"{error['code']}: {error['message']}"
    except (ValueError, KeyError, TypeError):
        return ""
