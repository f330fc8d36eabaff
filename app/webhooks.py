"""HTTP endpoints other systems call: payment notifications (`/integrations/payments/...`).

Thin: check where the call comes from, parse it, hand it to a service, answer with a status
the sender understands (YooKassa retries anything but 200 for 24 hours). Bodies over
MAX_WEBHOOK_BODY_BYTES are refused with 413 before they reach the endpoint (app/limits.py).
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable
from datetime import datetime

import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.integrations.errors import RejectedError, RetryableError
from app.integrations.payments.registry import PaymentProviders
from app.integrations.payments.yookassa.mapping import (
    InvalidNotification,
    NotificationEvent,
    parse_notification,
)
from app.services.jobs import JobQueue
from app.services.payments.apply import PaymentMismatch, UnknownPayment
from app.services.payments.watch import on_payment_event, on_refund_event

log = structlog.get_logger(__name__)


def yookassa_notifications(
    providers: PaymentProviders,
    jobs: JobQueue,
    clock: Callable[[], datetime],
    allowed_networks: list[str],
) -> Callable[[Request], object]:
    """The endpoint YooKassa posts notifications to."""
    networks = [ipaddress.ip_network(n, strict=False) for n in allowed_networks]

    async def endpoint(request: Request) -> Response:
        if networks and not _from(request, networks):
            log.warning("yookassa.notification_refused", ip=_ip(request))
            return _answer(403, "not from YooKassa's addresses")
        provider = providers.get("yookassa")
        if provider is None:
            return _answer(503, "YooKassa is not configured")
        try:
            notification = parse_notification(_json(await request.body()))
        except InvalidNotification as error:  # its details are logged, never echoed
            log.warning("yookassa.notification_malformed", reason=str(error)[:200])
            return _answer(400, "not a YooKassa notification")
        now = clock()
        try:
            if notification.event is NotificationEvent.REFUND_SUCCEEDED:
                await on_refund_event(
                    provider=provider,
                    provider_refund_id=notification.object_id,
                    now=now,
                    jobs=jobs,
                )
            else:
                await on_payment_event(
                    provider=provider,
                    provider_payment_id=notification.object_id,
                    now=now,
                    jobs=jobs,
                )
        except UnknownPayment as error:
            log.warning("yookassa.notification_unknown", error=str(error))
            return _answer(404, "not one of our payments")
        except PaymentMismatch:  # logged as payment.mismatch
            return _answer(422, "not the payment we asked for")
        except (RetryableError, RejectedError) as error:
            # YooKassa did not answer, refused to show the object (unknown to it, or our
            # credentials) or answered what we cannot read: never echoed, and a 503 makes
            # YooKassa send the notification again (a forger's is refused the same way).
            log.warning("yookassa.notification_retry", error=str(error)[:500])
            return _answer(503, "YooKassa did not confirm it; send it again")
        return JSONResponse({"status": "ok"})

    return endpoint


def _json(body: bytes) -> object:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested past the stack
        return None


def _ip(request: Request) -> str:
    return request.client.host if request.client else ""


def _from(request: Request, networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    try:
        address = ipaddress.ip_address(_ip(request))
    except ValueError:
        return False
    return any(address in network for network in networks)


def _answer(status: int, message: str) -> Response:
    return JSONResponse({"error": message}, status_code=status)
