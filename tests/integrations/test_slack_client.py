"""The official slack-sdk AsyncWebClient, and our SlackClient on it, against the Slack
simulator over real HTTP on 127.0.0.1."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from app.devtools.simulators.server import LocalServer
from app.devtools.simulators.slack import SlackSimulator
from app.integrations.errors import RejectedError, RetryableError
from app.integrations.slack.client import SlackClient
from tests.integrations.stands import Front

TOKEN = "xoxb-test-token"
SHOP, LOBBY = "C0SHOP1", "C0LOBBY"
BLOCKS: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}}]


class Clock:
    def __init__(self, now: float = 1_764_590_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
async def stand() -> AsyncIterator[tuple[LocalServer, Front]]:
    front = Front()
    async with LocalServer(front) as server:
        yield server, front


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def sim(stand: tuple[LocalServer, Front], clock: Clock) -> AsyncIterator[SlackSimulator]:
    simulator = SlackSimulator(token=TOKEN, clock=clock)
    simulator.add_channel(SHOP, "shop-tverskaya")
    simulator.add_channel(LOBBY, "lobby", member=False)
    stand[1].app = simulator.app
    yield simulator
    await simulator.aclose()


@pytest.fixture
def api_url(stand: tuple[LocalServer, Front], sim: SlackSimulator) -> str:
    return stand[0].url + "/api/"


@pytest.fixture
async def slack(api_url: str) -> AsyncIterator[SlackClient]:
    async with SlackClient(TOKEN, base_url=api_url, timeout=2.0) as client:
        yield client


# --- the official client, as it is ---------------------------------------------------------


async def test_the_official_client_posts_and_updates_with_the_real_answer_shape(
    api_url: str, sim: SlackSimulator
) -> None:
    web = AsyncWebClient(token=TOKEN, base_url=api_url)

    posted = await web.chat_postMessage(channel="#shop-tverskaya", text="hi", blocks=BLOCKS)
    updated = await web.chat_update(channel=SHOP, ts=posted["ts"], text="done", blocks=[])

    assert (posted["ok"], posted["channel"], posted["ts"]) == (True, SHOP, "1764590000.000000")
    assert posted["message"]["blocks"] == BLOCKS
    assert (updated["ok"], updated["ts"], updated["text"]) == (True, posted["ts"], "done")
    message = sim.messages[SHOP][0]
    assert (message.text, message.blocks) == ("done", [])
    assert message.updates == [{"text": "done", "blocks": []}]


async def test_the_official_client_sends_forms_too(api_url: str, sim: SlackSimulator) -> None:
    web = AsyncWebClient(token=TOKEN, base_url=api_url)

    # api_call with data= is a form body; blocks go as a JSON string, as Slack expects.
    await web.api_call("chat.postMessage", data={"channel": SHOP, "text": "form", "blocks": "[]"})

    assert sim.messages[SHOP][0].text == "form"
    assert sim.requests[0].body.startswith(b"channel=")


async def test_the_official_client_sees_slack_errors(api_url: str) -> None:
    web = AsyncWebClient(token="xoxb-wrong", base_url=api_url)

    with pytest.raises(SlackApiError) as caught:
        await web.chat_postMessage(channel=SHOP, text="hi")

    assert (caught.value.response.status_code, caught.value.response.data) == (
        200,
        {"ok": False, "error": "invalid_auth"},
    )


# --- SlackClient ------------------------------------------------------------------------------


async def test_post_update_and_ephemeral(slack: SlackClient, sim: SlackSimulator) -> None:
    posted = await slack.post_message(SHOP, "Заказ №1", BLOCKS)
    ts = posted.ts
    await slack.update_message(SHOP, ts, "Заказ №1: готово", [])
    await slack.post_ephemeral(SHOP, "U0ANNA", "Уже обработано")

    assert posted.channel == SHOP
    assert [(m.ts, m.text) for m in sim.messages[SHOP]] == [(ts, "Заказ №1: готово")]
    assert [(e.channel, e.user, e.text) for e in sim.ephemerals] == [
        (SHOP, "U0ANNA", "Уже обработано")
    ]
    assert [(r.path, r.status) for r in sim.requests] == [
        ("/api/chat.postMessage", 200),
        ("/api/chat.update", 200),
        ("/api/chat.postEphemeral", 200),
    ]


@pytest.mark.parametrize(
    ("channel", "token", "error"),
    [
        ("C0NOWHERE", TOKEN, "channel_not_found"),
        (LOBBY, TOKEN, "not_in_channel"),
        (SHOP, "xoxb-revoked", "invalid_auth"),
    ],
)
async def test_a_refusal_is_a_dead_letter_with_slacks_answer(
    api_url: str, sim: SlackSimulator, channel: str, token: str, error: str
) -> None:
    async with SlackClient(token, base_url=api_url, timeout=2.0) as slack:
        with pytest.raises(RejectedError) as caught:
            await slack.post_message(channel, "hi", BLOCKS)

    assert caught.value.message.startswith(f"{error} from chat.postMessage (HTTP 200)")
    assert (caught.value.status, caught.value.body) == (200, f'{{"ok": false, "error": "{error}"}}')
    assert sim.messages.get(channel, []) == []


async def test_updating_an_unknown_message_is_refused(slack: SlackClient) -> None:
    with pytest.raises(RejectedError, match="^message_not_found"):
        await slack.update_message(SHOP, "1.000001", "x", [])


async def test_above_one_message_a_second_per_channel_is_429_with_retry_after(
    api_url: str, sim: SlackSimulator, clock: Clock
) -> None:
    async with SlackClient(TOKEN, base_url=api_url, inline_retry_after=0) as slack:
        await slack.post_message(SHOP, "1", BLOCKS)
        await slack.post_message(SHOP, "2", BLOCKS)  # the burst allowance
        with pytest.raises(RetryableError) as caught:
            await slack.post_message(SHOP, "3", BLOCKS)
        sim.add_channel("C0SHOP2", "shop-arbat")
        await slack.post_message("C0SHOP2", "other channel", BLOCKS)  # its own allowance
        clock.now += 1.0
        await slack.post_message(SHOP, "3 again", BLOCKS)

    assert caught.value.retry_after == 1.0
    assert caught.value.message.startswith("ratelimited from chat.postMessage (HTTP 429)")
    assert [r.status for r in sim.requests] == [200, 200, 429, 200, 200]
    assert [m.text for m in sim.messages[SHOP]] == ["1", "2", "3 again"]


async def test_a_short_retry_after_is_waited_for_inside_the_call(
    api_url: str, sim: SlackSimulator, clock: Clock
) -> None:
    sim.clock = time.time  # the SDK's handler really sleeps; let the allowance refill with it
    sim.burst = 1
    async with SlackClient(TOKEN, base_url=api_url) as slack:
        await slack.post_message(SHOP, "1", BLOCKS)
        started = time.monotonic()
        await slack.post_message(SHOP, "2", BLOCKS)
        waited = time.monotonic() - started

    assert [r.status for r in sim.requests] == [200, 429, 200]
    assert 1.0 <= waited < 3.0


async def test_a_long_retry_after_is_left_to_the_outbox(
    slack: SlackClient, sim: SlackSimulator
) -> None:
    sim.rate_limit(1, retry_after=30)

    with pytest.raises(RetryableError) as caught:
        await slack.post_message(SHOP, "hi", BLOCKS)

    assert caught.value.retry_after == 30.0
    assert len(sim.requests) == 1 and sim.messages[SHOP] == []


async def test_an_outage_is_retryable_and_ends(
    slack: SlackClient, sim: SlackSimulator, clock: Clock
) -> None:
    sim.outage(60)

    with pytest.raises(RetryableError, match=r"HTTP 503"):
        await slack.post_message(SHOP, "hi", BLOCKS)
    clock.now += 61
    await slack.post_message(SHOP, "hi", BLOCKS)

    assert [r.status for r in sim.requests] == [503, 200]
    assert len(sim.messages[SHOP]) == 1


async def test_a_500_and_slacks_internal_error_are_retryable(
    slack: SlackClient, sim: SlackSimulator
) -> None:
    sim.fail_5xx(1)

    with pytest.raises(RetryableError, match="^internal_error"):
        await slack.post_message(SHOP, "hi", BLOCKS)


async def test_a_slow_slack_is_a_timeout(api_url: str, sim: SlackSimulator) -> None:
    sim.slow(1.0)
    async with SlackClient(TOKEN, base_url=api_url, timeout=0.2) as slack:
        with pytest.raises(RetryableError, match="^timed out: chat.postMessage"):
            await slack.post_message(SHOP, "hi", BLOCKS)
    sim.slow(0)


async def test_a_closed_port_is_retryable(
    stand: tuple[LocalServer, Front], slack: SlackClient
) -> None:
    server = stand[0]
    await server.stop()
    try:
        with pytest.raises(RetryableError, match="ClientConnectorError|ClientOSError"):
            await slack.post_message(SHOP, "hi", BLOCKS)
    finally:
        await server.start()
