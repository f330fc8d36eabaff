"""The Slack simulator: Slack's answers and refusals, signed clicks, and the page for people."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.devtools.simulators.server import LocalServer
from app.devtools.simulators.slack import SlackSimulator
from app.domain.shop_confirmation import DeclineReason
from app.integrations.slack import mapping
from app.integrations.slack.mapping import ConfirmationLine, ConfirmationRequest, SignatureError
from tests.integrations.stands import Front

TOKEN, SECRET = "xoxb-test-token", "test-signing-secret"
SHOP = "C0SHOP1"
DEADLINE = datetime(2025, 12, 1, 11, 23, tzinfo=UTC)
REQUEST = ConfirmationRequest(
    "V-000123",
    "courier",
    DEADLINE,
    (
        ConfirmationLine("res-1", "Платье", "DR-1", 1, "M", "чёрный", "https://cdn.example/1.jpg"),
        ConfirmationLine("res-2", "Шарф & шапка", "SC-7", 2),
    ),
    "<!subteam^S0DUTY>",
)


@dataclass
class Receiver:
    """Our interactivity endpoint, reduced to what Slack's side needs: verify, then answer."""

    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    refused: int = 0

    async def endpoint(self, request: Request) -> Response:
        body = await request.body()
        try:
            mapping.verify_signature(SECRET, request.headers, body, now=time.time())
        except SignatureError as exc:
            self.refused += 1
            return JSONResponse({"error": exc.reason}, status_code=401)
        self.received.append((dict(request.headers), body))
        return Response(status_code=200)


@pytest.fixture(scope="module")
async def stand() -> AsyncIterator[tuple[LocalServer, Front]]:
    front = Front()
    async with LocalServer(front) as server:
        yield server, front


@pytest.fixture(scope="module")
async def receiver_stand() -> AsyncIterator[tuple[LocalServer, Front]]:
    front = Front()
    async with LocalServer(front) as server:
        yield server, front


@pytest.fixture
def receiver(receiver_stand: tuple[LocalServer, Front]) -> Receiver:
    receiver = Receiver()
    receiver_stand[1].app = Starlette(routes=[Route("/slack", receiver.endpoint, methods=["POST"])])
    return receiver


@pytest.fixture
async def sim(
    stand: tuple[LocalServer, Front], receiver_stand: tuple[LocalServer, Front]
) -> AsyncIterator[SlackSimulator]:
    simulator = SlackSimulator(TOKEN, SECRET, interactivity_url=receiver_stand[0].url + "/slack")
    simulator.public_url = stand[0].url
    simulator.add_channel(SHOP, "shop-tverskaya")
    stand[1].app = simulator.app
    yield simulator
    await simulator.aclose()


@pytest.fixture
async def http(stand: tuple[LocalServer, Front]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stand[0].url) as client:
        yield client


