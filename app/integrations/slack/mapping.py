"""Block Kit for a shop confirmation request, and the pure side of Slack's interactivity.

Pure functions only (no I/O, no clock of their own):
- `request_message(request)`: the message posted to the shop's channel: a header with the order
  number, the on-duty mention, courier or pickup, the deadline as a Slack date token; per line a
  section (name, size, colour, SKU, quantity; the photo as its accessory) and an actions block
  with Confirm and four Decline buttons, one per reason.
- `decided_message(request, outcomes)`: the same message after decisions (`chat.update`): each
  settled line says who confirmed or declined it and when, without buttons; lines still open
  keep theirs.
- `verify_signature(...)`: Slack's v0 request signature, through slack-sdk's SignatureVerifier.
- `parse_interaction(raw_body)` / `parse_action(payload)`: a `block_actions` click as a
  `ShopAction`, or `MalformedAction` for anything else.

Identifiers in the message: every line's section has `block_id` `line:{key}` and its actions
block `act:{key}`; every button's `value` is the line key; `action_id` says what was chosen:
`confirm`, or `decline:{reason}` with reason one of `DeclineReason` (Slack wants the
action ids of one block to differ, so the reason is part of the id, not the value).

A message holds at most 50 blocks, so a request has at most `MAX_LINES` lines.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import parse_qs

from slack_sdk.signature import Clock, SignatureVerifier

from app.domain.shop_confirmation import DeclineReason

Json = dict[str, Any]
MAX_LINES = 15  # 3 blocks a line plus the header, the intro and the context: within 50
SIGNATURE_WINDOW = 5 * 60  # seconds between Slack's timestamp and ours, either way
CONFIRM = "confirm"
DECLINE_PREFIX = "decline:"
MAX_VALUE = 2000  # Slack's limit on a button value
MAX_BUTTON_TEXT = 75


DECLINE_LABELS: dict[DeclineReason, str] = {
    DeclineReason.NOT_FOUND: "Нет в наличии",
    DeclineReason.DEFECT: "Брак",
    DeclineReason.KEPT_FOR_CUSTOMER: "Отложен для покупателя",
    DeclineReason.OTHER: "Другое",
}
DELIVERY_LABELS = {"courier": "Курьерская доставка", "pickup": "Самовывоз из магазина"}


@dataclass(frozen=True)
class ConfirmationLine:
    key: str  # ours, opaque to Slack: comes back as the button value
    name: str
    sku: str
    quantity: int
    size: str | None = None
    colour: str | None = None
    photo_url: str | None = None


@dataclass(frozen=True)
class ConfirmationRequest:
    order_number: str
    delivery: Literal["courier", "pickup"]
    deadline: datetime  # aware
    lines: tuple[ConfirmationLine, ...]
    on_duty: str | None = None  # a Slack mention, e.g. "<!subteam^S123>" or "<@U123>"


@dataclass(frozen=True)
class LineOutcome:
    """How one line was settled, for the decided message."""

    kind: Literal["confirmed", "declined", "expired", "withdrawn"]
    at: datetime
    user_id: str | None = None  # who clicked (None for "expired")
    reason: DeclineReason | None = None


@dataclass(frozen=True)
class SlackMessage:
    text: str  # the notification text (and what clients without Block Kit show)
    blocks: list[Json]


# --- the messages ---------------------------------------------------------------------------


def request_message(request: ConfirmationRequest) -> SlackMessage:
    """The message asking the shop to confirm each line."""
    return SlackMessage(_summary(request), _blocks(request, {}))


def decided_message(
    request: ConfirmationRequest, outcomes: Mapping[str, LineOutcome]
) -> SlackMessage:
    """The message after decisions: settled lines (by key) lose their buttons."""
    unknown = set(outcomes) - {line.key for line in request.lines}
    if unknown:
        raise ValueError(f"outcomes for lines not in the request: {sorted(unknown)}")
    if outcomes and all(o.kind == "withdrawn" for o in outcomes.values()):
        text = f"Заказ №{request.order_number} отменён: ничего делать не нужно"
    elif len(outcomes) == len(request.lines):
        text = f"Заказ №{request.order_number}: все позиции обработаны"
    else:
        text = _summary(request)
    return SlackMessage(text, _blocks(request, outcomes))


def reminder_message(request: ConfirmationRequest) -> SlackMessage:
    """A reply in the request's thread at half time, mentioning the on-duty group."""
    mention = f"{request.on_duty} " if request.on_duty else ""
    text = (
        f"{mention}Напоминание: заказ №{request.order_number} ждёт ответа до "
        f"{date_token(request.deadline, '{time}')}"
    )
    return SlackMessage(text, [{"type": "section", "text": _mrkdwn(text)}])


