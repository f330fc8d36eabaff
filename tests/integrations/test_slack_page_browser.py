"""The Slack simulator's page in a real headless Chromium: a person reads the confirmation
request, presses Confirm or a Decline reason, and our interactivity endpoint receives Slack's
signed `block_actions` form; after `chat.update` the page shows the decided message."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest
from playwright.async_api import Browser, Locator, Page, async_playwright, expect
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.devtools.simulators.server import LocalServer
from app.devtools.simulators.slack import SlackSimulator
from app.integrations.slack import mapping
from app.integrations.slack.mapping import ConfirmationLine, ConfirmationRequest, LineOutcome
from tests.integrations.stands import Front

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # root in a container
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-proxy-server",  # the page and the endpoint are on 127.0.0.1
]
TOKEN, SECRET = "xoxb-test-token", "test-signing-secret"
# One browser for the module under `--dist loadgroup`; plain `-n 2` may start one per worker.
pytestmark = pytest.mark.xdist_group("slack_page_browser")
SHOP = "C0SHOP1"
DEADLINE = datetime(2025, 12, 1, 11, 23, tzinfo=UTC)
REQUEST = ConfirmationRequest(
    "V-000777",
    "courier",
    DEADLINE,
    (
        ConfirmationLine("res-1", "Платье", "DR-1", 1, "M", "чёрный"),
        ConfirmationLine("res-2", "Шарф", "SC-7", 2),
    ),
    "<!subteam^S0DUTY>",
)


class Receiver:
    """Our interactivity endpoint, reduced to keeping what Slack sent."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []

    async def endpoint(self, request: Request) -> Response:
        self.received.append((dict(request.headers), await request.body()))
        return Response(status_code=200)


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs it (apt-get install chromium)")
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        await chromium.close()


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
async def api(stand: tuple[LocalServer, Front]) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(base_url=stand[0].url + "/api/", headers=headers) as client:
        yield client


@pytest.fixture
async def ts(api: httpx.AsyncClient, sim: SlackSimulator) -> str:
    message = mapping.request_message(REQUEST)
    answer = await api.post(
        "chat.postMessage", json={"channel": SHOP, "text": message.text, "blocks": message.blocks}
    )
    return str(answer.json()["ts"])


@pytest.fixture
async def page(browser: Browser, stand: tuple[LocalServer, Front], ts: str) -> AsyncIterator[Page]:
    context = await browser.new_context(base_url=stand[0].url)
    page = await context.new_page()
    await page.goto("/")
    yield page
    await context.close()


def button(page: Page, line_key: str, label: str) -> Locator:
    """The button `label` in the actions block of one line."""
    form = page.locator(f"form:has(input[name='block_id'][value='act:{line_key}'])")
    return form.get_by_role("button", name=label, exact=True)


def delivered(receiver: Receiver) -> tuple[mapping.ShopAction, dict[str, object]]:
    """The one click the endpoint got, checked as our endpoint checks it."""
    [(headers, body)] = receiver.received
    assert headers["content-type"] == "application/x-www-form-urlencoded"
    mapping.verify_signature(SECRET, headers, body, now=time.time())
    payload = json.loads(parse_qs(body.decode())["payload"][0])
    return mapping.parse_interaction(body), payload["actions"][0]


async def test_the_page_shows_the_request_as_a_person_reads_it(page: Page, ts: str) -> None:
    message = page.locator(f"[id='m{ts}']")

    await expect(page.get_by_role("heading", name="#shop-tverskaya")).to_be_visible()
    await expect(message.get_by_role("heading", name="Заказ №V-000777")).to_be_visible()
    await expect(message).to_contain_text("@S0DUTY Проверьте, что товар есть и без брака.")
    await expect(message).to_contain_text("Размер: M · Цвет: чёрный")
    await expect(message.get_by_role("button")).to_have_count(10)


async def test_pressing_confirm_delivers_a_signed_block_actions_click(
    page: Page, receiver: Receiver, ts: str
) -> None:
    await button(page, "res-1", "Подтвердить").click()

    await expect(page.locator(".notice")).to_have_text("Clicked confirm: the app answered HTTP 200")
    action, raw = delivered(receiver)
    assert (raw["action_id"], raw["value"], raw["block_id"]) == ("confirm", "res-1", "act:res-1")
    assert (action.kind, action.line_key, action.channel_id) == ("confirm", "res-1", SHOP)
    assert (action.message_ts, action.user_id) == (ts, "U0SHOPSTAFF")


async def test_pressing_a_decline_reason_delivers_it(
    page: Page, receiver: Receiver, ts: str
) -> None:
    await button(page, "res-2", "Брак").click()

    await expect(page.locator(".notice")).to_contain_text("Clicked decline:defect")
    action, raw = delivered(receiver)
    assert (raw["action_id"], raw["value"]) == ("decline:defect", "res-2")
    assert (action.kind, action.reason, action.line_key) == ("decline", "defect", "res-2")
    assert (action.channel_id, action.message_ts, action.user_id) == (SHOP, ts, "U0SHOPSTAFF")


async def test_the_page_shows_the_decided_message_after_chat_update(
    page: Page, api: httpx.AsyncClient, ts: str
) -> None:
    outcome = LineOutcome("confirmed", DEADLINE, user_id="U0ANNA")
    decided = mapping.decided_message(REQUEST, {"res-1": outcome})
    answer = await api.post(
        "chat.update",
        json={"channel": SHOP, "ts": ts, "text": decided.text, "blocks": decided.blocks},
    )
    assert answer.json()["ok"] is True

    await page.reload()

    message = page.locator(f"[id='m{ts}']")
    await expect(message).to_contain_text("Подтверждено @U0ANNA, 2025-12-01 11:23 UTC")
    await expect(message.get_by_role("button")).to_have_count(5)  # res-2's only
    await expect(button(page, "res-1", "Подтвердить")).to_have_count(0)
