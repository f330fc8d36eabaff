"""YooKassa API v3 over HTTP: Basic auth, Idempotence-Key on every POST, typed failures."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from app.integrations.errors import RetryableError
from app.integrations.http import describe, rejected, retryable_answer, send
from app.integrations.payments.yookassa.mapping import (
    InvalidPaymentRequest,
    InvalidYooKassaObject,
    Receipt,
    YooPayment,
    YooRefund,
    capture_request,
    check_idempotence_key,
    is_object_id,
    parse_payment,
    parse_refund,
    payment_request,
    refund_request,
)

DEFAULT_TIMEOUT = 30.0  # seconds; YooKassa may take several to create a payment
_Parsed = TypeVar("_Parsed")


class YooKassaClient:
    """Create, read, capture, cancel and refund YooKassa payments.

    Errors: RejectedError for 4xx (the answer kept in `body`); RetryableError for timeouts,
    network failures, 429, 5xx, 202 and a 200 we cannot read (outcome unknown): retry with the
    SAME Idempotence-Key. InvalidPaymentRequest, before any request, for an id that is not in
    YooKassa's format.
    """

    def __init__(
        self, base_url: str, shop_id: str, secret_key: str, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url,
            auth=httpx.BasicAuth(shop_id, secret_key),
            timeout=timeout,
            headers={"Accept": "application/json"},
        )

    async def create_payment(
        self,
        *,
        amount_kopecks: int,
        return_url: str,
        description: str,
        metadata: Mapping[str, str],
        idempotence_key: str,
        capture: bool = True,
        receipt: Receipt | None = None,
    ) -> YooPayment:
        """Create a redirect payment; the payer goes to its `confirmation_url`."""
        body = payment_request(
            amount_kopecks=amount_kopecks,
            return_url=return_url,
            description=description,
            metadata=metadata,
            capture=capture,
            receipt=receipt,
        )
        return _read(parse_payment, await self._post("payments", body, idempotence_key))

    async def get_payment(self, payment_id: str) -> YooPayment:
        """Read a payment as YooKassa sees it now (the way to trust a notification)."""
        return _read(parse_payment, await self._call("GET", _payment_path(payment_id)))

    async def capture_payment(
        self,
        payment_id: str,
        *,
        idempotence_key: str,
        amount_kopecks: int | None = None,
        receipt: Receipt | None = None,
    ) -> YooPayment:
        """Capture a `waiting_for_capture` payment, wholly or (with an amount and, when the shop
        sends receipts, a receipt for that amount) in part."""
        path = f"{_payment_path(payment_id)}/capture"
        body = capture_request(amount_kopecks, receipt)
        return _read(parse_payment, await self._post(path, body, idempotence_key))

    async def cancel_payment(self, payment_id: str, *, idempotence_key: str) -> YooPayment:
        """Release the money of a `waiting_for_capture` payment."""
        path = f"{_payment_path(payment_id)}/cancel"
        return _read(parse_payment, await self._post(path, {}, idempotence_key))

    async def create_refund(
        self,
        payment_id: str,
        *,
        amount_kopecks: int,
        idempotence_key: str,
        description: str | None = None,
        receipt: Receipt | None = None,
    ) -> YooRefund:
        """Refund all or part of a `succeeded` payment."""
        body = refund_request(
            payment_id=payment_id,
            amount_kopecks=amount_kopecks,
            description=description,
            receipt=receipt,
        )
        return _read(parse_refund, await self._post("refunds", body, idempotence_key))

    async def get_refund(self, refund_id: str) -> YooRefund:
        """Read a refund as YooKassa sees it now."""
        return _read(parse_refund, await self._call("GET", f"refunds/{_segment(refund_id)}"))

    async def create_receipt(self, body: dict[str, Any], *, idempotence_key: str) -> dict[str, Any]:
        """Register a receipt (`POST receipts`, e.g. the closing receipt of a prepayment)."""
        return await self._post("receipts", body, idempotence_key)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def __aenter__(self) -> YooKassaClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def _post(self, path: str, body: dict[str, Any], idempotence_key: str) -> dict[str, Any]:
        headers = {"Idempotence-Key": check_idempotence_key(idempotence_key)}
        return await self._call("POST", path, json=body, headers=headers)

    async def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        request = self._http.build_request(method, path, **kwargs)
        return _answer(await send(self._http, request))


def _payment_path(payment_id: str) -> str:
    return f"payments/{_segment(payment_id)}"


def _segment(object_id: str) -> str:
    """A YooKassa id as one path segment. Quoted even though checked: `quote` leaves dots
    alone, and a bare `.` or `..` segment would be resolved away by httpx."""
    if not is_object_id(object_id):
        raise InvalidPaymentRequest(f"not a YooKassa id: {object_id[:64]!r}")
    return quote(object_id, safe="").replace(".", "%2E")


def _read(parse: Callable[[Mapping[str, Any]], _Parsed], data: Mapping[str, Any]) -> _Parsed:
    """A 200 whose object we cannot read is as good as no answer: whether YooKassa acted is
    unknown, so it is retried like a 5xx (with the same Idempotence-Key)."""
    try:
        return parse(data)
    except InvalidYooKassaObject as error:
        raise RetryableError(f"unreadable answer from YooKassa: {error}") from error


def _answer(response: httpx.Response) -> dict[str, Any]:
    """The JSON object of a 200; any other answer as the typed error it stands for."""
    if response.status_code == 202:
        raise RetryableError(describe(response), _processing_delay(response))
    if (retry := retryable_answer(response)) is not None:
        raise retry
    if response.status_code != 200:
        raise rejected(response, _error_code(response))
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):  # a 200 we cannot read: whether it acted is unknown
        raise RetryableError(describe(response))
    return data


def _processing_delay(response: httpx.Response) -> float | None:
    """A 202 carries `retry_after` in milliseconds."""
    try:
        milliseconds = response.json().get("retry_after")
    except (ValueError, AttributeError):
        return None
    valid = isinstance(milliseconds, int | float) and not isinstance(milliseconds, bool)
    return milliseconds / 1000 if valid else None


def _error_code(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("code", "")) if isinstance(body, dict) else ""