def date_token(moment: datetime, style: str = "{date_short_pretty} {time}") -> str:
    """`<!date^UNIX^style|fallback>`: shown in each reader's own time zone by Slack."""
    if moment.tzinfo is None:
        raise ValueError("the moment must be timezone-aware")
    unix = int(moment.timestamp())
    fallback = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{unix}^{style}|{fallback}>"


def escape(text: str) -> str:
    """Slack's three control characters in user-supplied text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _summary(request: ConfirmationRequest) -> str:
    count = sum(line.quantity for line in request.lines)
    return (
        f"Заказ №{request.order_number}: подтвердите наличие ({count} шт.) "
        f"до {request.deadline.astimezone(UTC):%H:%M} UTC"
    )


def _blocks(request: ConfirmationRequest, outcomes: Mapping[str, LineOutcome]) -> list[Json]:
    if not request.lines:
        raise ValueError("a confirmation request needs at least one line")
    if len(request.lines) > MAX_LINES:
        raise ValueError(f"at most {MAX_LINES} lines fit in one Slack message")
    keys = [line.key for line in request.lines]
    if len(set(keys)) != len(keys):
        raise ValueError("line keys must differ")
    open_lines = len(request.lines) - len(outcomes)
    intro = [f"*{DELIVERY_LABELS[request.delivery]}*"]
    if open_lines:
        mention = f"{request.on_duty} " if request.on_duty else ""
        intro.insert(0, f"{mention}Проверьте, что товар есть и без брака.")
        intro.append(f"Ответьте до {date_token(request.deadline, '{time}')}")
    blocks: list[Json] = [
        _plain_block("header", f"Заказ №{request.order_number}"),
        {"type": "section", "text": _mrkdwn("\n".join(intro))},
    ]
    for line in request.lines:
        blocks.append(_line_section(line))
        outcome = outcomes.get(line.key)
        blocks.append(_line_actions(line) if outcome is None else _line_outcome(line, outcome))
        blocks.append({"type": "divider"})
    blocks.append(
        {
            "type": "context",
            "elements": [_mrkdwn(f"Срок ответа: {date_token(request.deadline)}")],
        }
    )
    return blocks


def _line_section(line: ConfirmationLine) -> Json:
    if len(line.key) > MAX_VALUE or not line.key:
        raise ValueError("a line key must have 1..2000 characters")
    details = [f"Размер: {escape(line.size)}"] if line.size else []
    if line.colour:
        details.append(f"Цвет: {escape(line.colour)}")
    rows = [f"*{escape(line.name)}*"]
    if details:
        rows.append(" · ".join(details))
    rows.append(f"Артикул: `{escape(line.sku)}` · Количество: *{line.quantity}*")
    section: Json = {"type": "section", "block_id": f"line:{line.key}"}
    section["text"] = _mrkdwn("\n".join(rows))
    if line.photo_url:
        section["accessory"] = {
            "type": "image",
            "image_url": line.photo_url,
            "alt_text": line.name[:2000],
        }
    return section


def _line_actions(line: ConfirmationLine) -> Json:
    buttons = [_button(CONFIRM, "Подтвердить", line.key, "primary")]
    for reason, label in DECLINE_LABELS.items():
        style = "danger" if reason in (DeclineReason.NOT_FOUND, DeclineReason.DEFECT) else None
        buttons.append(_button(DECLINE_PREFIX + reason, label, line.key, style))
    return {"type": "actions", "block_id": f"act:{line.key}", "elements": buttons}


def _line_outcome(line: ConfirmationLine, outcome: LineOutcome) -> Json:
    when = date_token(outcome.at, "{date_short_pretty} {time}")
    who = f"<@{outcome.user_id}>" if outcome.user_id else ""
    if outcome.kind == "confirmed":
        text = f":white_check_mark: Подтверждено {who}, {when}"
    elif outcome.kind == "declined":
        reason = DECLINE_LABELS[outcome.reason or DeclineReason.OTHER]
        text = f":x: Отказ ({reason}) {who}, {when}"
    elif outcome.kind == "withdrawn":
        text = f":no_entry_sign: Заказ отменён, {when}: ничего делать не нужно"
    else:
        text = f":hourglass: Нет ответа в срок, {when}: запрос передан дальше"
    return {"type": "context", "block_id": f"act:{line.key}", "elements": [_mrkdwn(text)]}


def _button(action_id: str, label: str, value: str, style: str | None) -> Json:
    button: Json = {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": label[:MAX_BUTTON_TEXT], "emoji": True},
        "value": value,
    }
    return button | ({"style": style} if style else {})


def _mrkdwn(text: str) -> Json:
    return {"type": "mrkdwn", "text": text}


def _plain_block(kind: str, text: str) -> Json:
    return {"type": kind, "text": {"type": "plain_text", "text": text[:150], "emoji": True}}


# --- signatures -----------------------------------------------------------------------------


class SignatureError(Exception):
    """A request that does not prove it comes from Slack: answer 401, change nothing."""

    def __init__(self, reason: Literal["missing", "stale", "mismatch"]) -> None:
        super().__init__(reason)
        self.reason = reason


class _FixedClock(Clock):
    def __init__(self, now: float) -> None:
        self._now = now

    def now(self) -> float:
        return self._now


def verify_signature(
    signing_secret: str, headers: Mapping[str, str], raw_body: bytes, now: float
) -> None:
    """Raise SignatureError unless `raw_body` is signed by Slack within 5 minutes of `now`.

    The comparison is slack-sdk's (hmac.compare_digest, constant-time). Header names are
    matched case-insensitively. A timestamp that is not an integer, or a signature or body
    that is not ASCII/UTF-8, is a mismatch rather than an exception.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    timestamp = lowered.get("x-slack-request-timestamp")
    signature = lowered.get("x-slack-signature")
    if not timestamp or not signature:
        raise SignatureError("missing")
    if not re.fullmatch(r"\d{1,12}", timestamp):
        raise SignatureError("mismatch")
    if abs(now - int(timestamp)) > SIGNATURE_WINDOW:
        raise SignatureError("stale")
    verifier = SignatureVerifier(signing_secret, clock=_FixedClock(now))
    try:
        valid = verifier.is_valid(raw_body, timestamp, signature)
    except (TypeError, UnicodeDecodeError):  # a non-ASCII signature, a non-UTF-8 body
        valid = False
    if not valid:
        raise SignatureError("mismatch")


