"""The partners' settings: what production must set, what dev and tests get by default."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from app.settings import Settings


def test_production_signs_only_with_its_own_key_and_refuses_loopback_and_http(
    tmp_path: Path,
) -> None:
    prod = Settings(environment="prod", data_dir=tmp_path)
    dev = Settings(environment="dev", data_dir=tmp_path)
    keyed = Settings(environment="prod", data_dir=tmp_path, partner_secret_key="k" * 32)

    assert (prod.resolved_partner_secret_key, keyed.resolved_partner_secret_key) == ("", "k" * 32)
    assert dev.resolved_partner_secret_key == "vitrina-dev-partner-secret-key"
    assert (prod.webhook_loopback_allowed, prod.webhook_https_required) == (False, True)
    assert (dev.webhook_loopback_allowed, dev.webhook_https_required) == (True, False)
    assert not Settings(environment="dev", webhook_allow_loopback=False).webhook_loopback_allowed


def test_a_partner_event_is_tried_for_two_to_four_hours_by_default(tmp_path: Path) -> None:
    policy = Settings(data_dir=tmp_path).partner_retry_policy
    ceilings = [min(policy.cap, policy.base * 2 ** (n - 1)) for n in range(1, policy.max_attempts)]

    assert policy.max_attempts == 16 and policy.cap == timedelta(hours=1)
    assert sum(ceilings, timedelta()) / 2 > timedelta(hours=2)
    assert sum(ceilings, timedelta()) < timedelta(hours=4, minutes=10)
    assert policy.next_delay(16, None) is None
