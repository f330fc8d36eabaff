"""The Web API methods (`POST /api/{method}`): auth, bodies, Block Kit checks, rate limits."""

from __future__ import annotations

import json
import math
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from app.devtools.simulators.base import Refusal
from app.devtools.simulators.slack.socket import SlackSocket
from app.devtools.simulators.slack.state import (
    FORM,
    Channel,
    Ephemeral,
    Json,
    Message,
    shape,
)

MAX_BLOCKS = 50
MAX_TEXT = 40000


APP_LEVEL_METHODS = frozenset({"apps.connections.open"})  # these want the xapp- token


class SlackApi(SlackSocket):
    """chat.postMessage, chat.update, chat.postEphemeral, apps.connections.open, and the
    response_url."""

    def routes(self) -> list[BaseRoute]:
        return [
            *super().routes(),
            self.route("/api/{method}", self._api, methods=["POST"]),
            Route("/response/{channel}/{ts}", self._response_url, methods=["POST"]),
        ]

    def unavailable(self) -> Response:
        return Response(
            "<html><body>Service Unavailable</body></html>", 503, media_type="text/html"
        )

    def too_many_requests(self, retry_after: float) -> Response:
        answer = JSONResponse({"ok": False, "error": "ratelimited"}, status_code=429)
        answer.headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
        return answer

    def server_error(self) -> Response:
        return JSONResponse({"ok": False, "error": "internal_error"}, status_code=500)

    async def admit(self, request: Request) -> Response | None:
        if self.clock() < self._down_until:
            return self.unavailable()
        try:
            fields = await _fields(request)
        except Refusal as refusal:
            return refusal.response
        request.state.fields = fields
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            given = fields.get("token", "") if _content_type(request) == FORM else ""
        return self._authorize(request.path_params.get("method", ""), given)

    def _authorize(self, method: str, given: Any) -> Response | None:
        wanted, other = self.token, self.app_token
        if method in APP_LEVEL_METHODS:
            wanted, other = other, wanted
        if not given:
            return error("not_authed")
        if given == other:
            return error("not_allowed_token_type")
        if not isinstance(given, str) or given != wanted:
            return error("invalid_auth")
        return None

    async def _api(self, request: Request) -> Response:
        fields: Json = request.state.fields
        method = request.path_params["method"]
        if method == "apps.connections.open":
            return JSONResponse({"ok": True, "url": self.socket_url(request)})
        operation = {
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "chat.postEphemeral": self._post_ephemeral,
        }.get(method)
        if operation is None:
            return error("unknown_method")
        return JSONResponse({"ok": True} | operation(fields))

    def _post_message(self, fields: Json) -> Json:
        channel = self._joined(fields)
        text, blocks = _content(fields)
        thread_ts = self._thread(channel, fields.get("thread_ts"))
        wait = self._spend(channel.id)
        if wait:
            raise Refusal(self.too_many_requests(wait))
        message = Message(channel.id, self._next_ts(), text, blocks, thread_ts=thread_ts)
        self.messages[channel.id].append(message)
        return {"channel": channel.id, "ts": message.ts, "message": shape(message)}

    def _thread(self, channel: Channel, thread_ts: Any) -> str | None:
        """The parent's ts for a reply (a reply to a reply joins the same thread), or None."""
        if thread_ts is None or thread_ts == "":
            return None
        try:
            parent = self.message(channel.id, str(thread_ts))
        except LookupError:
            raise Refusal(error("thread_not_found")) from None
        return parent.thread_ts or parent.ts

    def _update(self, fields: Json) -> Json:
        channel = self._joined(fields)
        text, blocks = _content(fields)
        try:
            message = self.message(channel.id, str(fields.get("ts", "")))
        except LookupError:
            raise Refusal(error("message_not_found")) from None
        message.updates.append({"text": text, "blocks": blocks})
        message.text, message.blocks = text, blocks
        return {"channel": channel.id, "ts": message.ts, "text": text, "message": shape(message)}

    def _post_ephemeral(self, fields: Json) -> Json:
        channel = self._joined(fields)
        text, blocks = _content(fields)
        user = fields.get("user")
        if not isinstance(user, str) or not user:
            raise Refusal(error("user_not_found"))
        ephemeral = Ephemeral(channel.id, user, text, blocks, self._next_ts())
        self.ephemerals.append(ephemeral)
        return {"message_ts": ephemeral.message_ts}

    def _joined(self, fields: Json) -> Channel:
        try:
            channel = self._channel(str(fields.get("channel", "")))
        except LookupError:
            raise Refusal(error("channel_not_found")) from None
        if not channel.member:
            raise Refusal(error("not_in_channel"))
        return channel

    def _spend(self, channel_id: str) -> float:
        """Take one message from the channel's allowance: 0, or the seconds until one is free."""
        now = self.clock()
        tokens, at = self._allowance.get(channel_id, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.per_second)
        if tokens < 1.0:
            self._allowance[channel_id] = (tokens, now)
            return (1.0 - tokens) / self.per_second
        self._allowance[channel_id] = (tokens - 1.0, now)
        return 0.0

    async def _response_url(self, request: Request) -> Response:
        try:
            body = json.loads(await request.body())
        except ValueError:
            return JSONResponse({"ok": False, "error": "invalid_payload"}, status_code=400)
        self.responses.append(body)
        return JSONResponse({"ok": True})


