"""A local Slack: the Web API methods shop confirmations use, button clicks, and a web page.

API (`POST /api/{method}`, answers HTTP 200 `{"ok": false, "error": ...}` on failure, as Slack;
`api.py`):
- auth: `Authorization: Bearer xoxb-...` (or a `token` field of a form body); none →
  `not_authed`, the app-level token → `not_allowed_token_type`, another → `invalid_auth`.
- bodies: JSON (`application/json`) or a form (`application/x-www-form-urlencoded`, with
  `blocks` as a JSON string); anything else → `invalid_form_data`, bad blocks →
  `invalid_blocks`.
- `chat.postMessage` `{channel, text, blocks, thread_ts?}` → `{"ok", "channel", "ts",
  "message"}`; a channel by id or by name; unknown → `channel_not_found`; one the bot has not
  joined → `not_in_channel`; neither text nor blocks → `no_text`; a `thread_ts` that is no
  message of the channel → `thread_not_found` (a reply to a reply joins the parent's thread; the
  answer's message carries `thread_ts` and `parent_user_id`). Above 1 message/s per channel
  (after a burst of `burst`) → HTTP 429 `{"ok": false, "error": "ratelimited"}` with
  `Retry-After`.
- `chat.update` `{channel, ts, text, blocks}` → `{"ok", "channel", "ts", "text", "message"}`;
  unknown ts → `message_not_found`.
- `chat.postEphemeral` `{channel, user, text}` → `{"ok", "message_ts"}`.
- `apps.connections.open` with the app-level token (`app_token`, `xapp-...`; the bot token →
  `not_allowed_token_type`) → `{"ok": true, "url": "ws://<host>/socket?ticket=..."}`, a ticket
  good for one connection.

Controls: `outage(seconds)` (503 until the simulator's clock passes), and the base's `down()`,
`fail_5xx()`, `rate_limit()`, `slow()`. State: `messages[channel_id]` (current text and blocks,
with `updates` kept; thread replies too, see `replies()`), `ephemerals`, `clicks` (what was
delivered and what came back).

Clicks (`clicks.py`): `await click(channel, ts, action_id, user=...)` plays a person pressing a
button: it builds the `block_actions` payload Slack sends, signs it (`v0=` HMAC-SHA256 of
`v0:{ts}:{body}` under `signing_secret`) and POSTs it as `payload=` form to `interactivity_url`.
`await press(...)` does the same, or, with `socket_mode` set, sends the payload over the app's
socket.

Socket Mode (`socket.py`): the app opens the URL `apps.connections.open` gave; the simulator
sends `{"type": "hello"}`, then each press as `{"envelope_id", "type": "interactive", "payload",
"accepts_response_payload": false}` and waits `ack_timeout` (3 s) for `{"envelope_id"}`: the
click record says when it came (`acked_at`, None if it did not). `disconnect_sockets()` sends
`{"type": "disconnect", "reason": "refresh_requested"}`; `sockets` are the connections open now.

`GET /` (`page.py`) is a page listing each channel's messages (Block Kit sections, images,
context; thread replies under their parent) with working buttons: a form POST to `/click`, which
calls `press` as above.
"""

from __future__ import annotations

from app.devtools.simulators.slack.api import SlackApi
from app.devtools.simulators.slack.page import SlackPage
from app.devtools.simulators.slack.state import (
    APP_ID,
    BOT_ID,
    BOT_USER,
    TEAM_ID,
    Channel,
    Click,
    Ephemeral,
    Message,
)

__all__ = [
    "APP_ID",
    "BOT_ID",
    "BOT_USER",
    "TEAM_ID",
    "Channel",
    "Click",
    "Ephemeral",
    "Message",
    "SlackSimulator",
]


class SlackSimulator(SlackApi, SlackPage):
    """Slack's Web API, interactivity over HTTP or Socket Mode, and a page (see the module)."""
