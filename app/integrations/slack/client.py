"""Slack Web API calls for shop confirmations, through slack-sdk's AsyncWebClient.

Retry semantics (decided here, for the outbox that will call this):
- A 429 whose Retry-After is at most `inline_retry_after` seconds (default 1, what the
  1 message/s per channel limit asks for) is retried once inside the call by slack-sdk's
  `AsyncRateLimitErrorRetryHandler`: a brief burst costs a second, not an outbox round.
  A longer Retry-After, or a second 429, is `RetryableError(retry_after=...)`: the outbox
  waits instead of a worker sleeping.
- Other HTTP 5xx/408/425, a timeout, a connection failure, and Slack's own "try later"
  errors (`ratelimited`, `internal_error`, `fatal_error`, `service_unavailable`,
  `request_timeout`) are `RetryableError`. slack-sdk's default connection-error retry is left
  off: `chat.postMessage` is not idempotent, so a lost answer must not post twice inside one
  call; the outbox decides.
- Every other `{"ok": false, "error": ...}` (`channel_not_found`, `not_in_channel`,
  `invalid_auth`, `not_authed`, `message_not_found`, `cant_update_message`,
  `edit_window_closed`, `invalid_blocks`, ...) and any other 4xx is `RejectedError`, a dead
  letter: its `body` is Slack's JSON answer, its message starts with the error code.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from app.integrations.errors import RejectedError, RetryableError

DEFAULT_BASE_URL = "https://slack.com/api/"
RETRY_LATER_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
RETRY_LATER_STATUSES = frozenset({408, 425, 429})


@dataclass(frozen=True)
class PostedMessage:
    channel: str  # Slack's channel id (a message posted by name comes back with the id)
    ts: str  # the message's id within the channel


class ShortRateLimitRetry(AsyncRateLimitErrorRetryHandler):
    """slack-sdk's 429 handler, only when Slack asks for a pause of at most `max_wait` s."""

    def __init__(self, max_wait: float, max_retry_count: int = 1) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.max_wait = max_wait

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is None or response.status_code != 429:
            return False
        wait = _retry_after(response.headers)
        return wait is not None and wait <= self.max_wait


class SlackClient:
    """Post, update and answer one user, with typed failures (see the module docstring)."""

    def __init__(
        self,
        token: str,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 10.0,
        connect_timeout: float = 3.0,
        inline_retry_after: float = 1.0,
    ) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout, connect=connect_timeout)
        handlers: list[AsyncRetryHandler] = []
        if inline_retry_after > 0:
            handlers.append(ShortRateLimitRetry(inline_retry_after))
        self._web = AsyncWebClient(
            token=token,
            base_url=base_url if base_url.endswith("/") else base_url + "/",
            timeout=math.ceil(timeout),
            retry_handlers=handlers,
        )
        self._session: aiohttp.ClientSession | None = None

    async def post_message(
        self,
        channel: str,
        text: str,
        blocks: Sequence[dict[str, Any]],
        thread_ts: str | None = None,
    ) -> PostedMessage:
        """`chat.postMessage` (a reply in a thread with `thread_ts`): where it went and its ts."""
        fields: dict[str, Any] = {"channel": channel, "text": text, "blocks": list(blocks)}
        if thread_ts is not None:
            fields["thread_ts"] = thread_ts
        answer = await self._call("chat.postMessage", **fields)
        ts, channel_id = answer.get("ts"), answer.get("channel", channel)
        if not isinstance(ts, str) or not isinstance(channel_id, str):
            raise RejectedError("chat.postMessage answered without a ts", 200, json.dumps(answer))
        return PostedMessage(channel=channel_id, ts=ts)

    async def update_message(
        self, channel: str, ts: str, text: str, blocks: Sequence[dict[str, Any]]
    ) -> None:
        """`chat.update` of a message this bot posted."""
        await self._call("chat.update", channel=channel, ts=ts, text=text, blocks=blocks)

    async def post_ephemeral(self, channel: str, user: str, text: str) -> None:
        """`chat.postEphemeral`: a note only `user` sees (e.g. "already handled")."""
        await self._call("chat.postEphemeral", channel=channel, user=user, text=text)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> SlackClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _call(self, method: str, **fields: Any) -> dict[str, Any]:
        if self._session is None or self._session.closed:
            # Created inside the running loop; kept for keep-alive and closed by close().
            self._session = aiohttp.ClientSession(timeout=self._timeout)
            self._web.session = self._session
        try:
            response = await self._web.api_call(method, json=fields)
        except SlackApiError as exc:
            raise _failure(method, exc.response) from exc
        except TimeoutError as exc:  # asyncio's and aiohttp's timeouts are TimeoutError
            raise RetryableError(f"timed out: {method}") from exc
        except aiohttp.ClientError as exc:
            raise RetryableError(f"{type(exc).__name__}: {method}") from exc
        data = response.data
        return data if isinstance(data, dict) else {}


def _failure(method: str, response: AsyncSlackResponse) -> RetryableError | RejectedError:
    status = response.status_code
    data = response.data
    error = data.get("error") if isinstance(data, dict) else None
    body = json.dumps(data, ensure_ascii=False) if isinstance(data, dict) else str(data or "")
    message = f"{error or f'HTTP {status}'} from {method} (HTTP {status}): {body[:300]}"
    if status >= 500 or status in RETRY_LATER_STATUSES or error in RETRY_LATER_ERRORS:
        return RetryableError(message, _retry_after(response.headers))
    return RejectedError(message, status, body)


def _retry_after(headers: Any) -> float | None:
    """Seconds from a Retry-After header (slack-sdk hands headers as strings or lists)."""
    value: Any = None
    for name in headers or {}:
        if str(name).lower() == "retry-after":
            value = headers[name]
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except (TypeError, ValueError):
        return None
