"""Slack interactivity over Socket Mode, for a brand without a public Request URL.

Built on slack-sdk's async Socket Mode client (aiohttp): `start()` asks `apps.connections.open`
for a websocket URL with the app-level (`xapp-...`) token, connects, and returns once Slack's
`hello` arrived. Every envelope is acknowledged (`{"envelope_id": ...}`) before anything else,
whatever happens next, so Slack's 3 s limit never depends on our work; each `interactive`
envelope's payload (the `block_actions` document the HTTP endpoint gets as `payload=`) then
goes to the handler. A handler that raises is logged and swallowed: the click was taken, and a
failure must not close the socket. Reconnecting (`disconnect` envelopes, dropped connections,
failed pings) is slack-sdk's.

A refused app token fails `start()` with `RejectedError` (message starting with Slack's error
code, e.g. `invalid_auth`); Slack's "try later" errors with `RetryableError`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from app.integrations.errors import RejectedError, RetryableError
from app.integrations.slack.client import DEFAULT_BASE_URL, RETRY_LATER_ERRORS

log = structlog.get_logger(__name__)

Handler = Callable[[dict[str, Any]], Awaitable[None]]
HELLO_TIMEOUT = 10.0  # seconds from apps.connections.open to Slack's hello


class SocketModeListener:
    """One Socket Mode connection that hands every click to `handler` (see the module)."""

    def __init__(
        self,
        app_token: str,
        handler: Handler,
        base_url: str = DEFAULT_BASE_URL,
        *,
        ping_interval: float = 5.0,
        hello_timeout: float = HELLO_TIMEOUT,
    ) -> None:
        self._app_token = app_token
        self._handler = handler
        self._base_url = base_url
        self._ping_interval = ping_interval
        self._hello_timeout = hello_timeout
        self._client: SocketModeClient | None = None
        self._hello = asyncio.Event()

    async def start(self) -> None:
        """Connect and return once Slack said hello; RejectedError if the token is refused."""
        if self._client is not None:
            raise RuntimeError("the listener is started already")
        # Built here, not in __init__: slack-sdk's client starts tasks on the running loop.
        client = SocketModeClient(
            self._app_token,
            web_client=AsyncWebClient(base_url=self._base_url),
            ping_interval=self._ping_interval,
        )
        client.message_listeners.append(self._on_message)
        client.socket_mode_request_listeners.append(self._on_request)
        self._client = client
        try:
            await self._connect(client)
        except BaseException:
            await self.close()
            raise
        log.info("slack.socket_mode.connected")

    async def close(self) -> None:
        """Close the connection and stop reconnecting."""
        client, self._client = self._client, None
        self._hello.clear()
        if client is not None:
            await client.close()  # type: ignore[no-untyped-call]  # slack-sdk leaves it bare

    async def _connect(self, client: SocketModeClient) -> None:
        # The URL is asked for here rather than in connect(), which retries every failure
        # forever: a wrong token must fail start(), not loop.
        try:
            client.wss_uri = await client.issue_new_wss_url()
        except SlackApiError as exc:
            raise _refusal(exc) from None
        await client.connect()  # type: ignore[no-untyped-call]  # slack-sdk leaves it bare
        try:
            await asyncio.wait_for(self._hello.wait(), self._hello_timeout)
        except TimeoutError:
            raise RetryableError(
                f"no hello from Slack within {self._hello_timeout:g} s of connecting"
            ) from None

    async def _on_message(
        self, client: AsyncBaseSocketModeClient, message: dict[str, Any], raw: str | None
    ) -> None:
        if message.get("type") == "hello":
            self._hello.set()

    async def _on_request(
        self, client: AsyncBaseSocketModeClient, request: SocketModeRequest
    ) -> None:
        envelope_id = request.envelope_id
        try:
            await client.send_socket_mode_response(SocketModeResponse(envelope_id=envelope_id))
        except Exception:  # still handle it: Slack has delivered the click all the same
            log.warning("slack.socket_mode.ack_failed", envelope_id=envelope_id, exc_info=True)
        if request.type != "interactive":
            log.info("slack.socket_mode.ignored", envelope_id=envelope_id, type=request.type)
            return
        try:
            await self._handler(request.payload)
        except Exception:
            log.exception("slack.socket_mode.handler_failed", envelope_id=envelope_id)


def _refusal(exc: SlackApiError) -> RejectedError | RetryableError:
    data = exc.response.data if isinstance(exc.response.data, dict) else {}
    code = str(data.get("error", f"http_{exc.response.status_code}"))
    message = f"{code}: apps.connections.open refused the app-level token"
    if code in RETRY_LATER_ERRORS or exc.response.status_code >= 500:
        return RetryableError(message)
    return RejectedError(message, exc.response.status_code, json.dumps(data))
