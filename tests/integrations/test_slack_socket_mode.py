"""Socket Mode: our listener on slack-sdk's client against the Slack simulator's websocket, and
the simulator's side of it (tickets, envelopes, acknowledgements, disconnects)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import httpx
import pytest
from structlog.testing import capture_logs

from app.devtools.simulators.server import LocalServer
from app.devtools.simulators.slack import SlackSimulator
from app.integrations.errors import RejectedError
from app.integrations.slack import mapping
from app.integrations.slack.mapping import ConfirmationLine, ConfirmationRequest
from app.integrations.slack.socket_mode import SocketModeListener
from tests.integrations.stands import Front

TOKEN, APP_TOKEN = "xoxb-test-token", "xapp-1-A0SIMAPP-test"
SHOP = "C0SHOP1"
DEADLINE = datetime(2025, 12, 1, 11, 23, tzinfo=UTC)
REQUEST = ConfirmationRequest(
    "V-000321",
    "pickup",
    DEADLINE,
    (ConfirmationLine("res-1", "Платье", "DR-1", 1), ConfirmationLine("res-2", "Шарф", "SC-7", 1)),
)
Payload = dict[str, Any]


class Inbox:
    """The handler the app would inject: keeps each payload; `gate` holds it until set."""

    def __init__(self, fail: bool = False) -> None:
        self.payloads: asyncio.Queue[Payload] = asyncio.Queue()
        self.gate = asyncio.Event()
        self.gate.set()
        self.fail = fail

    async def handle(self, payload: Payload) -> None:
        await self.payloads.put(payload)
        await self.gate.wait()
        if self.fail:
            raise RuntimeError("the service failed")

    async def next(self) -> Payload:
        return await asyncio.wait_for(self.payloads.get(), 3.0)


@pytest.fixture(scope="module")
async def stand() -> AsyncIterator[tuple[LocalServer, Front]]:
    front = Front()
    async with LocalServer(front) as server:
        yield server, front


@pytest.fixture
async def sim(stand: tuple[LocalServer, Front]) -> AsyncIterator[SlackSimulator]:
    simulator = SlackSimulator(TOKEN, app_token=APP_TOKEN, socket_mode=True)
    simulator.public_url = stand[0].url
    simulator.add_channel(SHOP, "shop-tverskaya")
    stand[1].app = simulator.app
    yield simulator
    await simulator.aclose()


@pytest.fixture
def api_url(stand: tuple[LocalServer, Front]) -> str:
    return stand[0].url + "/api/"


@pytest.fixture
def inbox() -> Inbox:
    return Inbox()


@pytest.fixture
async def listener(
    api_url: str, sim: SlackSimulator, inbox: Inbox
) -> AsyncIterator[SocketModeListener]:
    listener = SocketModeListener(APP_TOKEN, inbox.handle, base_url=api_url)
    await listener.start()
    yield listener
    await listener.close()


@pytest.fixture
async def ts(stand: tuple[LocalServer, Front], sim: SlackSimulator) -> str:
    message = mapping.request_message(REQUEST)
    async with httpx.AsyncClient(base_url=stand[0].url) as http:
        answer = await http.post(
            "/api/chat.postMessage",
            json={"channel": SHOP, "text": message.text, "blocks": message.blocks},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
    return str(answer.json()["ts"])


async def until(condition: Any, seconds: float = 3.0) -> None:
    async with asyncio.timeout(seconds):
        while not condition():
            await asyncio.sleep(0.01)


# --- the listener ---------------------------------------------------------------------------


async def test_a_click_reaches_the_handler_acknowledged_before_it_is_handled(
    sim: SlackSimulator, listener: SocketModeListener, inbox: Inbox, ts: str
) -> None:
    inbox.gate.clear()  # the handler is still busy when the ack must already be there

    record = await sim.press(SHOP, ts, "decline:not_found", user="U0ANNA", value="res-2")

    assert (record.via, record.status) == ("socket", None)
    assert record.sent_at is not None and record.acked_at is not None
    assert record.acked_at - record.sent_at < 1.0
    envelope = json.loads(record.body)
    assert envelope["type"] == "interactive" and envelope["envelope_id"] == record.envelope_id
    payload = await inbox.next()
    assert payload == record.payload == envelope["payload"]
    action = mapping.parse_action(payload)
    assert (action.kind, action.reason, action.line_key) == (
        "decline",
        "not_found",
        "res-2",
    )
    assert (action.user_id, action.channel_id, action.message_ts) == ("U0ANNA", SHOP, ts)
    inbox.gate.set()


async def test_a_handler_that_raises_is_logged_and_the_next_click_still_comes(
    sim: SlackSimulator, listener: SocketModeListener, inbox: Inbox, ts: str
) -> None:
    inbox.fail = True

    with capture_logs() as logs:
        first = await sim.press(SHOP, ts, "confirm", value="res-1")
        await inbox.next()
        await until(lambda: any(e["event"] == "slack.socket_mode.handler_failed" for e in logs))
    inbox.fail = False
    second = await sim.press(SHOP, ts, "confirm", value="res-2")

    assert first.acked_at is not None and second.acked_at is not None
    assert mapping.parse_action(await inbox.next()).line_key == "res-2"
    [failed] = [e for e in logs if e["event"] == "slack.socket_mode.handler_failed"]
    assert failed["envelope_id"] == first.envelope_id and failed["log_level"] == "error"
    assert len(sim.sockets) == 1


async def test_a_disconnect_is_followed_by_a_new_connection_that_gets_clicks(
    sim: SlackSimulator, listener: SocketModeListener, inbox: Inbox, ts: str
) -> None:
    [old] = sim.sockets

    await sim.disconnect_sockets("refresh_requested")
    await until(lambda: sim.connections == 2 and old not in sim.sockets)
    record = await sim.press(SHOP, ts, "confirm", value="res-1")

    assert len(sim.sockets) == 1 and record.acked_at is not None
    assert mapping.parse_action(await inbox.next()).line_key == "res-1"


@pytest.mark.parametrize(
    ("token", "error"),
    [("xapp-1-someone-else", "invalid_auth"), (TOKEN, "not_allowed_token_type")],
)
async def test_a_refused_app_token_fails_start_with_slacks_error(
    api_url: str, sim: SlackSimulator, inbox: Inbox, token: str, error: str
) -> None:
    listener = SocketModeListener(token, inbox.handle, base_url=api_url)

    with pytest.raises(RejectedError, match=f"^{error}: apps.connections.open") as refused:
        await listener.start()

    assert json.loads(refused.value.body) == {"ok": False, "error": error}
    assert sim.connections == 0
    await listener.close()  # closing a listener that never started is harmless


# --- the simulator's side -------------------------------------------------------------------


async def open_url(http: httpx.AsyncClient, token: str = APP_TOKEN) -> str:
    answer = await http.post(
        "/api/apps.connections.open", headers={"Authorization": f"Bearer {token}"}
    )
    return str(answer.json()["url"])


async def test_a_ticket_opens_one_connection_and_a_silent_app_is_recorded_unacknowledged(
    stand: tuple[LocalServer, Front], sim: SlackSimulator, ts: str
) -> None:
    sim.ack_timeout = 0.2
    async with httpx.AsyncClient(base_url=stand[0].url) as http:
        url = await open_url(http)
    assert url.startswith(f"ws://127.0.0.1:{stand[0].port}/socket?ticket=")

    async with aiohttp.ClientSession() as session, session.ws_connect(url) as socket:
        hello = await socket.receive_json(timeout=2)
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(url)  # the same ticket again
        record = await sim.press(SHOP, ts, "confirm", value="res-1")
        envelope = await socket.receive_json(timeout=2)

    assert (hello["type"], hello["num_connections"]) == ("hello", 1)
    assert refused.value.status == 403
    assert envelope["envelope_id"] == record.envelope_id and record.acked_at is None


async def test_a_press_in_socket_mode_without_a_connection_is_a_test_error(
    sim: SlackSimulator, ts: str
) -> None:
    with pytest.raises(RuntimeError, match="no Socket Mode client is connected"):
        await sim.press(SHOP, ts, "confirm", value="res-1")
    with pytest.raises(RuntimeError, match="use press"):
        await sim.click(SHOP, ts, "confirm", value="res-1")


async def test_the_page_delivers_over_the_socket_in_socket_mode(
    stand: tuple[LocalServer, Front],
    sim: SlackSimulator,
    listener: SocketModeListener,
    inbox: Inbox,
    ts: str,
) -> None:
    async with httpx.AsyncClient(base_url=stand[0].url, follow_redirects=True) as http:
        page = await http.post(
            "/click",
            data={"channel": SHOP, "ts": ts, "block_id": "act:res-1", "action_id": "confirm"},
        )

    assert "Clicked confirm: sent over Socket Mode and acknowledged" in page.text
    assert "Socket Mode: 1 app connection(s)." in page.text
    assert mapping.parse_action(await inbox.next()).line_key == "res-1"
