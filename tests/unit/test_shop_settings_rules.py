"""A shop's Slack settings: a channel name or id, on-duty mentions, and what clears them."""

from __future__ import annotations

import pytest

from app.domain.errors import DomainError, ErrorCode
from app.domain.shop_settings import MAX_CHANNEL_NAME, check_channel, check_on_duty


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("#shop-tverskaya", "#shop-tverskaya"),
        ("shop_kazan-2", "#shop_kazan-2"),  # the "#" is how we store a name
        ("  #shop-a ", "#shop-a"),
        ("C0123ABCD", "C0123ABCD"),  # an id as Slack gives it
        ("G0123ABCDEF", "G0123ABCDEF"),  # a private channel's id
        ("#" + "a" * MAX_CHANNEL_NAME, "#" + "a" * MAX_CHANNEL_NAME),
        (None, None),
        ("", None),
        ("   ", None),
    ],
)
def test_a_channel_is_stored_as_a_name_with_hash_or_as_an_id(
    given: str | None, stored: str | None
) -> None:
    assert check_channel(given) == stored


@pytest.mark.parametrize(
    "given",
    [
        "#Shop-A",  # Slack names are lowercase
        "#shop a",
        "#магазин",
        "#shop.a",
        "##shop",
        "#",
        "a" * (MAX_CHANNEL_NAME + 1),
        "C0123",  # too short for an id, and not lowercase
        "https://slack.com/app_redirect?channel=C0123ABCD",
    ],
)
def test_anything_else_is_not_a_channel(given: str) -> None:
    with pytest.raises(DomainError) as refused:
        check_channel(given)
    assert (refused.value.code, tuple(refused.value.path)) == (ErrorCode.INVALID, ("channel",))


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("<!subteam^S0123ABC>", "<!subteam^S0123ABC>"),
        ("<@U0123ABC>", "<@U0123ABC>"),
        ("<@W0123ABC>", "<@W0123ABC>"),  # an Enterprise Grid user
        ("<!here>", "<!here>"),
        (" <@U0ANNA>   <@U0BORIS> ", "<@U0ANNA> <@U0BORIS>"),  # two people on duty
        ("", None),
        (None, None),
    ],
)
def test_on_duty_is_slack_mentions_or_nothing(given: str | None, stored: str | None) -> None:
    assert check_on_duty(given) == stored


@pytest.mark.parametrize(
    "given",
    [
        "@anna",  # how a person types it, not how Slack's text encodes it
        "<@u0anna>",
        "<!subteam^S0123ABC|@shop-a>",
        "<!channel>",  # everyone in the channel, at every reminder: not on duty
        "<@U0ANNA>, <@U0BORIS>",
        " ".join(["<@U0123456789>"] * 7),  # more than the 100 characters stored
    ],
)
def test_anything_else_is_not_an_on_duty_mention(given: str) -> None:
    with pytest.raises(DomainError) as refused:
        check_on_duty(given)
    assert (refused.value.code, tuple(refused.value.path)) == (ErrorCode.INVALID, ("onDuty",))
