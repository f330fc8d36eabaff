"""Integration tokens through the real ASGI app: listing, revoking, expiry, the last use."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from app.domain.access import Scope
from app.models.auth import IntegrationToken
from app.services.tokens import create_token
from tests import factories
from tests.conftest import Clock, QueryCounter, graphql

TOKENS = """
{ integrationTokens { id name scopes state createdAt expiresAt lastUsedAt revokedAt } }"""
REVOKE = """
mutation Revoke($id: ID!) {
  revokeIntegrationToken(id: $id) {
    token { id name state revokedAt }
    errors { code path message }
  }
}"""
# what 1C calls with a catalog:write token: an empty batch writes nothing but needs the scope
ONEC_CALL = """
mutation { upsertWarehouses(warehouses: []) { result { created updated } errors { code } } }"""


async def _calls_from_1c_pass(client: httpx.AsyncClient, token: str) -> bool:
    body = await graphql(client, ONEC_CALL, {}, token)
    if body.get("data") is not None:
        return True
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]
    return False


async def _id_of(name: str) -> str:
    return str((await IntegrationToken.get(name=name)).id)


async def _revocations() -> dict[str, str | None]:
    rows = await IntegrationToken.all().values_list("name", "revoked_at")
    return {name: None if at is None else at.isoformat() for name, at in rows}


def _codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body["errors"]]


async def test_admins_see_every_token_with_its_state_and_never_its_secret(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    admin = await create_token(name="back office", scopes=[Scope.ADMIN])
    onec = await create_token(
        name="1C",
        scopes=[Scope.STOCK_WRITE, Scope.CATALOG_WRITE],
        expires_at=clock.now + timedelta(days=30),
    )
    await create_token(name="old partner", scopes=[Scope.CATALOG_WRITE], expires_at=clock.now)
    await create_token(name="leaked", scopes=[Scope.ADMIN])
    await IntegrationToken.filter(name="leaked").update(revoked_at=clock.now)
    await _calls_from_1c_pass(client, onec)

    response = await client.post(
        "/graphql", json={"query": TOKENS}, headers={"Authorization": f"Bearer {admin}"}
    )
    listed = response.json()["data"]["integrationTokens"]

    rows = {t.name: t for t in await IntegrationToken.all()}
    assert [(t["name"], t["state"], t["scopes"]) for t in listed] == [
        ("back office", "ACTIVE", ["ADMIN"]),
        ("1C", "ACTIVE", ["CATALOG_WRITE", "STOCK_WRITE"]),
        ("old partner", "EXPIRED", ["CATALOG_WRITE"]),
        ("leaked", "REVOKED", ["ADMIN"]),
    ]
    assert listed[1] == {
        "id": str(rows["1C"].id),
        "name": "1C",
        "scopes": ["CATALOG_WRITE", "STOCK_WRITE"],
        "state": "ACTIVE",
        "createdAt": factories.iso(rows["1C"].created_at),
        "expiresAt": factories.iso(clock.now + timedelta(days=30)),
        "lastUsedAt": factories.iso(clock.now),
        "revokedAt": None,
    }
    assert listed[0]["lastUsedAt"] == factories.iso(clock.now)  # the listing call itself
    assert listed[2]["lastUsedAt"] is None and listed[3]["revokedAt"] == factories.iso(clock.now)
    for secret in (admin, onec, *(row.token_hash for row in rows.values())):
        assert secret not in response.text


async def test_a_revoked_token_stops_working_at_once(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    admin = await factories.token(Scope.ADMIN)
    onec = await create_token(name="1C", scopes=[Scope.CATALOG_WRITE])
    assert await _calls_from_1c_pass(client, onec)

    clock.advance(minutes=5)
    body = await graphql(client, REVOKE, {"id": await _id_of("1C")}, admin)

    assert body["data"]["revokeIntegrationToken"] == {
        "token": {
            "id": await _id_of("1C"),
            "name": "1C",
            "state": "REVOKED",
            "revokedAt": factories.iso(clock.now),
        },
        "errors": [],
    }
    assert not await _calls_from_1c_pass(client, onec)
    assert await _calls_from_1c_pass(client, admin)  # the admin's own token still works


async def test_revoking_a_revoked_token_keeps_the_first_instant(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    admin = await factories.token(Scope.ADMIN)
    await create_token(name="1C", scopes=[Scope.CATALOG_WRITE])
    first = await graphql(client, REVOKE, {"id": await _id_of("1C")}, admin)
    clock.advance(hours=1)
    again = await graphql(client, REVOKE, {"id": await _id_of("1C")}, admin)
    assert again == first
    assert (await _revocations())["1C"] == factories.iso(clock.now - timedelta(hours=1))


async def test_ids_that_name_no_token_are_typed_errors_and_revoke_nothing(
    client: httpx.AsyncClient,
) -> None:
    admin = await factories.token(Scope.ADMIN)
    await create_token(name="1C", scopes=[Scope.CATALOG_WRITE])
    for bad, code in [
        ("9999", "NOT_FOUND"),
        ("99999999999999999999999", "NOT_FOUND"),  # beyond the id column: not a crash
        ("9" * 5000, "NOT_FOUND"),  # beyond what int() reads
        ("0", "NOT_FOUND"),
        ("-1", "INVALID"),
        ("1C", "INVALID"),
        (" ", "INVALID"),
        ("١٢", "INVALID"),  # Arabic-Indic digits are digits to Python, not an id
    ]:
        body = await graphql(client, REVOKE, {"id": bad}, admin)
        payload = body["data"]["revokeIntegrationToken"]
        assert payload["token"] is None, bad
        assert [(e["code"], e["path"]) for e in payload["errors"]] == [(code, ["id"])], bad
    assert await _revocations() == {"test": None, "1C": None}


async def test_only_admin_tokens_see_or_revoke_tokens(client: httpx.AsyncClient) -> None:
    await create_token(name="1C", scopes=[Scope.CATALOG_WRITE, Scope.STOCK_WRITE])
    finance = await factories.token(Scope.PAYMENTS_WRITE)
    onec = await create_token(name="other 1C", scopes=[Scope.CATALOG_WRITE, Scope.STOCK_WRITE])
    target = {"id": await _id_of("1C")}
    for token, code in [
        (None, "UNAUTHENTICATED"),
        ("vit_forged", "UNAUTHENTICATED"),
        (onec, "FORBIDDEN"),
        (finance, "FORBIDDEN"),
    ]:
        listed = await graphql(client, TOKENS, {}, token)
        revoked = await graphql(client, REVOKE, target, token)
        assert listed["data"] is None and _codes(listed) == [code]
        assert revoked["data"] is None and _codes(revoked) == [code]
    assert await _revocations() == {"1C": None, "test": None, "other 1C": None}


async def test_an_expired_token_authenticates_as_nothing(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    onec = await create_token(
        name="1C", scopes=[Scope.ADMIN], expires_at=clock.now + timedelta(days=1)
    )
    clock.advance(days=1, seconds=-1)
    assert await _calls_from_1c_pass(client, onec)
    clock.advance(seconds=1)
    assert not await _calls_from_1c_pass(client, onec)
    body = await graphql(client, TOKENS, {}, onec)
    assert body["data"] is None and _codes(body) == ["UNAUTHENTICATED"]
    stored = await IntegrationToken.get(name="1C")
    assert stored.last_used_at == clock.now - timedelta(seconds=1)  # the refused call wrote none


async def test_the_last_use_is_written_at_most_once_a_minute(
    client: httpx.AsyncClient, clock: Clock, sql_counter: QueryCounter
) -> None:
    onec = await create_token(name="1C", scopes=[Scope.CATALOG_WRITE])

    def token_writes() -> int:
        return sum(
            s.lstrip().upper().startswith("UPDATE") and "integration_token" in s
            for s in sql_counter.statements
        )

    async def last_used() -> str:
        stored = await IntegrationToken.get(name="1C")
        assert stored.last_used_at is not None
        return factories.iso(stored.last_used_at)

    start = clock.now
    assert await _calls_from_1c_pass(client, onec)
    assert token_writes() == 1 and await last_used() == factories.iso(start)

    for _ in range(6):  # a busy minute: the first use stays, nothing more is written
        clock.advance(seconds=10)
        assert await _calls_from_1c_pass(client, onec)
    assert token_writes() == 1 and await last_used() == factories.iso(start)

    clock.advance(seconds=1)  # 61 s after the recorded use
    assert await _calls_from_1c_pass(client, onec)
    assert token_writes() == 2 and await last_used() == factories.iso(clock.now)
