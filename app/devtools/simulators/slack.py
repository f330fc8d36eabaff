"""A local Slack: the Web API methods shop confirmations use, button clicks, and a web page.

API (`POST /api/{method}`, answers HTTP 200 `{"ok": false, "error": ...}` on failure, as Slack):
- auth: `Authorization: Bearer xoxb-...` (or a `token` field of a form body); none →
  `not_authed`, another token → `invalid_auth`.
- bodies: JSON (`application/json`) or a form (`application/x-www-form-urlencoded`, with
  `blocks` as a JSON string); anything else → `invalid_form_data`, bad blocks →
  `invalid_blocks`.
- `chat.postMessage` `{channel, text, blocks}` → `{"ok", "channel", "ts", "message"}`; a
  channel by id or by name; unknown → `channel_not_found`; one the bot has not joined →
  `not_in_channel`; neither text nor blocks → `no_text`. Above 1 message/s per channel (after a
  burst of `burst`) → HTTP 429 `{"ok": false, "error": "ratelimited"}` with `Retry-After`.
- `chat.update` `{channel, ts, text, blocks}` → `{"ok", "channel", "ts", "text", "message"}`;
  unknown ts → `message_not_found`.
- `chat.postEphemeral` `{channel, user, text}` → `{"ok", "message_ts"}`.

Controls: `outage(seconds)` (503 until the simulator's clock passes), and the base's `down()`,
`fail_5xx()`, `rate_limit()`, `slow()`. State: `messages[channel_id]` (current text and blocks,
with `updates` kept), `ephemerals`, `clicks` (what `click` posted and what it got back).

`await click(channel, ts, action_id, user=...)` plays a person pressing a button: it builds the
`block_actions` payload Slack sends, signs it (`v0=` HMAC-SHA256 of `v0:{ts}:{body}` under
`signing_secret`) and POSTs it as `payload=` form to `interactivity_url`.

`GET /` is a page listing each channel's messages (Block Kit sections, images, context) with
working buttons: a form POST to `/click`, which calls `click` as above.
"""

from __future__ import annotations

import html
import json
import math
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from app.devtools.simulators.base import Refusal, Simulator
from app.integrations.slack.mapping import sign

Json = dict[str, Any]
TEAM_ID, APP_ID, BOT_USER, BOT_ID = "T0SIMTEAM", "A0SIMAPP", "U0SIMBOT", "B0SIMBOT"
MAX_BLOCKS = 50
MAX_TEXT = 40000
FORM = "application/x-www-form-urlencoded"


@dataclass
class Channel:
    id: str
    name: str
    member: bool = True  # the bot has joined it


@dataclass
class Message:
    channel: str
    ts: str
    text: str
    blocks: list[Json]
    updates: list[Json] = field(default_factory=list)  # each chat.update body, in order


@dataclass
class Ephemeral:
    channel: str
    user: str
    text: str
    blocks: list[Json]
    message_ts: str


@dataclass
class Click:
    url: str
    headers: dict[str, str]
    body: bytes
    payload: Json
    status: int | None = None  # what the interactivity endpoint answered (None: unreachable)


