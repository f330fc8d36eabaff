"""A person presses a button: the `block_actions` payload Slack builds, signed and delivered."""

from __future__ import annotations

import json
import uuid
from urllib.parse import urlencode

import httpx

from app.devtools.simulators.slack.socket import SlackSocket
from app.devtools.simulators.slack.state import (
    APP_ID,
    FORM,
    TEAM_ID,
    Click,
    Json,
    Message,
    shape,
)
from app.integrations.slack.mapping import sign

DEFAULT_USER, DEFAULT_USER_NAME = "U0SHOPSTAFF", "shop.staff"


class SlackClicks(SlackSocket):
    """`click` (an HTTP POST to `interactivity_url`) and `press` (over the socket in Socket
    Mode, else `click`'s POST)."""

    async def click(
        self,
        channel: str,
        ts: str,
        action_id: str,
        *,
        user: str = DEFAULT_USER,
        user_name: str = DEFAULT_USER_NAME,
        block_id: str | None = None,
        value: str | None = None,
    ) -> httpx.Response:
        """Press the button `action_id` of a message (narrowed by `block_id` or `value` when
        several blocks have it) and POST the signed `block_actions` payload; Slack's request."""
        if self.socket_mode:
            raise RuntimeError("the simulator is in Socket Mode: use press()")
        url = self._http_target()
        payload = self.payload_for(channel, ts, action_id, user, user_name, block_id, value)
        _, response = await self._post(url, payload)
        return response

    async def press(
        self,
        channel: str,
        ts: str,
        action_id: str,
        *,
        user: str = DEFAULT_USER,
        user_name: str = DEFAULT_USER_NAME,
        block_id: str | None = None,
        value: str | None = None,
    ) -> Click:
        """Press a button as `click` does, delivered the way the app listens; what happened."""
        payload = self.payload_for(channel, ts, action_id, user, user_name, block_id, value)
        if self.socket_mode:
            return await self.send_envelope(payload)
        record, _ = await self._post(self._http_target(), payload)
        return record

    def payload_for(
        self,
        channel: str,
        ts: str,
        action_id: str,
        user: str,
        user_name: str,
        block_id: str | None,
        value: str | None,
    ) -> Json:
        """The `block_actions` payload for pressing a button of the message `ts`."""
        message = self.message(channel, ts)
        block, button = _find_button(message.blocks, action_id, block_id, value)
        return self.block_actions(message, block, button, user, user_name)

    def _http_target(self) -> str:
        if self.interactivity_url is None:
            raise RuntimeError("interactivity_url is not set")
        return self.interactivity_url

    async def _post(self, url: str, payload: Json) -> tuple[Click, httpx.Response]:
        body = urlencode({"payload": json.dumps(payload, ensure_ascii=False)}).encode()
        timestamp = int(self.clock())
        headers = {
            "Content-Type": FORM,
            "X-Slack-Request-Timestamp": str(timestamp),
            "X-Slack-Signature": sign(self.signing_secret, timestamp, body),
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
        }
        record = Click(url, headers, body, payload)
        self.clicks.append(record)
        if self._sender is None:
            self._sender = httpx.AsyncClient(timeout=self.ack_timeout)  # Slack gives up then
        response = await self._sender.post(url, content=body, headers=headers)
        record.status = response.status_code
        return record, response

    def block_actions(
        self, message: Message, block: Json, button: Json, user: str, user_name: str
    ) -> Json:
        """The payload Slack sends for one button press."""
        channel = self.channels[message.channel]
        base = self.public_url or "https://hooks.slack.com"
        action: Json = {
            "type": "button",
            "action_id": button["action_id"],
            "block_id": block["block_id"],
            "text": button["text"],
            "value": button.get("value", ""),
            "action_ts": self._next_ts(),
        }
        action |= {"style": button["style"]} if "style" in button else {}
        thread = {"thread_ts": message.thread_ts} if message.thread_ts else {}
        return {
            "type": "block_actions",
            "user": {"id": user, "username": user_name, "name": user_name, "team_id": TEAM_ID},
            "api_app_id": APP_ID,
            "token": "deprecated-verification-token",
            "container": {
                "type": "message",
                "message_ts": message.ts,
                "channel_id": channel.id,
                "is_ephemeral": False,
            }
            | thread,
            "trigger_id": f"{int(self.clock())}.{uuid.uuid4().hex[:12]}",
            "team": {"id": TEAM_ID, "domain": "vitrina-sim"},
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": channel.id, "name": channel.name},
            "message": shape(message),
            "state": {"values": {}},
            "response_url": f"{base}/response/{channel.id}/{message.ts}",
            "actions": [action],
        }

    async def aclose(self) -> None:
        """Close the HTTP client that posts clicks."""
        if self._sender is not None:
            await self._sender.aclose()
            self._sender = None


def _find_button(
    blocks: list[Json], action_id: str, block_id: str | None, value: str | None
) -> tuple[Json, Json]:
    found = [
        (block, element)
        for block in blocks
        if block.get("type") == "actions"
        for element in block.get("elements", [])
        if element.get("action_id") == action_id
        and (block_id is None or block.get("block_id") == block_id)
        and (value is None or element.get("value") == value)
    ]
    if not found:
        raise LookupError(f"no button {action_id!r} in the message")
    if len(found) > 1:
        raise LookupError(f"{len(found)} buttons {action_id!r}: give block_id or value")
    return found[0]