async def post_request(http: httpx.AsyncClient) -> str:
    message = mapping.request_message(REQUEST)
    answer = await http.post(
        "/api/chat.postMessage",
        json={"channel": SHOP, "text": message.text, "blocks": message.blocks},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert answer.json()["ok"] is True
    return str(answer.json()["ts"])


# --- the API --------------------------------------------------------------------------------


async def test_a_form_body_with_the_token_in_it_is_accepted(
    http: httpx.AsyncClient, sim: SlackSimulator
) -> None:
    blocks = json.dumps([{"type": "divider"}])
    answer = await http.post(
        "/api/chat.postMessage",
        data={"token": TOKEN, "channel": "shop-tverskaya", "text": "hi", "blocks": blocks},
    )

    assert answer.status_code == 200
    assert answer.json() | {"message": "-"} == {
        "ok": True,
        "channel": SHOP,
        "ts": sim.messages[SHOP][0].ts,
        "message": "-",
    }
    assert sim.messages[SHOP][0].blocks == [{"type": "divider"}]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"json": {"channel": SHOP, "text": "hi"}}, "not_authed"),
        ({"json": {"channel": SHOP, "text": "hi", "token": TOKEN}}, "not_authed"),  # JSON: header
        ({"json": {"channel": SHOP, "text": "hi"}, "headers": {"Authorization": "Bearer x"}},
         "invalid_auth"),
        ({"content": b"hi", "headers": {"Authorization": f"Bearer {TOKEN}",
                                        "Content-Type": "text/plain"}}, "invalid_form_data"),
        ({"json": {"channel": SHOP}, "headers": {"Authorization": f"Bearer {TOKEN}"}}, "no_text"),
        ({"json": {"channel": SHOP, "blocks": [{"type": "actions", "elements": [
            {"type": "button", "action_id": "a", "text": {"type": "plain_text", "text": "x"}},
            {"type": "button", "action_id": "a", "text": {"type": "plain_text", "text": "y"}},
        ]}]}, "headers": {"Authorization": f"Bearer {TOKEN}"}}, "invalid_blocks"),
        ({"json": {"channel": SHOP, "blocks": [{"type": "divider", "block_id": "b"}] * 2},
          "headers": {"Authorization": f"Bearer {TOKEN}"}}, "invalid_blocks"),
        ({"json": {"channel": SHOP, "blocks": [{"type": "divider"}] * 51},
          "headers": {"Authorization": f"Bearer {TOKEN}"}}, "invalid_blocks"),
    ],
)  # fmt: skip
async def test_slack_refuses_with_http_200_and_an_error_code(
    http: httpx.AsyncClient, sim: SlackSimulator, kwargs: dict[str, Any], error: str
) -> None:
    answer = await http.post("/api/chat.postMessage", **kwargs)

    assert (answer.status_code, answer.json()) == (200, {"ok": False, "error": error})
    assert sim.messages[SHOP] == []


async def test_our_request_message_is_valid_block_kit_for_the_simulator(
    http: httpx.AsyncClient, sim: SlackSimulator
) -> None:
    ts = await post_request(http)
    assert sim.message(SHOP, ts).blocks == mapping.request_message(REQUEST).blocks


async def test_a_reply_in_a_thread_is_stored_and_answered_with_its_thread_ts(
    http: httpx.AsyncClient, sim: SlackSimulator
) -> None:
    sim.burst = 5  # three messages in a channel within a second
    parent = await post_request(http)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    text = "<!subteam^S0DUTY> напоминание: ответьте до 11:23"

    reply = await http.post(
        "/api/chat.postMessage",
        json={"channel": SHOP, "text": text, "thread_ts": parent},
        headers=auth,
    )
    nested = await http.post(
        "/api/chat.postMessage",
        data={"token": TOKEN, "channel": SHOP, "text": "ещё раз", "thread_ts": reply.json()["ts"]},
    )
    lost = await http.post(
        "/api/chat.postMessage",
        json={"channel": SHOP, "text": "x", "thread_ts": "1.000001"},
        headers=auth,
    )

    assert reply.json()["message"]["thread_ts"] == parent
    assert reply.json()["message"]["parent_user_id"] == "U0SIMBOT"
    assert nested.json()["message"]["thread_ts"] == parent  # a reply to a reply: same thread
    assert lost.json() == {"ok": False, "error": "thread_not_found"}
    assert [m.text for m in sim.replies(SHOP, parent)] == [text, "ещё раз"]
    assert sim.message(SHOP, parent).thread_ts is None
    page = (await http.get("/")).text
    assert page.count("class='msg reply'") == 2 and "@S0DUTY напоминание" in page


# --- clicks ---------------------------------------------------------------------------------