class SlackSimulator(Simulator):
    def __init__(
        self,
        token: str = "xoxb-simulator-token",
        signing_secret: str = "simulator-signing-secret",
        interactivity_url: str | None = None,
        clock: Callable[[], float] = time.time,
        burst: int = 2,
        per_second: float = 1.0,
    ) -> None:
        super().__init__()
        self.token = token
        self.signing_secret = signing_secret
        self.interactivity_url = interactivity_url
        self.clock = clock
        self.burst = burst
        self.per_second = per_second
        self.public_url: str | None = None  # where the simulator is served, for response_url
        self.channels: dict[str, Channel] = {}
        self.messages: dict[str, list[Message]] = {}
        self.ephemerals: list[Ephemeral] = []
        self.clicks: list[Click] = []
        self.responses: list[Json] = []  # bodies POSTed to a response_url
        self._allowance: dict[str, tuple[float, float]] = {}  # channel -> (tokens, at)
        self._down_until = float("-inf")
        self._last_ts = 0
        self._sender: httpx.AsyncClient | None = None
        self.app = Starlette(
            routes=[
                self.route("/api/{method}", self._api, methods=["POST"]),
                Route("/", self._page, methods=["GET"]),
                Route("/click", self._page_click, methods=["POST"]),
                Route("/response/{channel}/{ts}", self._response_url, methods=["POST"]),
            ]
        )

    # --- controls and state -----------------------------------------------------------------

    def add_channel(self, channel_id: str, name: str, *, member: bool = True) -> Channel:
        channel = Channel(channel_id, name.lstrip("#"), member)
        self.channels[channel_id] = channel
        self.messages.setdefault(channel_id, [])
        return channel

    def outage(self, seconds: float) -> None:
        """Answer every API call 503 for `seconds` of the simulator's clock."""
        self._down_until = self.clock() + seconds

    def message(self, channel: str, ts: str) -> Message:
        for message in self.messages.get(self._channel(channel).id, []):
            if message.ts == ts:
                return message
        raise LookupError(f"no message {ts} in {channel}")

    async def aclose(self) -> None:
        if self._sender is not None:
            await self._sender.aclose()
            self._sender = None

    # --- a person clicks ---------------------------------------------------------------------

    async def click(
        self,
        channel: str,
        ts: str,
        action_id: str,
        *,
        user: str = "U0SHOPSTAFF",
        user_name: str = "shop.staff",
        block_id: str | None = None,
        value: str | None = None,
    ) -> httpx.Response:
        """Press the button `action_id` of a message (narrowed by `block_id` or `value` when
        several blocks have it) and POST the signed `block_actions` payload; Slack's request."""
        if self.interactivity_url is None:
            raise RuntimeError("interactivity_url is not set")
        message = self.message(channel, ts)
        block, button = _find_button(message.blocks, action_id, block_id, value)
        payload = self.block_actions(message, block, button, user, user_name)
        body = urlencode({"payload": json.dumps(payload, ensure_ascii=False)}).encode()
        timestamp = int(self.clock())
        headers = {
            "Content-Type": FORM,
            "X-Slack-Request-Timestamp": str(timestamp),
            "X-Slack-Signature": sign(self.signing_secret, timestamp, body),
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
        }
        record = Click(self.interactivity_url, headers, body, payload)
        self.clicks.append(record)
        if self._sender is None:
            self._sender = httpx.AsyncClient(timeout=3.0)  # Slack gives up after 3 s
        response = await self._sender.post(self.interactivity_url, content=body, headers=headers)
        record.status = response.status_code
        return response

    def block_actions(
        self, message: Message, block: Json, button: Json, user: str, user_name: str
    ) -> Json:
        """The payload Slack sends for one button press."""
        channel = self.channels[message.channel]
        base = self.public_url or "https://hooks.slack.com"
        response_url = f"{base}/response/{channel.id}/{message.ts}"
        action: Json = {
            "type": "button",
            "action_id": button["action_id"],
            "block_id": block["block_id"],
            "text": button["text"],
            "value": button.get("value", ""),
            "action_ts": self._next_ts(),
        }
        action |= {"style": button["style"]} if "style" in button else {}
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
            },
            "trigger_id": f"{int(self.clock())}.{uuid.uuid4().hex[:12]}",
            "team": {"id": TEAM_ID, "domain": "vitrina-sim"},
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": channel.id, "name": channel.name},
            "message": {
                "type": "message",
                "subtype": "bot_message",
                "user": BOT_USER,
                "bot_id": BOT_ID,
                "ts": message.ts,
                "text": message.text,
                "blocks": message.blocks,
            },
            "state": {"values": {}},
            "response_url": response_url,
            "actions": [action],
        }

    # --- the API -----------------------------------------------------------------------------

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
        if not given:
            return _error("not_authed")
        if not isinstance(given, str) or given != self.token:
            return _error("invalid_auth")
        return None

    async def _api(self, request: Request) -> Response:
        fields: Json = request.state.fields
        method = request.path_params["method"]
        operation = {
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "chat.postEphemeral": self._post_ephemeral,
        }.get(method)
        if operation is None:
            return _error("unknown_method")
        return JSONResponse({"ok": True} | operation(fields))

    def _post_message(self, fields: Json) -> Json:
        channel = self._joined(fields)
        text, blocks = _content(fields)
        wait = self._spend(channel.id)
        if wait:
            raise Refusal(self.too_many_requests(wait))
        message = Message(channel.id, self._next_ts(), text, blocks)
        self.messages[channel.id].append(message)
        return {"channel": channel.id, "ts": message.ts, "message": _shape(message)}

    def _update(self, fields: Json) -> Json:
        channel = self._joined(fields)
        text, blocks = _content(fields)
        try:
            message = self.message(channel.id, str(fields.get("ts", "")))
        except LookupError:
            raise Refusal(_error("message_not_found")) from None
        message.updates.append({"text": text, "blocks": blocks})
        message.text, message.blocks = text, blocks
        return {"channel": channel.id, "ts": message.ts, "text": text, "message": _shape(message)}

    def _post_ephemeral(self, fields: Json) -> Json:
        channel = self._joined(fields)
        text, blocks = _content(fields)
        user = fields.get("user")
        if not isinstance(user, str) or not user:
            raise Refusal(_error("user_not_found"))
        ephemeral = Ephemeral(channel.id, user, text, blocks, self._next_ts())
        self.ephemerals.append(ephemeral)
        return {"message_ts": ephemeral.message_ts}

    def _joined(self, fields: Json) -> Channel:
        try:
            channel = self._channel(str(fields.get("channel", "")))
        except LookupError:
            raise Refusal(_error("channel_not_found")) from None
        if not channel.member:
            raise Refusal(_error("not_in_channel"))
        return channel

    def _channel(self, ref: str) -> Channel:
        if ref in self.channels:
            return self.channels[ref]
        for channel in self.channels.values():
            if channel.name == ref.lstrip("#"):
                return channel
        raise LookupError(ref)

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

    def _next_ts(self) -> str:
        micros = max(int(self.clock() * 1_000_000), self._last_ts + 1)
        self._last_ts = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    async def _response_url(self, request: Request) -> Response:
        try:
            body = json.loads(await request.body())
        except ValueError:
            return JSONResponse({"ok": False, "error": "invalid_payload"}, status_code=400)
        self.responses.append(body)
        return JSONResponse({"ok": True})

    # --- the page ----------------------------------------------------------------------------

    async def _page(self, request: Request) -> Response:
        notice = request.query_params.get("notice", "")
        parts = [
            "<!doctype html><html><head><meta charset='utf-8'><title>Slack simulator</title>",
            "<style>body{font-family:sans-serif;max-width:60em;margin:1em auto}"
            ".msg{border:1px solid #ccc;border-radius:6px;padding:.5em 1em;margin:.5em 0}"
            ".ctx{color:#666;font-size:90%}img{max-height:6em;float:right}"
            "form{display:inline}.eph{color:#865}</style></head><body>",
            "<h1>Slack simulator</h1>",
        ]
        if notice:
            parts.append(f"<p class='notice'><b>{html.escape(notice)}</b></p>")
        if self.interactivity_url is None:
            parts.append("<p>No interactivity URL is set: buttons cannot be delivered.</p>")
        for channel in self.channels.values():
            parts.append(f"<h2 id='{html.escape(channel.id)}'>#{html.escape(channel.name)}</h2>")
            messages = self.messages.get(channel.id, [])
            if not messages:
                parts.append("<p>No messages.</p>")
            for message in messages:
                parts.append(_render_message(message))
            for eph in (e for e in self.ephemerals if e.channel == channel.id):
                parts.append(
                    f"<p class='eph'>Only visible to {html.escape(eph.user)}: "
                    f"{_render_text(eph.text)}</p>"
                )
        parts.append("</body></html>")
        return HTMLResponse("".join(parts))

    async def _page_click(self, request: Request) -> Response:
        form = {k: v[-1] for k, v in parse_qs((await request.body()).decode()).items()}
        try:
            answer = await self.click(
                form.get("channel", ""),
                form.get("ts", ""),
                form.get("action_id", ""),
                user=form.get("user") or "U0SHOPSTAFF",
                block_id=form.get("block_id") or None,
            )
            notice = f"Clicked {form.get('action_id')}: the app answered HTTP {answer.status_code}"
        except (LookupError, RuntimeError, httpx.HTTPError) as exc:
            notice = f"Click not delivered: {type(exc).__name__}: {exc}"
        return RedirectResponse("/?" + urlencode({"notice": notice}), status_code=303)


