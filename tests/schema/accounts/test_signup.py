"""Sign-up proves the e-mail with a code before any account exists; no answer tells whether an
e-mail already has one."""

from __future__ import annotations

import httpx
import pytest

from app.domain.outbox import EventKind, Target
from app.models.customers import Customer, CustomerSession
from app.models.outbox import OutboxEvent
from tests.schema.accounts.flows import (
    CONFIRM,
    PASSWORD,
    REGISTER,
    errors_of,
    flush_redis,
    last_code,
    me,
    messages,
    ok,
    sign_up,
)


@pytest.fixture(autouse=True)
async def _fresh_redis(redis_url: str) -> None:
    await flush_redis(redis_url)


async def test_register_then_the_emailed_code_creates_the_account_and_signs_in(
    client: httpx.AsyncClient,
) -> None:
    answer = await ok(
        client,
        REGISTER,
        "register",
        input={"email": " Anna@Example.com ", "password": PASSWORD, "firstName": "Анна"},
    )
    assert answer == {"ok": True, "errors": []}
    assert await Customer.all().count() == 0  # nothing exists before the code comes back
    [message] = await messages("anna@example.com")
    assert (message["channel"], message["template"]) == ("email", "signup_code")
    assert len(message["params"]["code"]) == 6

    payload = await ok(
        client,
        CONFIRM,
        "confirmRegistration",
        email="anna@example.com",
        code=message["params"]["code"],
    )
    assert payload["tokens"]["accessToken"].startswith("vca_")
    assert payload["tokens"]["refreshToken"].startswith("vcr_")
    account = await me(client, payload["tokens"]["accessToken"])
    assert account["email"] == "anna@example.com"
    assert (account["emailVerified"], account["firstName"]) == (True, "Анна")
    customer = await Customer.get(email="anna@example.com")
    assert customer.password_hash is not None and customer.password_hash.startswith("$argon2id$")
    upserts = await OutboxEvent.filter(
        kind=EventKind.CUSTOMER_UPSERTED, aggregate=f"customer:{customer.guid}"
    )
    assert sorted(e.target for e in upserts) == [Target.ONEC, Target.RETAILCRM]


async def test_registering_an_existing_account_answers_the_same_and_says_so_by_email(
    client: httpx.AsyncClient,
) -> None:
    await sign_up(client, "anna@example.com")
    before = await Customer.get(email="anna@example.com")

    again = await ok(
        client,
        REGISTER,
        "register",
        input={"email": "anna@example.com", "password": "another password 1"},
    )
    fresh = await ok(
        client,
        REGISTER,
        "register",
        input={"email": "boris@example.com", "password": "another password 1"},
    )
    assert again == fresh == {"ok": True, "errors": []}
    last = (await messages("anna@example.com"))[-1]
    assert last["template"] == "account_exists"
    assert "code" not in last["params"] and last["params"]["link"].endswith("forgot-password")
    after = await Customer.get(email="anna@example.com")
    assert after.password_hash == before.password_hash


async def test_a_wrong_code_is_refused_and_five_wrong_tries_burn_the_code(
    client: httpx.AsyncClient,
) -> None:
    await ok(
        client, REGISTER, "register", input={"email": "anna@example.com", "password": PASSWORD}
    )
    code = await last_code("anna@example.com")
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        assert await errors_of(
            client, CONFIRM, "confirmRegistration", email="anna@example.com", code=wrong
        ) == [
            {
                "code": "INVALID_CODE",
                "path": ["code"],
                "message": "the code is wrong or has expired",
                "retryAfter": None,
            }
        ]
    refused = await errors_of(
        client, CONFIRM, "confirmRegistration", email="anna@example.com", code=code
    )
    assert [e["code"] for e in refused] == ["INVALID_CODE"]
    assert await Customer.all().count() == 0
    assert await CustomerSession.all().count() == 0


async def test_a_weak_password_is_refused_before_anything_is_sent(
    client: httpx.AsyncClient,
) -> None:
    errors = await errors_of(
        client,
        REGISTER,
        "register",
        input={"email": "anna@example.com", "password": "anna@example.com"},
    )
    assert [(e["code"], e["path"]) for e in errors] == [("WEAK_PASSWORD", ["password"])]
    assert await messages("anna@example.com") == []


async def test_confirming_claims_the_guest_customer_with_that_email(
    client: httpx.AsyncClient,
) -> None:
    guest = await Customer.create(
        guid="g-1", email="anna@example.com", phone="+79161234567", first_name="A"
    )
    await sign_up(client, "anna@example.com", firstName="Анна")
    claimed = await Customer.get(id=guest.id)
    assert claimed.password_hash is not None and claimed.email_verified_at is not None
    assert (claimed.first_name, claimed.phone, claimed.phone_verified_at) == (
        "Анна",
        "+79161234567",
        None,
    )
    assert await Customer.all().count() == 1


async def test_a_code_is_used_once(client: httpx.AsyncClient) -> None:
    await ok(
        client, REGISTER, "register", input={"email": "anna@example.com", "password": PASSWORD}
    )
    code = await last_code("anna@example.com")
    await ok(client, CONFIRM, "confirmRegistration", email="anna@example.com", code=code)
    again = await errors_of(
        client, CONFIRM, "confirmRegistration", email="anna@example.com", code=code
    )
    assert [e["code"] for e in again] == ["INVALID_CODE"]
    assert await CustomerSession.all().count() == 1
