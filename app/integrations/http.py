"""HTTP plumbing shared by the clients: transport failures and busy answers as typed errors."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from app.integrations.errors import RejectedError, RetryableError

# Statuses that say "not now" rather than "no": the same message may succeed later.
RETRY_LATER_STATUSES = frozenset({408, 425, 429})
SNIPPET = 300  # characters of a response body quoted in an error message


# A pooled keep-alive connection the server closed (it restarted, or dropped idle ones) fails
# before a byte of answer arrives; every request we send is idempotent (event ids, externalIds,
# Idempotence-Keys), so one immediate retry on a fresh connection is safe.
STALE_CONNECTION = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)


async def send(client: httpx.AsyncClient, request: httpx.Request) -> httpx.Response:
    """Send one request; a timeout or a network failure becomes RetryableError."""
    try:
        try:
            return await client.send(request)
        except STALE_CONNECTION:
            return await client.send(request)
    except httpx.TimeoutException as exc:
        raise RetryableError(f"timed out: {request.method} {request.url}") from exc
    except httpx.RequestError as exc:
        raise RetryableError(f"{type(exc).__name__}: {request.method} {request.url}") from exc


def retryable_answer(response: httpx.Response) -> RetryableError | None:
    """The RetryableError a 5xx or rate-limit answer stands for, or None for any other."""
    status = response.status_code
    if status < 500 and status not in RETRY_LATER_STATUSES:
        return None
    return RetryableError(describe(response), retry_after(response))


def rejected(response: httpx.Response, reason: str = "") -> RejectedError:
    """A RejectedError keeping the whole answer for the dead letter."""
    message = f"{describe(response)}: {reason}" if reason else describe(response)
    return RejectedError(message, response.status_code, response.text)


def describe(response: httpx.Response) -> str:
    request = response.request
    body = " ".join(response.text.split())[:SNIPPET]
    return f"HTTP {response.status_code} from {request.method} {request.url.path}: {body}"


def retry_after(response: httpx.Response, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), if there is one."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


class RateLimiter:
    """Let calls through at most `max_rps` per second, spaced evenly, first come first served.

    Each call waits until 1/max_rps seconds after the previous one actually went out, so no
    window of one second ever sees more than `max_rps` calls leave this process.
    """

    def __init__(
        self,
        max_rps: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if max_rps <= 0:
            raise ValueError("max_rps must be positive")
        self._interval = 1.0 / max_rps
        self._clock = clock
        self._sleep = sleep
        self._lock = asyncio.Lock()
        self._next_at = float("-inf")

    async def acquire(self) -> None:
        """Wait for this call's turn."""
        async with self._lock:
            delay = self._next_at - self._clock()
            if delay > 0:
                await self._sleep(delay)
            self._next_at = self._clock() + self._interval
