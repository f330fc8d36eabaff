"""Block Kit of a shop confirmation request, Slack signatures and clicks: exact shapes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest

from app.domain.shop_confirmation import DeclineReason
from app.integrations.slack import mapping
from app.integrations.slack.mapping import (
    ConfirmationLine,
    ConfirmationRequest,
    LineOutcome,
    MalformedAction,
    ShopAction,
    SignatureError,
)

DEADLINE = datetime(2025, 12, 1, 11, 23, 0, tzinfo=UTC)  # 1764588180
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
DRESS = ConfirmationLine(
    key="res-1",
    name="Платье миди <Лён & шёлк>",
    sku="DR-0042-BLK-M",
    quantity=1,
    size="M",
    colour="чёрный",
    photo_url="https://cdn.example/dr-0042.jpg",
)
SCARF = ConfirmationLine(key="res-2", name="Шарф", sku="SC-7", quantity=2)
REQUEST = ConfirmationRequest(
    order_number="V-000123",
    delivery="courier",
    deadline=DEADLINE,
    lines=(DRESS, SCARF),
    on_duty="<!subteam^S0DUTY>",
)


def buttons(key: str) -> dict[str, Any]:
    def button(action_id: str, text: str, style: str | None) -> dict[str, Any]:
        shape: dict[str, Any] = {
            "type": "button",
            "action_id": action_id,
            "text": {"type": "plain_text", "text": text, "emoji": True},
            "value": key,
        }
        return shape | ({"style": style} if style else {})

    return {
        "type": "actions",
        "block_id": f"act:{key}",
        "elements": [
            button("confirm", "Подтвердить", "primary"),
            button("decline:not_found", "Нет в наличии", "danger"),
            button("decline:defect", "Брак", "danger"),
            button("decline:kept_for_customer", "Отложен для покупателя", None),
            button("decline:other", "Другое", None),
        ],
    }


DRESS_SECTION = {
    "type": "section",
    "block_id": "line:res-1",
    "text": {
        "type": "mrkdwn",
        "text": "*Платье миди &lt;Лён &amp; шёлк&gt;*\n"
        "Размер: M · Цвет: чёрный\n"
        "Артикул: `DR-0042-BLK-M` · Количество: *1*",
    },
    "accessory": {
        "type": "image",
        "image_url": "https://cdn.example/dr-0042.jpg",
        "alt_text": "Платье миди <Лён & шёлк>",
    },
}
SCARF_SECTION = {
    "type": "section",
    "block_id": "line:res-2",
    "text": {"type": "mrkdwn", "text": "*Шарф*\nАртикул: `SC-7` · Количество: *2*"},
}
HEADER = {
    "type": "header",
    "text": {"type": "plain_text", "text": "Заказ №V-000123", "emoji": True},
}
CONTEXT = {
    "type": "context",
    "elements": [
        {
            "type": "mrkdwn",
            "text": "Срок ответа: <!date^1764588180^{date_short_pretty} {time}"
            "|2025-12-01 11:23 UTC>",
        }
    ],
}


def test_a_request_has_each_line_with_its_buttons_and_the_deadline_as_a_date_token() -> None:
    message = mapping.request_message(REQUEST)

    assert message.text == "Заказ №V-000123: подтвердите наличие (3 шт.) до 11:23 UTC"
    assert message.blocks == [
        HEADER,
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": "<!subteam^S0DUTY> Проверьте, что товар есть и без брака.\n"
                "*Курьерская доставка*\n"
                "Ответьте до <!date^1764588180^{time}|2025-12-01 11:23 UTC>",
            },
        },
        DRESS_SECTION,
        buttons("res-1"),
        {"type": "divider"},
        SCARF_SECTION,
        buttons("res-2"),
        {"type": "divider"},
        CONTEXT,
    ]


def test_a_pickup_request_without_an_on_duty_group_says_so() -> None:
    request = ConfirmationRequest("V-1", "pickup", DEADLINE, (SCARF,))

    intro = mapping.request_message(request).blocks[1]["text"]["text"]

    assert intro.splitlines() == [
        "Проверьте, что товар есть и без брака.",
        "*Самовывоз из магазина*",
        "Ответьте до <!date^1764588180^{time}|2025-12-01 11:23 UTC>",
    ]


def test_settled_lines_say_who_and_when_and_lose_their_buttons() -> None:
    at = DEADLINE - timedelta(minutes=5)  # 1764587880
    outcomes = {
        "res-1": LineOutcome("confirmed", at, "U0ANNA"),
        "res-2": LineOutcome("declined", at, "U0IVAN", DeclineReason.DEFECT),
    }

    message = mapping.decided_message(REQUEST, outcomes)

    token = "<!date^1764587880^{date_short_pretty} {time}|2025-12-01 11:18 UTC>"
    assert message.text == "Заказ №V-000123: все позиции обработаны"
    assert message.blocks == [
        HEADER,
        {"type": "section", "text": {"type": "mrkdwn", "text": "*Курьерская доставка*"}},
        DRESS_SECTION,
        {
            "type": "context",
            "block_id": "act:res-1",
            "elements": [
                {"type": "mrkdwn", "text": f":white_check_mark: Подтверждено <@U0ANNA>, {token}"}
            ],
        },
        {"type": "divider"},
        SCARF_SECTION,
        {
            "type": "context",
            "block_id": "act:res-2",
            "elements": [{"type": "mrkdwn", "text": f":x: Отказ (Брак) <@U0IVAN>, {token}"}],
        },
        {"type": "divider"},
        CONTEXT,
    ]
    assert not [b for b in message.blocks if b["type"] == "actions"]


def test_a_partly_decided_request_keeps_the_open_lines_buttons() -> None:
    outcomes = {"res-2": LineOutcome("expired", DEADLINE)}

    message = mapping.decided_message(REQUEST, outcomes)

    assert message.blocks[3] == buttons("res-1")
    assert message.blocks[6]["elements"][0]["text"] == (
        ":hourglass: Нет ответа в срок, "
        "<!date^1764588180^{date_short_pretty} {time}|2025-12-01 11:23 UTC>: "
        "запрос передан дальше"
    )
    assert message.text.startswith("Заказ №V-000123: подтвердите")


def test_a_request_of_a_cancelled_order_says_so_and_has_no_buttons() -> None:
    outcomes = {key: LineOutcome("withdrawn", DEADLINE) for key in ("res-1", "res-2")}

    message = mapping.decided_message(REQUEST, outcomes)

    assert message.text == "Заказ №V-000123 отменён: ничего делать не нужно"
    assert not [b for b in message.blocks if b["type"] == "actions"]
    assert message.blocks[3]["elements"][0]["text"] == (
        ":no_entry_sign: Заказ отменён, "
        "<!date^1764588180^{date_short_pretty} {time}|2025-12-01 11:23 UTC>: "
        "ничего делать не нужно"
    )


@pytest.mark.parametrize(
    "request_",
    [
        ConfirmationRequest("V-1", "courier", DEADLINE, ()),
        ConfirmationRequest("V-1", "courier", DEADLINE, (SCARF, SCARF)),
        ConfirmationRequest("V-1", "courier", DEADLINE, (SCARF,) * 16),
        ConfirmationRequest("V-1", "courier", DEADLINE.replace(tzinfo=None), (SCARF,)),
    ],
)
def test_a_request_slack_cannot_show_is_refused(request_: ConfirmationRequest) -> None:
    with pytest.raises(ValueError):
        mapping.request_message(request_)


def test_outcomes_of_lines_not_in_the_request_are_refused() -> None:
    with pytest.raises(ValueError, match="res-9"):
        mapping.decided_message(REQUEST, {"res-9": LineOutcome("expired", DEADLINE)})


# --- signatures -------------------------------------------------------------------------------

BODY = b"payload=%7B%22type%22%3A%22block_actions%22%7D"
NOW = 1_764_590_000


def signed(timestamp: int = NOW, body: bytes = BODY) -> dict[str, str]:
    return {
        "X-Slack-Request-Timestamp": str(timestamp),
        "X-Slack-Signature": mapping.sign(SECRET, timestamp, body),
    }


def test_the_signature_is_slacks_documented_v0_hmac() -> None:
    # Slack's published example (docs.slack.dev, "Verifying requests from Slack").
    body = (
        b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&"
        b"channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&"
        b"command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2F"
        b"commands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&"
        b"trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    )
    assert mapping.sign(SECRET, 1531420618, body) == (
        "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    )


def test_a_good_signature_passes_within_five_minutes_either_way() -> None:
    mapping.verify_signature(SECRET, signed(), BODY, now=NOW)
    mapping.verify_signature(SECRET, signed(NOW - 300), BODY, now=NOW)
    mapping.verify_signature(SECRET, signed(NOW + 300), BODY, now=NOW)
    lowered = {k.lower(): v for k, v in signed().items()}
    mapping.verify_signature(SECRET, lowered, BODY, now=NOW)


@pytest.mark.parametrize(
    ("headers", "body", "reason"),
    [
        ({}, BODY, "missing"),
        ({"X-Slack-Request-Timestamp": str(NOW)}, BODY, "missing"),
        (signed(NOW - 301), BODY, "stale"),
        (signed(NOW + 301), BODY, "stale"),
        (signed() | {"X-Slack-Signature": "v0=" + "0" * 64}, BODY, "mismatch"),
        (signed() | {"X-Slack-Signature": "v0=ключ"}, BODY, "mismatch"),
        (signed() | {"X-Slack-Request-Timestamp": "1e9"}, BODY, "mismatch"),
        # the timestamp is part of what is signed: a fresh one on an old signature fails
        (signed(NOW - 400) | {"X-Slack-Request-Timestamp": str(NOW)}, BODY, "mismatch"),
        (signed(), BODY.replace(b"block", b"blocK"), "mismatch"),  # one byte changed
        (signed(), BODY + b"&x=1", "mismatch"),
        (signed(body=b"\xff"), b"\xff", "mismatch"),  # not UTF-8
    ],
)
def test_a_bad_stale_or_replayed_signature_is_refused(
    headers: dict[str, str], body: bytes, reason: str
) -> None:
    with pytest.raises(SignatureError) as caught:
        mapping.verify_signature(SECRET, headers, body, now=NOW)
    assert caught.value.reason == reason


def test_another_apps_secret_does_not_verify() -> None:
    with pytest.raises(SignatureError):
        mapping.verify_signature("another-secret", signed(), BODY, now=NOW)


# --- clicks -----------------------------------------------------------------------------------


def click(action_id: str = "confirm", value: str = "res-1", **changes: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": "U0ANNA", "username": "anna", "name": "anna", "team_id": "T1"},
        "channel": {"id": "C0SHOP1", "name": "shop-tverskaya"},
        "message": {"type": "message", "ts": "1764590000.000100", "blocks": []},
        "response_url": "https://hooks.slack.com/actions/T1/1/x",
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": f"act:{value}",
                "value": value,
                "action_ts": "1764590010.123456",
            }
        ],
    }
    return payload | changes


def test_a_confirm_click_is_parsed() -> None:
    assert mapping.parse_action(click()) == ShopAction(
        kind="confirm",
        reason=None,
        line_key="res-1",
        user_id="U0ANNA",
        user_name="anna",
        channel_id="C0SHOP1",
        message_ts="1764590000.000100",
        action_ts="1764590010.123456",
        response_url="https://hooks.slack.com/actions/T1/1/x",
    )


@pytest.mark.parametrize("reason", list(DeclineReason))
def test_each_decline_reason_is_parsed(reason: DeclineReason) -> None:
    action = mapping.parse_action(click(f"decline:{reason}", "res-2"))
    assert (action.kind, action.reason, action.line_key) == ("decline", reason, "res-2")


def test_the_form_slack_posts_is_parsed() -> None:
    body = urlencode({"payload": json.dumps(click(), ensure_ascii=False)}).encode()
    assert mapping.parse_interaction(body) == mapping.parse_action(click())


@pytest.mark.parametrize(
    "payload",
    [
        [],
        click(type="view_submission"),
        click(actions=[]),
        click(actions=[click()["actions"][0]] * 2),
        click("decline:bored"),
        click("approve"),
        click(value=""),
        click(user={"name": "anna"}),
        click(user="U0ANNA"),
        click(channel=None),
        click(message={"type": "message"}),
        click(value="x" * 2001),
    ],
)
def test_a_malformed_click_is_a_typed_error(payload: Any) -> None:
    with pytest.raises(MalformedAction):
        mapping.parse_action(payload)


@pytest.mark.parametrize(
    "body",
    [b"", b"payload=%7B", b"payload=1&payload=2", b"\xff\xfe", b"other=1", b"payload"],
)
def test_a_malformed_form_is_a_typed_error(body: bytes) -> None:
    with pytest.raises(MalformedAction):
        mapping.parse_interaction(body)
