"""`GET /`: each channel's messages as a person sees them, with buttons that click."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlencode

import httpx
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from app.devtools.simulators.slack.clicks import DEFAULT_USER, SlackClicks
from app.devtools.simulators.slack.state import Channel, Click, Json, Message

STYLE = (
    "<style>body{font-family:sans-serif;max-width:60em;margin:1em auto}"
    ".msg{border:1px solid #ccc;border-radius:6px;padding:.5em 1em;margin:.5em 0}"
    ".reply{margin-left:2em;border-left:3px solid #aac}"
    ".ctx{color:#666;font-size:90%}img{max-height:6em;float:right}"
    "form{display:inline}.eph{color:#865}</style>"
)
TOKEN = re.compile(r"<(!date\^\d+\^[^|>]*\|([^>]*)|!subteam\^([A-Z0-9]+)|@([A-Z0-9]+)|!here)>")


class SlackPage(SlackClicks):
    """The page and its `/click` form target."""

    def routes(self) -> list[BaseRoute]:
        return [
            *super().routes(),
            Route("/", self._page, methods=["GET"]),
            Route("/click", self._page_click, methods=["POST"]),
        ]

    async def _page(self, request: Request) -> Response:
        notice = request.query_params.get("notice", "")
        parts = [
            "<!doctype html><html><head><meta charset='utf-8'><title>Slack simulator</title>",
            f"{STYLE}</head><body>",
            "<h1>Slack simulator</h1>",
        ]
        if notice:
            parts.append(f"<p class='notice'><b>{html.escape(notice)}</b></p>")
        if self.socket_mode:
            parts.append(f"<p>Socket Mode: {len(self.sockets)} app connection(s).</p>")
        elif self.interactivity_url is None:
            parts.append("<p>No interactivity URL is set: buttons cannot be delivered.</p>")
        for channel in self.channels.values():
            parts.extend(self._render_channel(channel))
        parts.append("</body></html>")
        return HTMLResponse("".join(parts))

    def _render_channel(self, channel: Channel) -> list[str]:
        parts = [f"<h2 id='{html.escape(channel.id)}'>#{html.escape(channel.name)}</h2>"]
        messages = self.messages.get(channel.id, [])
        if not messages:
            parts.append("<p>No messages.</p>")
        for message in messages:
            if message.thread_ts is None:
                parts.append(_render_message(message))
                replies = (m for m in messages if m.thread_ts == message.ts)
                parts.extend(_render_message(reply) for reply in replies)
        for eph in (e for e in self.ephemerals if e.channel == channel.id):
            parts.append(
                f"<p class='eph'>Only visible to {html.escape(eph.user)}: "
                f"{_render_text(eph.text)}</p>"
            )
        return parts

    async def _page_click(self, request: Request) -> Response:
        form = {k: v[-1] for k, v in parse_qs((await request.body()).decode()).items()}
        try:
            record = await self.press(
                form.get("channel", ""),
                form.get("ts", ""),
                form.get("action_id", ""),
                user=form.get("user") or DEFAULT_USER,
                block_id=form.get("block_id") or None,
            )
            notice = f"Clicked {form.get('action_id')}: {_outcome(record, self.ack_timeout)}"
        except (LookupError, RuntimeError, httpx.HTTPError) as exc:
            notice = f"Click not delivered: {type(exc).__name__}: {exc}"
        return RedirectResponse("/?" + urlencode({"notice": notice}), status_code=303)


def _outcome(record: Click, ack_timeout: float) -> str:
    if record.via == "http":
        return f"the app answered HTTP {record.status}"
    if record.acked_at is None:
        return f"sent over Socket Mode, not acknowledged within {ack_timeout:g} s"
    return "sent over Socket Mode and acknowledged"


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


def _render_block(message: Message, block: Json) -> str:
    kind = block.get("type")
    if kind == "header":
        return f"<h3>{html.escape(str(block.get('text', {}).get('text', '')))}</h3>"
    if kind == "section":
        accessory = block.get("accessory")
        image = _render_element(accessory) if isinstance(accessory, dict) else ""
        text = _render_text(str(block.get("text", {}).get("text", "")))
        return f"<div class='section'>{image}<p>{text}</p></div>"
    if kind == "image":
        return f"<p>{_render_element(block)}</p>"
    if kind == "context":
        elements = " ".join(_render_element(e) for e in block.get("elements", []))
        return f"<p class='ctx'>{elements}</p>"
    if kind == "divider":
        return "<hr>"
    if kind == "actions":
        buttons = "".join(
            _render_button(message, block, element)
            for element in block.get("elements", [])
            if element.get("type") == "button"
        )
        return f"<p class='actions'>{buttons}</p>"
    return ""


def _render_message(message: Message) -> str:
    kind = "msg reply" if message.thread_ts else "msg"
    parts = [f"<div class='{kind}' id='m{html.escape(message.ts)}'>"]
    parts.extend(_render_block(message, block) for block in message.blocks)
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
