"""Password rules and the sign-in throttle decision."""

from __future__ import annotations

import pytest

from app.domain.accounts import (
    AttemptCounts,
    LoginLimits,
    check_password,
    login_wait,
    too_many_attempts,
)
from app.domain.errors import DomainError, ErrorCode

LIMITS = LoginLimits(per_account=5, per_ip=30, window_seconds=900)


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("short", "at least 10 characters"),
        ("a" * 257, "at most 256 characters"),
        ("aaaaaaaaaaaa", "not one character repeated"),
        ("anna@example.com", "not your e-mail address"),
        ("ANNA@example.com", "not your e-mail address"),
        ("annabelle9", None),
    ],
)
def test_password_rules(password: str, rule: str | None) -> None:
    if rule is None:
        check_password(password, "anna@example.com")
        return
    with pytest.raises(DomainError) as refused:
        check_password(password, "anna@example.com")
    assert refused.value.code is ErrorCode.WEAK_PASSWORD
    assert refused.value.path == ("password",)
    assert refused.value.message == f"the password must be {rule}"


def test_the_local_part_of_the_email_is_no_password() -> None:
    with pytest.raises(DomainError) as refused:
        check_password("annabelle1", "annabelle1@example.com")
    assert (refused.value.code, refused.value.path) == (ErrorCode.WEAK_PASSWORD, ("password",))
    assert refused.value.message == "the password must be not your e-mail address"


def test_a_good_password_passes_without_an_email() -> None:
    assert _refusal("correct horse battery", None) is None
    assert _refusal("annabelle1", None) is None  # only a known e-mail makes it guessable


def _refusal(password: str, email: str | None) -> DomainError | None:
    try:
        check_password(password, email)
    except DomainError as refused:
        return refused
    return None


@pytest.mark.parametrize(
    ("counts", "wait"),
    [
        (AttemptCounts(account=1, account_ttl=900, ip=1, ip_ttl=900), None),
        (AttemptCounts(account=5, account_ttl=300, ip=5, ip_ttl=300), None),
        (AttemptCounts(account=6, account_ttl=300, ip=6, ip_ttl=300), 300),
        (AttemptCounts(account=1, account_ttl=900, ip=31, ip_ttl=120), 120),
        (AttemptCounts(account=9, account_ttl=600, ip=31, ip_ttl=120), 600),
        (AttemptCounts(account=6, account_ttl=-1, ip=1, ip_ttl=900), 900),  # no TTL: a window
    ],
)
def test_login_waits_only_beyond_a_limit(counts: AttemptCounts, wait: int | None) -> None:
    assert login_wait(counts, LIMITS) == wait


def test_the_refusal_says_when_to_try_again() -> None:
    error = too_many_attempts(61)
    assert (error.code, error.retry_after, error.path) == (
        ErrorCode.TOO_MANY_ATTEMPTS,
        61,
        ("email",),
    )
    assert error.message == "too many failed sign-in attempts; try again in 2 minutes"
    assert too_many_attempts(60).message.endswith("try again in 1 minute")
