"""POST /integrations/slack/actions through the real app: signed clicks decide, forged, stale
and replayed ones change nothing."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from urllib.parse import urlencode

import httpx
import pytest

from app.domain.reservations import ShopConfirmation
from app.integrations.slack.mapping import sign
from app.main import create_app
from app.models.shops import ShopRequest, ShopRequestLine
from app.settings import Settings
from app.slack_actions import SLACK_ACTIONS_PATH
from tests.conftest import Clock
from tests.services.shops.test_shop_confirmation import (
    FakeSlack,
    _given,
    _open_request,
    _paid_order,
)

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


@pytest.fixture
async def slack_app(
    db: str, settings: Settings, redis_url: str, clock: Clock
) -> AsyncIterator[httpx.AsyncClient]:
    signed = settings.model_copy(update={"slack_signing_secret": SECRET})
    app = create_app(signed, redis_url=redis_url, manage_db=False, clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://vitrina.test") as c:
            yield c


def _form(request: ShopRequest, line: ShopRequestLine, action_id: str = "confirm") -> bytes:
    payload = {
        "type": "block_actions",
        "user": {"id": "U0ANNA", "username": "anna"},
        "channel": {"id": request.channel},
        "message": {"ts": request.message_ts},
        "actions": [
            {
                "action_id": action_id,
                "value": str(line.id),
                "block_id": f"act:{line.id}",
                "action_ts": "1.2",
            }
        ],
        "response_url": "https://hooks.slack.test/1",
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


def _headers(body: bytes, timestamp: int | None = None, secret: str = SECRET) -> dict[str, str]:
    ts = timestamp if timestamp is not None else int(time.time())
    return {
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": sign(secret, ts, body),
        "Content-Type": "application/x-www-form-urlencoded",
    }


async def _given_open_request(clock: Clock) -> tuple[ShopRequest, ShopRequestLine]:
    await _given(shop_a=1, shop_b=1)
    await _paid_order()
    request, line = await _open_request(FakeSlack())
    clock.now = datetime(2026, 11, 20, 12, 1, tzinfo=UTC)
    return request, line


async def test_a_signed_click_confirms_the_line(slack_app: httpx.AsyncClient, clock: Clock) -> None:
    request, line = await _given_open_request(clock)
    body = _form(request, line)

    answer = await slack_app.post(SLACK_ACTIONS_PATH, content=body, headers=_headers(body))

    assert answer.status_code == 200
    assert (await ShopRequestLine.get(id=line.id)).state is ShopConfirmation.CONFIRMED
    again = await slack_app.post(SLACK_ACTIONS_PATH, content=body, headers=_headers(body))
    assert again.status_code == 200  # a replay within the window: answered, nothing changes
    assert (await ShopRequestLine.get(id=line.id)).decided_by == "U0ANNA"


@pytest.mark.parametrize(
    "case",
    ["forged", "stale", "missing", "tampered"],
)
async def test_an_unsigned_click_is_refused_and_changes_nothing(
    slack_app: httpx.AsyncClient, clock: Clock, case: str
) -> None:
    request, line = await _given_open_request(clock)
    body = _form(request, line, "decline:not_found")
    headers = {
        "forged": _headers(body, secret="not-the-secret"),
        "stale": _headers(body, timestamp=int(time.time()) - 301),
        "missing": {"Content-Type": "application/x-www-form-urlencoded"},
        "tampered": _headers(_form(request, line)),  # signed the confirm, sends the decline
    }[case]

    answer = await slack_app.post(SLACK_ACTIONS_PATH, content=body, headers=headers)

    assert answer.status_code == 401
    assert (await ShopRequestLine.get(id=line.id)).state is ShopConfirmation.REQUESTED


async def test_a_signed_body_that_is_not_a_click_is_a_400(
    slack_app: httpx.AsyncClient, clock: Clock
) -> None:
    body = urlencode({"payload": json.dumps({"type": "view_submission"})}).encode()
    answer = await slack_app.post(SLACK_ACTIONS_PATH, content=body, headers=_headers(body))
    assert answer.status_code == 400


async def test_an_oversized_body_is_refused_before_it_is_read(slack_app: httpx.AsyncClient) -> None:
    body = b"payload=" + b"x" * (257 * 1024)
    answer = await slack_app.post(SLACK_ACTIONS_PATH, content=body, headers=_headers(body))
    assert answer.status_code == 413
