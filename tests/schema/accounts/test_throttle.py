"""Sign-in guessing is throttled per account and per client address, before any password check."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from app.settings import Settings
from tests.conftest import Clock
from tests.schema.accounts.flows import (
    LOGIN,
    PASSWORD,
    REGISTER,
    api_with,
    errors_of,
    flush_redis,
    ok,
    sign_up,
)

EMAIL = "anna@example.com"
WRONG = "not the password"


@pytest.fixture
async def api(
    db: str, settings: Settings, redis_url: str, clock: Clock
) -> AsyncIterator[httpx.AsyncClient]:
    await flush_redis(redis_url)
    limits = {
        "login_failures_per_account": 5,
        "login_failures_per_ip": 8,
        "login_window_minutes": 15,
    }
    async with api_with(settings.model_copy(update=limits), redis_url, clock) as client:
        yield client


def _codes(errors: list[dict[str, object]]) -> list[object]:
    return [e["code"] for e in errors]


async def test_the_sixth_try_on_an_account_waits_even_with_the_right_password(
    api: httpx.AsyncClient,
) -> None:
    await sign_up(api, EMAIL)
    for _ in range(5):
        assert _codes(await errors_of(api, LOGIN, "login", email=EMAIL, password=WRONG)) == [
            "INVALID_CREDENTIALS"
        ]
    [refused] = await errors_of(api, LOGIN, "login", email=EMAIL, password=PASSWORD)
    assert refused["code"] == "TOO_MANY_ATTEMPTS"
    assert refused["path"] == ["email"]
    assert 0 < refused["retryAfter"] <= 15 * 60
    assert refused["message"] == "too many failed sign-in attempts; try again in 15 minutes"
    # another account from the same address is still let in
    await sign_up(api, "boris@example.com")
    await ok(api, LOGIN, "login", email="boris@example.com", password=PASSWORD)


async def test_the_account_count_is_per_normalised_email(api: httpx.AsyncClient) -> None:
    await sign_up(api, EMAIL)
    for spelling in ("ANNA@example.com", " anna@EXAMPLE.com", EMAIL, EMAIL, EMAIL):
        await errors_of(api, LOGIN, "login", email=spelling, password=WRONG)
    assert _codes(await errors_of(api, LOGIN, "login", email=EMAIL, password=PASSWORD)) == [
        "TOO_MANY_ATTEMPTS"
    ]


async def test_one_address_guessing_across_many_emails_is_stopped(api: httpx.AsyncClient) -> None:
    await sign_up(api, EMAIL)
    for i in range(8):
        assert _codes(
            await errors_of(api, LOGIN, "login", email=f"victim{i}@example.com", password=WRONG)
        ) == ["INVALID_CREDENTIALS"]
    [refused] = await errors_of(api, LOGIN, "login", email=EMAIL, password=PASSWORD)
    assert refused["code"] == "TOO_MANY_ATTEMPTS" and refused["retryAfter"] > 0


async def test_a_successful_login_clears_the_account_count(api: httpx.AsyncClient) -> None:
    await sign_up(api, EMAIL)
    for _ in range(4):
        await errors_of(api, LOGIN, "login", email=EMAIL, password=WRONG)
    await ok(api, LOGIN, "login", email=EMAIL, password=PASSWORD)
    for _ in range(3):  # 4 + 3 failures would be over the limit without the reset
        assert _codes(await errors_of(api, LOGIN, "login", email=EMAIL, password=WRONG)) == [
            "INVALID_CREDENTIALS"
        ]
    await ok(api, LOGIN, "login", email=EMAIL, password=PASSWORD)


RESET = """mutation P($email: String!) { requestPasswordReset(email: $email) {
  ok errors { code path message retryAfter } } }"""


@pytest.fixture
async def mailer(
    db: str, settings: Settings, redis_url: str, clock: Clock
) -> AsyncIterator[httpx.AsyncClient]:
    await flush_redis(redis_url)
    limits = {"messages_per_address": 3, "messages_per_ip": 8, "message_window_minutes": 60}
    async with api_with(settings.model_copy(update=limits), redis_url, clock) as client:
        yield client


async def test_codes_and_links_to_one_address_are_limited_whether_or_not_it_has_an_account(
    mailer: httpx.AsyncClient,
) -> None:
    await sign_up(mailer, EMAIL)  # one message to EMAIL, one from this client
    for email, allowed in (("nobody@example.com", 3), (EMAIL, 2)):
        for _ in range(allowed):
            await ok(mailer, RESET, "requestPasswordReset", email=email)
        [refused] = await errors_of(mailer, RESET, "requestPasswordReset", email=email)
        assert (refused["code"], refused["path"]) == ("TOO_MANY_ATTEMPTS", ["email"])
        assert refused["message"] == "too many codes or links sent; try again in 60 minutes"
        assert 0 < refused["retryAfter"] <= 3600


async def test_one_client_cannot_send_codes_to_many_addresses(mailer: httpx.AsyncClient) -> None:
    register = {"password": PASSWORD, "firstName": "Анна"}
    for n in range(8):
        await ok(
            mailer, REGISTER, "register", input={"email": f"shopper{n}@example.com", **register}
        )
    [refused] = await errors_of(
        mailer, REGISTER, "register", input={"email": "one-more@example.com", **register}
    )
    assert refused["code"] == "TOO_MANY_ATTEMPTS"
