"""Sign in, refresh with rotation, sign out; password reset and change end every session."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any, cast

import httpx
import pytest
from redis.asyncio import Redis

from app.domain.errors import DomainError, ErrorCode
from app.models.customers import Customer, CustomerSession
from app.services.accounts.caller import AccountCall, Device
from app.services.accounts.sessions import REUSE_GRACE, end_all_sessions, refresh_session
from app.services.jobs import NoQueue
from app.settings import Settings
from tests.conftest import Clock, graphql
from tests.schema.accounts.flows import (
    LOGIN,
    LOGOUT,
    PASSWORD,
    REFRESH,
    errors_of,
    flush_redis,
    me,
    messages,
    ok,
    sign_up,
)

EMAIL = "anna@example.com"
NEW_PASSWORD = "a much better one 42"
RESET_REQUEST = """mutation Q($email: String!) { requestPasswordReset(email: $email) {
  ok errors { code } } }"""
RESET = """mutation R($token: String!, $password: String!) {
  resetPassword(token: $token, newPassword: $password) {
    tokens { accessToken refreshToken } errors { code path message } } }"""
CHANGE = """mutation C($current: String!, $new: String!) {
  changePassword(currentPassword: $current, newPassword: $new) {
    tokens { accessToken refreshToken } errors { code path message } } }"""
SESSION_ENDED = {
    "code": "INVALID_TOKEN",
    "path": ["refreshToken"],
    "message": "the session has ended; sign in again",
    "retryAfter": None,
}


@pytest.fixture(autouse=True)
async def _fresh_redis(redis_url: str) -> None:
    await flush_redis(redis_url)


async def _login(client: httpx.AsyncClient, password: str = PASSWORD) -> dict[str, Any]:
    tokens: dict[str, Any] = (await ok(client, LOGIN, "login", email=EMAIL, password=password))[
        "tokens"
    ]
    return tokens


async def _refresh(client: httpx.AsyncClient, token: str) -> dict[str, Any]:
    body = await graphql(client, REFRESH, {"token": token})
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["refreshSession"]
    return payload


async def _reset_token() -> str:
    link: str = (await messages(EMAIL))[-1]["params"]["link"]
    assert link.startswith("http://127.0.0.1:8000/reset-password?token=")
    return link.partition("token=")[2]


async def test_login_gives_tokens_that_open_the_account(client: httpx.AsyncClient) -> None:
    await sign_up(client, EMAIL)
    tokens = await _login(client)
    assert (await me(client, tokens["accessToken"]))["email"] == EMAIL
    assert await me(client, None) is None
    assert await me(client, "vca_not-a-token") is None
    assert await me(client, tokens["refreshToken"]) is None  # a refresh token opens nothing


async def test_wrong_password_unknown_email_and_guest_get_one_answer(
    client: httpx.AsyncClient,
) -> None:
    await sign_up(client, EMAIL)
    await Customer.create(guid="guest", email="guest@example.com")
    answers = [
        await errors_of(client, LOGIN, "login", email=EMAIL, password="not the password"),
        await errors_of(client, LOGIN, "login", email="nobody@example.com", password=PASSWORD),
        await errors_of(client, LOGIN, "login", email="guest@example.com", password=PASSWORD),
    ]
    expected = {
        "code": "INVALID_CREDENTIALS",
        "path": ["password"],
        "message": "wrong e-mail or password",
        "retryAfter": None,
    }
    assert answers == [[expected]] * 3


async def test_logout_stops_the_access_and_refresh_tokens_at_once(
    client: httpx.AsyncClient,
) -> None:
    await sign_up(client, EMAIL)
    tokens = await _login(client)
    other_device = await _login(client)
    assert await ok(client, LOGOUT, "logout", tokens["accessToken"]) == {"ok": True, "errors": []}
    assert await me(client, tokens["accessToken"]) is None
    assert (await _refresh(client, tokens["refreshToken"]))["errors"] == [SESSION_ENDED]
    assert (await me(client, other_device["accessToken"]))["email"] == EMAIL
    unauthenticated = await errors_of(client, LOGOUT, "logout", tokens["accessToken"])
    assert [e["code"] for e in unauthenticated] == ["UNAUTHENTICATED"]


async def test_refresh_rotates_both_tokens(client: httpx.AsyncClient) -> None:
    await sign_up(client, EMAIL)
    first = await _login(client)
    second = (await _refresh(client, first["refreshToken"]))["tokens"]
    assert second["refreshToken"] != first["refreshToken"]
    assert await me(client, first["accessToken"]) is None  # the old access token is replaced
    assert (await me(client, second["accessToken"]))["email"] == EMAIL
    third = (await _refresh(client, second["refreshToken"]))["tokens"]
    assert (await me(client, third["accessToken"]))["email"] == EMAIL


async def test_reusing_a_rotated_refresh_token_revokes_the_session(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    other_device = await sign_up(client, EMAIL)
    stolen = await _login(client)
    rotated = (await _refresh(client, stolen["refreshToken"]))["tokens"]
    clock.advance(seconds=REUSE_GRACE.total_seconds())

    assert (await _refresh(client, stolen["refreshToken"]))["errors"] == [SESSION_ENDED]
    assert await me(client, rotated["accessToken"]) is None
    assert (await _refresh(client, rotated["refreshToken"]))["errors"] == [SESSION_ENDED]
    assert await CustomerSession.filter(revoked_at__isnull=False).count() == 1
    assert (await me(client, other_device["accessToken"]))["email"] == EMAIL


async def test_two_refreshes_with_one_token_at_once_exactly_one_wins(
    client: httpx.AsyncClient,
) -> None:
    await sign_up(client, EMAIL)
    tokens = await _login(client)
    outcomes = await asyncio.gather(*(_refresh(client, tokens["refreshToken"]) for _ in range(2)))
    winners = [o["tokens"] for o in outcomes if o["tokens"]]
    losers = [o["errors"] for o in outcomes if not o["tokens"]]
    assert len(winners) == 1 and losers == [[SESSION_ENDED]]
    assert (await me(client, winners[0]["accessToken"]))["email"] == EMAIL
    assert await CustomerSession.filter(revoked_at__isnull=False).count() == 0


async def test_a_rotated_token_presented_again_within_seconds_is_refused_only(
    client: httpx.AsyncClient,
) -> None:
    await sign_up(client, EMAIL)
    tokens = await _login(client)
    renewed = (await _refresh(client, tokens["refreshToken"]))["tokens"]
    assert (await _refresh(client, tokens["refreshToken"]))["errors"] == [SESSION_ENDED]
    assert (await me(client, renewed["accessToken"]))["email"] == EMAIL
    assert (await _refresh(client, renewed["refreshToken"]))["tokens"] is not None


async def test_password_reset_link_works_once_and_ends_every_session(
    client: httpx.AsyncClient,
) -> None:
    signed_up = await sign_up(client, EMAIL)
    old = await _login(client)
    assert await ok(client, RESET_REQUEST, "requestPasswordReset", email=EMAIL) == {
        "ok": True,
        "errors": [],
    }
    token = await _reset_token()

    payload = await ok(client, RESET, "resetPassword", token=token, password=NEW_PASSWORD)
    assert (await me(client, payload["tokens"]["accessToken"]))["email"] == EMAIL
    for earlier in (signed_up, old):
        assert await me(client, earlier["accessToken"]) is None
        assert (await _refresh(client, earlier["refreshToken"]))["errors"] == [SESSION_ENDED]
    assert [
        e["code"] for e in await errors_of(client, LOGIN, "login", email=EMAIL, password=PASSWORD)
    ] == ["INVALID_CREDENTIALS"]
    await _login(client, NEW_PASSWORD)
    again = await errors_of(
        client, RESET, "resetPassword", token=token, password="yet another one 7"
    )
    assert again == [
        {
            "code": "INVALID_TOKEN",
            "path": ["token"],
            "message": "the link is wrong, used or has expired",
        }
    ]
    await _login(client, NEW_PASSWORD)


async def test_a_weak_new_password_keeps_the_reset_link_usable(client: httpx.AsyncClient) -> None:
    await sign_up(client, EMAIL)
    await ok(client, RESET_REQUEST, "requestPasswordReset", email=EMAIL)
    token = await _reset_token()
    weak = await errors_of(client, RESET, "resetPassword", token=token, password="short")
    assert [(e["code"], e["path"]) for e in weak] == [("WEAK_PASSWORD", ["newPassword"])]
    await ok(client, RESET, "resetPassword", token=token, password=NEW_PASSWORD)


async def test_reset_for_an_unknown_email_answers_the_same_and_sends_nothing(
    client: httpx.AsyncClient,
) -> None:
    await Customer.create(guid="guest", email="guest@example.com")
    for email in ("nobody@example.com", "guest@example.com", "not an e-mail"):
        assert await ok(client, RESET_REQUEST, "requestPasswordReset", email=email) == {
            "ok": True,
            "errors": [],
        }
        assert await messages(email) == []


async def test_change_password_checks_the_current_one_and_ends_other_sessions(
    client: httpx.AsyncClient,
) -> None:
    await sign_up(client, EMAIL)
    here, elsewhere = await _login(client), await _login(client)
    wrong = await errors_of(
        client,
        CHANGE,
        "changePassword",
        here["accessToken"],
        current="nope nope nope",
        new=NEW_PASSWORD,
    )
    assert [(e["code"], e["path"]) for e in wrong] == [("INVALID_CREDENTIALS", ["currentPassword"])]
    assert (await me(client, elsewhere["accessToken"]))["email"] == EMAIL

    changed = await ok(
        client, CHANGE, "changePassword", here["accessToken"], current=PASSWORD, new=NEW_PASSWORD
    )
    assert await me(client, elsewhere["accessToken"]) is None
    assert await me(client, here["accessToken"]) is None
    assert (await me(client, changed["tokens"]["accessToken"]))["email"] == EMAIL
    await _login(client, NEW_PASSWORD)


class _RevokeWhileRefreshing:
    """A redis whose next SET (the refresh storing its new access token) first lets a
    "sign out everywhere" run: the revocation lands in the middle of the refresh."""

    def __init__(self, redis: Redis, customer_id: int, now: datetime) -> None:
        self._redis, self._customer_id, self._now = redis, customer_id, now
        self.revoked = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._redis, name)

    async def set(self, *args: Any, **kwargs: Any) -> Any:
        if not self.revoked:
            self.revoked = True
            await end_all_sessions(redis=self._redis, customer_id=self._customer_id, now=self._now)
        return await self._redis.set(*args, **kwargs)


async def test_signing_out_everywhere_during_a_refresh_leaves_no_token_alive(
    client: httpx.AsyncClient, redis_url: str, settings: Settings, clock: Clock
) -> None:
    await sign_up(client, EMAIL)
    tokens = await _login(client)
    customer = await Customer.get(email=EMAIL)
    redis = Redis.from_url(redis_url)
    racing = _RevokeWhileRefreshing(redis, customer.id, clock.now)
    try:
        call = AccountCall(
            redis=cast(Redis, racing),
            jobs=NoQueue(),
            settings=settings,
            device=Device(),
            now=clock.now,
        )
        with pytest.raises(DomainError) as refused:
            await refresh_session(call=call, refresh_token=tokens["refreshToken"])
        assert racing.revoked
        assert refused.value.code is ErrorCode.INVALID_TOKEN
        assert await redis.keys("vitrina:account:access:*") == []
    finally:
        await redis.aclose()
    assert await me(client, tokens["accessToken"]) is None
    assert (await _refresh(client, tokens["refreshToken"]))["errors"] == [SESSION_ENDED]
