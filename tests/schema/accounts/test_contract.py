"""The storefront account operations, as committed in frontend-contract, run end to end."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import graphql
from tests.contract.documents import document
from tests.schema.accounts.flows import PASSWORD, flush_redis, last_code


@pytest.fixture(autouse=True)
async def _fresh_redis(redis_url: str) -> None:
    await flush_redis(redis_url)


async def _run(
    client: httpx.AsyncClient, name: str, token: str | None = None, **variables: Any
) -> Any:
    body = await graphql(client, document(name), variables, token)
    assert "errors" not in body, body
    return body["data"]


async def test_the_contract_operations_run_a_whole_account_journey(
    client: httpx.AsyncClient,
) -> None:
    email = "anna@example.com"
    registered = await _run(client, "Register", input={"email": email, "password": PASSWORD})
    assert registered["register"]["ok"] is True
    confirmed = await _run(client, "ConfirmRegistration", email=email, code=await last_code(email))
    access = confirmed["confirmRegistration"]["tokens"]["accessToken"]
    refresh = confirmed["confirmRegistration"]["tokens"]["refreshToken"]

    profile = await _run(client, "UpdateProfile", access, input={"phone": "+79161234567"})
    assert profile["updateProfile"]["account"]["phone"] == "+79161234567"
    added = await _run(client, "AddAddress", access, input={"city": "Москва", "street": "Арбат, 1"})
    address_guid = added["addAddress"]["address"]["id"]
    page = (await _run(client, "Me", access))["me"]
    assert (page["email"], [a["id"] for a in page["addresses"]]) == (email, [address_guid])
    assert (await _run(client, "MyOrders", access))["me"]["orders"]["nodes"] == []

    renewed = (await _run(client, "RefreshSession", refreshToken=refresh))["refreshSession"]
    access = renewed["tokens"]["accessToken"]
    assert (await _run(client, "Logout", access))["logout"] == {"ok": True, "errors": []}
    assert (await _run(client, "Me", access))["me"] is None
    login = await _run(client, "Login", email=email, password=PASSWORD)
    assert login["login"]["account"]["email"] == email
