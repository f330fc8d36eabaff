"""`POST /integrations/slack/actions`: a shop employee clicked Confirm or Decline in Slack.

Thin: check Slack's signature over the raw body (401 and nothing changed otherwise), parse the
click, hand it to the shop confirmation service. Slack wants an answer within 3 seconds: the
decision is one short transaction and usually done long before; if it is not, the answer goes
out at 2.5 s and the decision finishes after it. What the shop sees next (the updated
message, an "already handled" note) goes out through the outbox.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.integrations.slack.mapping import (
    MalformedAction,
    ShopAction,
    SignatureError,
    parse_action,
    parse_interaction,
    verify_signature,
)
from app.services.shops.deciding import handle_click
from app.settings import Settings

log = structlog.get_logger(__name__)
SLACK_ACTIONS_PATH = "/integrations/slack/actions"
ANSWER_WITHIN = 2.5  # seconds; Slack shows the clicker an error after 3
_unfinished: set[asyncio.Task[Any]] = set()  # decisions that outlived their answer


def slack_actions(
    settings: Settings, clock: Callable[[], datetime], wall: Callable[[], float] = time.time
) -> Callable[[Request], Any]:
    """The endpoint Slack's interactivity posts to."""

    async def endpoint(request: Request) -> Response:
        if not settings.slack_signing_secret:
            return _answer(503, "Slack is not configured")
        body = await request.body()
        try:
            verify_signature(settings.slack_signing_secret, request.headers, body, wall())
        except SignatureError as error:
            log.warning("slack.signature_refused", reason=error.reason)
            return _answer(401, "not signed by Slack")
        try:
            action = parse_interaction(body)
        except MalformedAction as error:
            log.warning("slack.action_malformed", reason=str(error)[:200])
            return _answer(400, "not a click on a shop confirmation")
        await decide_soon(action, settings, clock)
        return Response(status_code=200)

    return endpoint


async def decide_soon(
    action: ShopAction, settings: Settings, clock: Callable[[], datetime]
) -> None:
    """Decide the click; return after at most ANSWER_WITHIN seconds, the work going on."""
    task = asyncio.ensure_future(handle_click(action, rules=settings.shop_rules, now=clock()))
    done, _ = await asyncio.wait({task}, timeout=ANSWER_WITHIN)
    if task in done:
        task.result()  # a failure is the endpoint's 500: Slack shows the clicker an error
        return
    log.warning("slack.decision_slow", line=action.line_key[:40])
    _unfinished.add(task)
    task.add_done_callback(_unfinished.discard)


async def on_socket_payload(
    payload: dict[str, Any], settings: Settings, clock: Callable[[], datetime]
) -> None:
    """A click that came over Socket Mode (already acknowledged, no signature to check)."""
    try:
        action = parse_action(payload)
    except MalformedAction as error:
        log.warning("slack.action_malformed", reason=str(error)[:200])
        return
    await handle_click(action, rules=settings.shop_rules, now=clock())


def _answer(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)
