"""Delivery addresses saved in an account. Another customer's address is simply not found."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, fields
from typing import Any

from tortoise.transactions import in_transaction

from app.domain.contact import normalise_phone
from app.domain.errors import DomainError, ErrorCode
from app.models.customers import Address

MAX_ADDRESSES = 20
_LIMITS = {
    "label": 50,
    "recipient": 200,
    "city": 100,
    "street": 300,
    "apartment": 50,
    "postcode": 12,
    "comment": 500,
}


@dataclass(frozen=True)
class AddressData:
    city: str
    street: str
    label: str = ""
    recipient: str = ""
    phone: str | None = None
    apartment: str = ""
    postcode: str = ""
    comment: str = ""


def _not_found() -> DomainError:
    # The same for an unknown id, a malformed one and another customer's: nothing is told.
    return DomainError(ErrorCode.NOT_FOUND, "no such address", ("id",))


def _columns(data: AddressData) -> dict[str, Any]:
    columns: dict[str, Any] = {}
    for f in fields(data):
        value = getattr(data, f.name)
        if f.name == "phone":
            columns["phone"] = normalise_phone(value, ("input", "phone")) if value else None
            continue
        value = value.strip()
        if len(value) > _LIMITS[f.name]:
            raise DomainError(
                ErrorCode.INVALID, f"at most {_LIMITS[f.name]} characters", ("input", f.name)
            )
        if f.name in ("city", "street") and not value:
            raise DomainError(ErrorCode.INVALID, "required", ("input", f.name))
        columns[f.name] = value
    return columns


async def own_address(customer_id: int, address_guid: str) -> Address:
    """The customer's address with this public id, or NOT_FOUND."""
    address = await Address.get_or_none(guid=address_guid.strip(), customer_id=customer_id)
    if address is None:
        raise _not_found()
    return address


async def list_addresses(customer_id: int) -> list[Address]:
    """The default address first, then in the order they were added."""
    return list(await Address.filter(customer_id=customer_id).order_by("-is_default", "id"))


async def add_address(*, customer_id: int, data: AddressData, make_default: bool) -> Address:
    """Save an address; the first one is the default."""
    columns = _columns(data)
    async with in_transaction():
        count = await Address.filter(customer_id=customer_id).count()
        if count >= MAX_ADDRESSES:
            raise DomainError(ErrorCode.INVALID, f"at most {MAX_ADDRESSES} addresses", ("input",))
        default = make_default or count == 0
        if default:
            await Address.filter(customer_id=customer_id).update(is_default=False)
        return await Address.create(
            guid=str(uuid.uuid4()), customer_id=customer_id, is_default=default, **columns
        )


async def update_address(*, customer_id: int, address_guid: str, data: AddressData) -> Address:
    """Replace an address's details (its default flag stays)."""
    address = await own_address(customer_id, address_guid)
    columns = _columns(data)
    await Address.filter(id=address.id, customer_id=customer_id).update(**columns)
    return await Address.get(id=address.id)


async def delete_address(*, customer_id: int, address_guid: str) -> None:
    """Delete an address; if it was the default, the oldest remaining one becomes it."""
    address = await own_address(customer_id, address_guid)
    async with in_transaction():
        await Address.filter(id=address.id, customer_id=customer_id).delete()
        if address.is_default:
            oldest = await Address.filter(customer_id=customer_id).order_by("id").first()
            if oldest is not None:
                await Address.filter(id=oldest.id).update(is_default=True)


async def set_default_address(*, customer_id: int, address_guid: str) -> Address:
    """Make this address the default (the others stop being it)."""
    address = await own_address(customer_id, address_guid)
    async with in_transaction():
        await Address.filter(customer_id=customer_id).update(is_default=False)
        await Address.filter(id=address.id).update(is_default=True)
    address.is_default = True
    return address