# --- requests ---------------------------------------------------------------------------------


def _error(code: str) -> JSONResponse:
    return JSONResponse({"ok": False, "error": code})  # HTTP 200, as Slack


def _content_type(request: Request) -> str:
    return request.headers.get("Content-Type", "").split(";")[0].strip().lower()


async def _fields(request: Request) -> Json:
    raw = await request.body()
    kind = _content_type(request)
    try:
        if kind == "application/json":
            fields = json.loads(raw or b"{}")
            if not isinstance(fields, dict):
                raise Refusal(_error("invalid_json"))
            return fields
        if kind == FORM or not raw:
            form: Json = {k: v[-1] for k, v in parse_qs(raw.decode("utf-8")).items()}
            for key in ("blocks", "attachments"):
                if key in form:
                    form[key] = json.loads(form[key])
            return form
    except (ValueError, UnicodeDecodeError):
        raise Refusal(_error("invalid_json" if kind != FORM else "invalid_blocks")) from None
    raise Refusal(_error("invalid_form_data"))


def _content(fields: Json) -> tuple[str, list[Json]]:
    text = fields.get("text") or ""
    blocks = fields.get("blocks") or []
    if not isinstance(text, str) or len(text) > MAX_TEXT:
        raise Refusal(_error("msg_too_long" if isinstance(text, str) else "invalid_arguments"))
    if not text and not blocks:
        raise Refusal(_error("no_text"))
    if not _valid_blocks(blocks):
        raise Refusal(_error("invalid_blocks"))
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


