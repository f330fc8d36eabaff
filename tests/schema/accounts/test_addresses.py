"""Saved addresses: add, change, choose the default, delete; another customer's is not found."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.models.customers import Address
from tests.schema.accounts.flows import errors_of, flush_redis, me, ok, sign_up

FIELDS = "id label recipient phone city street apartment postcode comment isDefault"
ADD = f"""mutation A($input: AddressInput!, $default: Boolean! = false) {{
  addAddress(input: $input, makeDefault: $default) {{
    address {{ {FIELDS} }} errors {{ code path message }} }} }}"""
UPDATE = f"""mutation U($id: ID!, $input: AddressInput!) {{ updateAddress(id: $id, input: $input) {{
  address {{ {FIELDS} }} errors {{ code path message }} }} }}"""
DELETE = """mutation D($id: ID!) { deleteAddress(id: $id) {
  deletedId errors { code path message } } }"""
DEFAULT = f"""mutation S($id: ID!) {{ setDefaultAddress(id: $id) {{
  address {{ {FIELDS} }} errors {{ code path message }} }} }}"""
HOME = {"label": "Дом", "city": "Москва", "street": "Тверская, 7", "phone": "8 916 123 45 67"}
WORK = {"label": "Работа", "city": "Москва", "street": "Арбат, 1", "apartment": "5"}
NOT_FOUND = [{"code": "NOT_FOUND", "path": ["id"], "message": "no such address"}]


@pytest.fixture(autouse=True)
async def _fresh_redis(redis_url: str) -> None:
    await flush_redis(redis_url)


async def _add(client: httpx.AsyncClient, token: str, data: dict[str, str], **more: Any) -> Any:
    return (await ok(client, ADD, "addAddress", token, input=data, **more))["address"]


async def _snapshot() -> list[tuple[Any, ...]]:
    rows = (
        await Address.all()
        .order_by("id")
        .values_list("guid", "customer_id", "street", "is_default")
    )
    return [tuple(r) for r in rows]


async def test_addresses_are_added_changed_made_default_and_deleted(
    client: httpx.AsyncClient,
) -> None:
    token = (await sign_up(client, "anna@example.com"))["accessToken"]
    home = await _add(client, token, HOME)
    assert home | {"id": None} == {
        "id": None,
        "label": "Дом",
        "recipient": "",
        "phone": "+79161234567",
        "city": "Москва",
        "street": "Тверская, 7",
        "apartment": "",
        "postcode": "",
        "comment": "",
        "isDefault": True,  # the first address is the default
    }
    work = await _add(client, token, WORK)
    assert work["isDefault"] is False

    changed = await ok(
        client, UPDATE, "updateAddress", token, id=work["id"], input=WORK | {"street": "Арбат, 2"}
    )
    assert (changed["address"]["street"], changed["address"]["apartment"]) == ("Арбат, 2", "5")
    await ok(client, DEFAULT, "setDefaultAddress", token, id=work["id"])
    listed = (await me(client, token))["addresses"]
    assert [(a["id"], a["isDefault"]) for a in listed] == [(work["id"], True), (home["id"], False)]

    deleted = await ok(client, DELETE, "deleteAddress", token, id=work["id"])
    assert deleted == {"deletedId": work["id"], "errors": []}
    listed = (await me(client, token))["addresses"]
    assert [(a["id"], a["isDefault"]) for a in listed] == [(home["id"], True)]


async def test_an_incomplete_address_is_refused_and_nothing_saved(
    client: httpx.AsyncClient,
) -> None:
    token = (await sign_up(client, "anna@example.com"))["accessToken"]
    errors = await errors_of(
        client, ADD, "addAddress", token, input={"city": "Москва", "street": " "}
    )
    assert errors == [{"code": "INVALID", "path": ["input", "street"], "message": "required"}]
    bad_phone = await errors_of(client, ADD, "addAddress", token, input=HOME | {"phone": "12"})
    assert [(e["code"], e["path"]) for e in bad_phone] == [("INVALID", ["input", "phone"])]
    assert await Address.all().count() == 0


async def test_another_customers_address_reads_exactly_like_an_unknown_one(
    client: httpx.AsyncClient,
) -> None:
    anna = (await sign_up(client, "anna@example.com"))["accessToken"]
    boris = (await sign_up(client, "boris@example.com"))["accessToken"]
    annas = await _add(client, anna, HOME)
    await _add(client, boris, WORK)
    before = await _snapshot()

    for address_guid in (annas["id"], "00000000-0000-4000-8000-000000000000", "not-an-id"):
        tries = [
            await errors_of(client, UPDATE, "updateAddress", boris, id=address_guid, input=WORK),
            await errors_of(client, DELETE, "deleteAddress", boris, id=address_guid),
            await errors_of(client, DEFAULT, "setDefaultAddress", boris, id=address_guid),
        ]
        assert tries == [NOT_FOUND] * 3
    assert await _snapshot() == before
    assert [a["id"] for a in (await me(client, boris))["addresses"]] != [annas["id"]]
    assert [a["id"] for a in (await me(client, anna))["addresses"]] == [annas["id"]]