def sign(signing_secret: str, timestamp: int, raw_body: bytes) -> str:
    """The `X-Slack-Signature` Slack would send (for the simulator and tests), over raw bytes."""
    base = b"v0:" + str(timestamp).encode() + b":" + raw_body
    return "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()


# --- clicks ---------------------------------------------------------------------------------


class MalformedAction(ValueError):
    """An interactivity request that is not one click on one of our buttons."""


@dataclass(frozen=True)
class ShopAction:
    kind: Literal["confirm", "decline"]
    reason: DeclineReason | None  # for a decline
    line_key: str
    user_id: str
    user_name: str | None
    channel_id: str
    message_ts: str
    action_ts: str
    response_url: str | None


def parse_interaction(raw_body: bytes) -> ShopAction:
    """The form Slack POSTs (`payload=` a JSON document) as a ShopAction."""
    try:
        fields = parse_qs(raw_body.decode("utf-8"), strict_parsing=True)
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedAction("the body is not a UTF-8 form") from exc
    documents = fields.get("payload", [])
    if len(documents) != 1:
        raise MalformedAction("the form needs exactly one payload field")
    try:
        payload = json.loads(documents[0])
    except ValueError as exc:
        raise MalformedAction("the payload is not JSON") from exc
    return parse_action(payload)


def parse_action(payload: Any) -> ShopAction:
    """A `block_actions` payload with one action of ours as a ShopAction."""
    if not isinstance(payload, dict):
        raise MalformedAction("the payload is not a JSON object")
    if payload.get("type") != "block_actions":
        raise MalformedAction(f"unexpected payload type {payload.get('type')!r}")
    actions = payload.get("actions")
    if not isinstance(actions, list) or len(actions) != 1 or not isinstance(actions[0], dict):
        raise MalformedAction("expected exactly one action")
    action = actions[0]
    action_id = _text(action, "action_id", "actions.0")
    kind: Literal["confirm", "decline"]
    if action_id == CONFIRM:
        kind, reason = "confirm", None
    elif action_id.startswith(DECLINE_PREFIX):
        try:
            kind, reason = "decline", DeclineReason(action_id.removeprefix(DECLINE_PREFIX))
        except ValueError as exc:
            raise MalformedAction(f"unknown decline reason in {action_id!r}") from exc
    else:
        raise MalformedAction(f"unknown action_id {action_id!r}")
    user = _object(payload, "user")
    channel = _object(payload, "channel")
    message = _object(payload, "message")
    name = user.get("username", user.get("name"))
    response_url = payload.get("response_url")
    return ShopAction(
        kind=kind,
        reason=reason,
        line_key=_text(action, "value", "actions.0"),
        user_id=_text(user, "id", "user"),
        user_name=name if isinstance(name, str) else None,
        channel_id=_text(channel, "id", "channel"),
        message_ts=_text(message, "ts", "message"),
        action_ts=_text(action, "action_ts", "actions.0"),
        response_url=response_url if isinstance(response_url, str) else None,
    )


def _object(parent: Json, key: str) -> Json:
    value = parent.get(key)
    if not isinstance(value, dict):
        raise MalformedAction(f"{key} is missing or not an object")
    return value


def _text(parent: Json, key: str, where: str) -> str:
    value = parent.get(key)
    if not isinstance(value, str) or not value or len(value) > MAX_VALUE:
        raise MalformedAction(f"{where}.{key} is missing or not a short string")
    return value
