"""The simulated workspace: channels, messages, what was clicked, and the settings of it all."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
from starlette.applications import Starlette
from starlette.routing import BaseRoute
from starlette.websockets import WebSocket

from app.devtools.simulators.base import Simulator

Json = dict[str, Any]
TEAM_ID, APP_ID, BOT_USER, BOT_ID = "T0SIMTEAM", "A0SIMAPP", "U0SIMBOT", "B0SIMBOT"
FORM = "application/x-www-form-urlencoded"
ACK_TIMEOUT = 3.0  # seconds Slack waits for an acknowledgement, over HTTP or a socket


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
    thread_ts: str | None = None  # the parent's ts, for a reply in a thread


@dataclass
class Ephemeral:
    channel: str
    user: str
    text: str
    blocks: list[Json]
    message_ts: str


@dataclass
class Click:
    url: str  # the interactivity URL, or the socket's for a Socket Mode delivery
    headers: dict[str, str]
    body: bytes  # the form POSTed, or the envelope sent over the socket
    payload: Json
    status: int | None = None  # what the interactivity endpoint answered (None: unreachable)
    via: Literal["http", "socket"] = "http"
    envelope_id: str | None = None  # Socket Mode
    sent_at: float | None = None  # the simulator's clock when the envelope was sent
    acked_at: float | None = None  # and when it was acknowledged (None: not within 3 s)


class SlackState(Simulator):
    """What every part of the simulator reads and changes; the parts add their routes."""

    def __init__(
        self,
        token: str = "xoxb-simulator-token",
        signing_secret: str = "simulator-signing-secret",
        interactivity_url: str | None = None,
        clock: Callable[[], float] = time.time,
        burst: int = 2,
        per_second: float = 1.0,
        app_token: str = "xapp-simulator-app-token",
        socket_mode: bool = False,
    ) -> None:
        super().__init__()
        self.token = token
        self.signing_secret = signing_secret
        self.interactivity_url = interactivity_url
        self.clock = clock
        self.burst = burst
        self.per_second = per_second
        self.app_token = app_token  # the app-level token apps.connections.open wants
        self.socket_mode = socket_mode  # clicks go over a socket instead of an HTTP POST
        self.ack_timeout = ACK_TIMEOUT
        self.public_url: str | None = None  # where the simulator is served, for response_url
        self.channels: dict[str, Channel] = {}
        self.messages: dict[str, list[Message]] = {}
        self.ephemerals: list[Ephemeral] = []
        self.clicks: list[Click] = []
        self.responses: list[Json] = []  # bodies POSTed to a response_url
        self._down_until = float("-inf")
        self._last_ts = 0
        self._allowance: dict[str, tuple[float, float]] = {}  # channel -> (tokens, at)
        self._sender: httpx.AsyncClient | None = None  # posts clicks to interactivity_url
        self.sockets: list[WebSocket] = []  # Socket Mode connections open now, oldest first
        self.connections = 0  # Socket Mode connections ever accepted
        self._tickets: set[str] = set()  # issued by apps.connections.open, each good once
        self._acks: dict[str, asyncio.Future[float]] = {}  # envelope id -> when acknowledged
        self.app = Starlette(routes=self.routes())

    def routes(self) -> list[BaseRoute]:
        """The routes of this part and of the parts before it."""
        return []

    # --- controls and state -----------------------------------------------------------------

    def add_channel(self, channel_id: str, name: str, *, member: bool = True) -> Channel:
        """Create a channel (by id and name) that the bot has joined unless `member=False`."""
        channel = Channel(channel_id, name.lstrip("#"), member)
        self.channels[channel_id] = channel
        self.messages.setdefault(channel_id, [])
        return channel

    def outage(self, seconds: float) -> None:
        """Answer every API call 503 for `seconds` of the simulator's clock."""
        self._down_until = self.clock() + seconds

    def message(self, channel: str, ts: str) -> Message:
        """The message `ts` of a channel (by id or name); LookupError if there is none."""
        for message in self.messages.get(self._channel(channel).id, []):
            if message.ts == ts:
                return message
        raise LookupError(f"no message {ts} in {channel}")

    def replies(self, channel: str, ts: str) -> list[Message]:
        """The thread replies to the message `ts`, oldest first."""
        return [m for m in self.messages.get(self._channel(channel).id, []) if m.thread_ts == ts]

    def _channel(self, ref: str) -> Channel:
        if ref in self.channels:
            return self.channels[ref]
        for channel in self.channels.values():
            if channel.name == ref.lstrip("#"):
                return channel
        raise LookupError(ref)

    def _next_ts(self) -> str:
        micros = max(int(self.clock() * 1_000_000), self._last_ts + 1)
        self._last_ts = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"


def shape(message: Message) -> Json:
    """A message as Slack's answers show it."""
    shaped: Json = {
        "type": "message",
        "subtype": "bot_message",
        "user": BOT_USER,
        "bot_id": BOT_ID,
        "ts": message.ts,
        "text": message.text,
        "blocks": message.blocks,
    }
    if message.thread_ts is not None:
        shaped |= {"thread_ts": message.thread_ts, "parent_user_id": BOT_USER}
    return shaped