async def test_a_click_posts_a_signed_block_actions_form_to_the_app(
    http: httpx.AsyncClient, sim: SlackSimulator, receiver: Receiver
) -> None:
    ts = await post_request(http)

    answer = await sim.click(SHOP, ts, "decline:defect", user="U0ANNA", value="res-2")

    assert answer.status_code == 200 and receiver.refused == 0
    [(headers, body)] = receiver.received
    assert headers["content-type"] == "application/x-www-form-urlencoded"
    payload = json.loads(parse_qs(body.decode())["payload"][0])
    assert payload["type"] == "block_actions"
    assert payload["user"]["id"] == "U0ANNA"
    assert payload["channel"] == {"id": SHOP, "name": "shop-tverskaya"}
    assert payload["message"]["ts"] == ts
    assert payload["response_url"] == f"{sim.public_url}/response/{SHOP}/{ts}"
    [action] = payload["actions"]
    assert {k: action[k] for k in ("action_id", "block_id", "value")} == {
        "action_id": "decline:defect",
        "block_id": "act:res-2",
        "value": "res-2",
    }
    assert float(action["action_ts"]) >= float(ts)
    assert mapping.parse_interaction(body) == mapping.ShopAction(
        kind="decline",
        reason=DeclineReason.DEFECT,
        line_key="res-2",
        user_id="U0ANNA",
        user_name="shop.staff",
        channel_id=SHOP,
        message_ts=ts,
        action_ts=action["action_ts"],
        response_url=payload["response_url"],
    )


async def test_a_click_signed_with_another_secret_is_refused_by_the_app(
    http: httpx.AsyncClient, sim: SlackSimulator, receiver: Receiver
) -> None:
    ts = await post_request(http)
    sim.signing_secret = "someone-else"

    answer = await sim.click(SHOP, ts, "confirm", block_id="act:res-1")

    assert (answer.status_code, answer.json()) == (401, {"error": "mismatch"})
    assert receiver.received == [] and sim.clicks[0].status == 401


async def test_an_ambiguous_or_missing_button_is_a_test_error(
    http: httpx.AsyncClient, sim: SlackSimulator, receiver: Receiver
) -> None:
    ts = await post_request(http)

    with pytest.raises(LookupError, match="give block_id or value"):
        await sim.click(SHOP, ts, "confirm")
    with pytest.raises(LookupError):
        await sim.click(SHOP, ts, "approve", value="res-1")
    assert receiver.received == []


async def test_a_decided_message_has_no_buttons_to_click(
    http: httpx.AsyncClient, sim: SlackSimulator
) -> None:
    ts = await post_request(http)
    outcomes = {key: mapping.LineOutcome("expired", DEADLINE) for key in ("res-1", "res-2")}
    decided = mapping.decided_message(REQUEST, outcomes)
    answer = await http.post(
        "/api/chat.update",
        json={"channel": SHOP, "ts": ts, "text": decided.text, "blocks": decided.blocks},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )

    assert answer.json()["ok"] is True
    with pytest.raises(LookupError):
        await sim.click(SHOP, ts, "confirm", value="res-1")


# --- the page -------------------------------------------------------------------------------


async def test_the_page_shows_the_message_and_its_buttons_click(
    http: httpx.AsyncClient, sim: SlackSimulator, receiver: Receiver
) -> None:
    ts = await post_request(http)

    page = (await http.get("/")).text

    assert "#shop-tverskaya" in page and "<h3>Заказ №V-000123</h3>" in page
    assert "<b>Шарф &amp; шапка</b>" in page  # Slack's &amp; shown as & and escaped for HTML
    assert "<img src='https://cdn.example/1.jpg' alt='Платье'>" in page
    assert "@S0DUTY" in page and "2025-12-01 11:23 UTC" in page  # tokens as their fallbacks
    assert page.count("<form method='post' action='/click'>") == 10
    assert "<script" not in page

    clicked = await http.post(
        "/click",
        data={"channel": SHOP, "ts": ts, "block_id": "act:res-1", "action_id": "confirm"},
    )

    assert clicked.status_code == 303
    notice = (await http.get(clicked.headers["location"])).text
    assert "Clicked confirm: the app answered HTTP 200" in notice
    [(_, body)] = receiver.received
    action = mapping.parse_interaction(body)
    assert (action.kind, action.line_key, action.message_ts) == ("confirm", "res-1", ts)


async def test_the_page_says_when_a_click_cannot_be_delivered(
    http: httpx.AsyncClient, sim: SlackSimulator
) -> None:
    ts = await post_request(http)
    sim.interactivity_url = None

    clicked = await http.post(
        "/click", data={"channel": SHOP, "ts": ts, "block_id": "act:res-1", "action_id": "confirm"}
    )

    page = (await http.get(clicked.headers["location"])).text
    assert "Click not delivered: RuntimeError: interactivity_url is not set" in page
