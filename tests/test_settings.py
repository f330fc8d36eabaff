"""Settings whose defaults follow other settings."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

from app.domain.outbox import Target
from app.settings import Settings


def test_links_default_to_the_address_the_service_listens_on(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, host="127.0.0.1", port=8123)
    assert settings.resolved_payment_return_url == "http://127.0.0.1:8123/"
    assert settings.resolved_storefront_url == "http://127.0.0.1:8123/"


def test_links_set_explicitly_win(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        port=8123,
        payment_return_url="https://shop.example/thanks",
        storefront_url="https://shop.example/",
    )
    assert settings.resolved_payment_return_url == "https://shop.example/thanks"
    assert settings.resolved_storefront_url == "https://shop.example/"


def test_slack_calls_retry_at_least_every_half_minute_until_the_post_timeout_is_past(
    tmp_path: Path,
) -> None:
    settings = Settings(data_dir=tmp_path)
    slack = settings.retry_policy_for(Target.SLACK)
    assert settings.retry_policy_for(Target.ONEC) == settings.retry_policy
    assert slack.cap == timedelta(seconds=30)
    delays = [slack.next_delay(n, None, random.Random(0)) for n in range(1, slack.max_attempts)]
    assert max(d for d in delays if d is not None) <= timedelta(seconds=30)
    shortest = sum(
        (slack.next_delay(n, None, _Lowest()) or timedelta() for n in range(1, slack.max_attempts)),
        timedelta(),
    )
    assert shortest >= settings.shop_rules.post_timeout


class _Lowest(random.Random):
    def random(self) -> float:
        return 0.0  # every jittered delay at its shortest
