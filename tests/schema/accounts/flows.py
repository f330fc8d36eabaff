"""Customer account steps through the real API, shared by the account tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from redis.asyncio import Redis

from app.domain.outbox import Target
from app.main import create_app
from app.models.outbox import OutboxEvent
from app.settings import Settings
from tests.conftest import Clock, graphql

PASSWORD = "correct horse battery"
ERRORS = "errors { code path message retryAfter }"
TOKENS = "tokens { accessToken refreshToken accessTokenExpiresAt refreshTokenExpiresAt }"

REGISTER = f"""mutation R($input: RegisterInput!) {{ register(input: $input) {{ ok {ERRORS} }} }}"""
CONFIRM = f"""mutation C($email: String!, $code: String!) {{
  confirmRegistration(email: $email, code: $code) {{
    {TOKENS} account {{ id email }} {ERRORS} }} }}"""
LOGIN = f"""mutation L($email: String!, $password: String!) {{
  login(email: $email, password: $password) {{ {TOKENS} account {{ email }} {ERRORS} }} }}"""
REFRESH = f"""mutation F($token: String!) {{
  refreshSession(refreshToken: $token) {{ {TOKENS} {ERRORS} }} }}"""
LOGOUT = f"""mutation {{ logout {{ ok {ERRORS} }} }}"""
ME = """query { me { id email emailVerified phone phoneVerified firstName lastName
  addresses { id label city street isDefault } } }"""
ME_ORDERS = """query O($first: Int!, $after: String) { me { orders(first: $first, after: $after) {
  nodes { number email } pageInfo { hasNextPage endCursor } } } }"""


async def flush_redis(redis_url: str) -> None:
    """Sign-in and message counters and pending codes of an earlier test must not leak."""
    redis = Redis.from_url(redis_url)
    for pattern in ("vitrina:account:*", "vitrina:login:*", "vitrina:messages:*"):
        keys = [key async for key in redis.scan_iter(match=pattern, count=1000)]
        if keys:
            await redis.delete(*keys)
    await redis.aclose()


@asynccontextmanager
async def api_with(
    settings: Settings, redis_url: str, clock: Clock
) -> AsyncIterator[httpx.AsyncClient]:
    """The real app with settings of the test's own (e.g. small sign-in limits)."""
    app = create_app(settings, redis_url=redis_url, manage_db=False, clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://vitrina.test") as c:
            yield c


async def ok(
    client: httpx.AsyncClient, document: str, field: str, auth: str | None = None, **variables: Any
) -> Any:
    """Run an operation that must succeed; return its payload."""
    body = await graphql(client, document, variables, auth)
    assert "errors" not in body, body
    payload = body["data"][field]
    assert payload.get("errors", []) == [], payload
    return payload


async def errors_of(
    client: httpx.AsyncClient, document: str, field: str, auth: str | None = None, **variables: Any
) -> list[dict[str, Any]]:
    body = await graphql(client, document, variables, auth)
    assert "errors" not in body, body
    found: list[dict[str, Any]] = body["data"][field]["errors"]
    return found


async def messages(to: str) -> list[dict[str, Any]]:
    """Messages queued for a recipient, oldest first (the outbox rows of the notify target)."""
    rows = await OutboxEvent.filter(target=Target.NOTIFY).order_by("id")
    return [r.payload for r in rows if r.payload["to"] == to]


async def last_code(to: str) -> str:
    code: str = (await messages(to))[-1]["params"]["code"]
    return code


async def sign_up(
    client: httpx.AsyncClient, email: str, password: str = PASSWORD, **profile: str
) -> dict[str, Any]:
    """Register and confirm with the e-mailed code; the signed-in tokens."""
    await ok(client, REGISTER, "register", input={"email": email, "password": password, **profile})
    payload = await ok(
        client, CONFIRM, "confirmRegistration", email=email, code=await last_code(email)
    )
    tokens: dict[str, Any] = payload["tokens"]
    return tokens


async def me(client: httpx.AsyncClient, token: str | None) -> Any:
    body = await graphql(client, ME, {}, token)
    assert "errors" not in body, body
    return body["data"]["me"]
