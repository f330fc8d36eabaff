"""A shop's Slack settings: the channel its requests are posted to, and who is mentioned in
the reminder at half time. Pure: checked before anything is written."""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.domain.errors import DomainError, ErrorCode

MAX_CHANNEL_NAME = 80  # Slack's limit on a channel name
MAX_ON_DUTY = 100  # warehouse.slack_on_duty
# Slack channel names: lowercase letters, digits, "-" and "_"; ids: C… (public) or G… (private).
_CHANNEL_NAME = re.compile(rf"[a-z0-9_-]{{1,{MAX_CHANNEL_NAME}}}")
_CHANNEL_ID = re.compile(r"[CG][A-Z0-9]{8,20}")
# Mentions as Slack's message text writes them: a user, a user group, everyone active here.
_MENTION = re.compile(r"<@[UW][A-Z0-9]{2,20}>|<!subteam\^S[A-Z0-9]{2,20}>|<!here>")


@dataclass(frozen=True, slots=True)
class SlackSettings:
    """What is stored: None leaves the shop without a channel (its requests move on at once)
    or without anyone mentioned."""

    channel: str | None
    on_duty: str | None


def check_channel(value: str | None, *, path: tuple[str | int, ...] = ("channel",)) -> str | None:
    """Give a channel as stored: an id as is, a name as "#name"; None or blank clears it."""
    text = (value or "").strip()
    if not text:
        return None
    if _CHANNEL_ID.fullmatch(text):
        return text
    name = text.removeprefix("#")
    if not _CHANNEL_NAME.fullmatch(name):
        raise DomainError(
            ErrorCode.INVALID,
            f"a Slack channel is a name of 1..{MAX_CHANNEL_NAME} lowercase letters, digits, "
            "- or _ (e.g. #shop-tverskaya) or a channel id (e.g. C0123ABCD)",
            path,
        )
    return f"#{name}"


def check_on_duty(value: str | None, *, path: tuple[str | int, ...] = ("onDuty",)) -> str | None:
    """Give the on-duty mentions as stored, one space apart; None or blank clears them."""
    mentions = (value or "").split()
    if not mentions:
        return None
    joined = " ".join(mentions)
    if len(joined) > MAX_ON_DUTY or not all(_MENTION.fullmatch(m) for m in mentions):
        raise DomainError(
            ErrorCode.INVALID,
            "on duty is Slack mentions such as <!subteam^S0123ABC>, <@U0123ABC> or <!here>, "
            f"at most {MAX_ON_DUTY} characters in all, or empty",
            path,
        )
    return joined