# --- requests ---------------------------------------------------------------------------------


def error(code: str) -> JSONResponse:
    """Slack's refusal: HTTP 200 with `{"ok": false, "error": code}`."""
    return JSONResponse({"ok": False, "error": code})


def _content_type(request: Request) -> str:
    return request.headers.get("Content-Type", "").split(";")[0].strip().lower()


async def _fields(request: Request) -> Json:
    raw = await request.body()
    kind = _content_type(request)
    try:
        if kind == "application/json":
            fields = json.loads(raw or b"{}")
            if not isinstance(fields, dict):
                raise Refusal(error("invalid_json"))
            return fields
        if kind == FORM or not raw:
            form: Json = {k: v[-1] for k, v in parse_qs(raw.decode("utf-8")).items()}
            for key in ("blocks", "attachments"):
                if key in form:
                    form[key] = json.loads(form[key])
            return form
    except (ValueError, UnicodeDecodeError):
        raise Refusal(error("invalid_json" if kind != FORM else "invalid_blocks")) from None
    raise Refusal(error("invalid_form_data"))


def _content(fields: Json) -> tuple[str, list[Json]]:
    text = fields.get("text") or ""
    blocks = fields.get("blocks") or []
    if not isinstance(text, str) or len(text) > MAX_TEXT:
        raise Refusal(error("msg_too_long" if isinstance(text, str) else "invalid_arguments"))
    if not text and not blocks:
        raise Refusal(error("no_text"))
    if not _valid_blocks(blocks):
        raise Refusal(error("invalid_blocks"))
    return text, blocks


def _valid_blocks(blocks: Any) -> bool:
    """Slack's checks that catch real mistakes: shape, 50 blocks, unique ids, button limits."""
    if not isinstance(blocks, list) or len(blocks) > MAX_BLOCKS:
        return False
    block_ids: set[str] = set()
    for block in blocks:
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            return False
        block_id = block.get("block_id")
        if block_id is not None:
            if not isinstance(block_id, str) or len(block_id) > 255 or block_id in block_ids:
                return False
            block_ids.add(block_id)
        if block["type"] == "section":
            text = block.get("text", {})
            if not isinstance(text, dict) or len(str(text.get("text", ""))) > 3000:
                return False
        if block["type"] == "actions":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 0 < len(elements) <= 25:
                return False
            action_ids = [e.get("action_id") for e in elements if isinstance(e, dict)]
            if len(action_ids) != len(elements) or len(set(action_ids)) != len(action_ids):
                return False
            if not all(_valid_button(e) for e in elements if e.get("type") == "button"):
                return False
    return True


def _valid_button(button: Json) -> bool:
    text = button.get("text")
    return (
        isinstance(text, dict)
        and text.get("type") == "plain_text"
        and 0 < len(str(text.get("text", ""))) <= 75
        and len(str(button.get("value", ""))) <= 2000
        and button.get("style") in (None, "primary", "danger")
    )