def _shape(message: Message) -> Json:
    return {
        "type": "message",
        "subtype": "bot_message",
        "user": BOT_USER,
        "bot_id": BOT_ID,
        "ts": message.ts,
        "text": message.text,
        "blocks": message.blocks,
    }


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


# --- the page ---------------------------------------------------------------------------------

TOKEN = re.compile(r"<(!date\^\d+\^[^|>]*\|([^>]*)|!subteam\^([A-Z0-9]+)|@([A-Z0-9]+)|!here)>")


def _render_text(text: str) -> str:
    """Slack mrkdwn, roughly: tokens as their fallbacks, *bold*, `code`, new lines."""

    def token(match: re.Match[str]) -> str:
        date, group, user = match.group(2), match.group(3), match.group(4)
        if date is not None:
            return date
        return f"@{group}" if group else (f"@{user}" if user else "@here")

    plain = TOKEN.sub(token, text)
    plain = plain.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    out = html.escape(plain)
    out = re.sub(r"\*([^*\n]+)\*", r"<b>\1</b>", out)
    out = re.sub(r"`([^`\n]+)`", r"<code>\1</code>", out)
    return out.replace("\n", "<br>")


def _render_element(element: Json) -> str:
    if element.get("type") == "image":
        return (
            f"<img src='{html.escape(str(element.get('image_url', '')))}' "
            f"alt='{html.escape(str(element.get('alt_text', '')))}'>"
        )
    return _render_text(str(element.get("text", "")))


def _render_message(message: Message) -> str:
    parts = [f"<div class='msg' id='m{html.escape(message.ts)}'>"]
    for block in message.blocks:
        kind = block.get("type")
        if kind == "header":
            parts.append(f"<h3>{html.escape(str(block.get('text', {}).get('text', '')))}</h3>")
        elif kind == "section":
            accessory = block.get("accessory")
            image = _render_element(accessory) if isinstance(accessory, dict) else ""
            text = _render_text(str(block.get("text", {}).get("text", "")))
            parts.append(f"<div class='section'>{image}<p>{text}</p></div>")
        elif kind == "image":
            parts.append(f"<p>{_render_element(block)}</p>")
        elif kind == "context":
            elements = " ".join(_render_element(e) for e in block.get("elements", []))
            parts.append(f"<p class='ctx'>{elements}</p>")
        elif kind == "divider":
            parts.append("<hr>")
        elif kind == "actions":
            parts.append("<p class='actions'>")
            for element in block.get("elements", []):
                if element.get("type") == "button":
                    parts.append(_render_button(message, block, element))
            parts.append("</p>")
    if not message.blocks:
        parts.append(f"<p>{_render_text(message.text)}</p>")
    parts.append(f"<p class='ctx'>ts {html.escape(message.ts)}</p></div>")
    return "".join(parts)


def _render_button(message: Message, block: Json, button: Json) -> str:
    hidden = {
        "channel": message.channel,
        "ts": message.ts,
        "block_id": str(block.get("block_id", "")),
        "action_id": str(button.get("action_id", "")),
    }
    inputs = "".join(
        f"<input type='hidden' name='{k}' value='{html.escape(v)}'>" for k, v in hidden.items()
    )
    label = html.escape(str(button.get("text", {}).get("text", "")))
    return (
        f"<form method='post' action='/click'>{inputs}"
        f"<button type='submit' class='{html.escape(str(button.get('style', 'default')))}'>"
        f"{label}</button></form> "
    )
