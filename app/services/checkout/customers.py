"""One customer per person: found by e-mail or phone, whichever channel they come from."""

from __future__ import annotations

import uuid

from tortoise.exceptions import IntegrityError

from app.models.customers import Customer


async def customer_for_contact(
    *, email: str | None, phone: str | None, first_name: str, last_name: str
) -> tuple[Customer, bool]:
    """The customer with this e-mail (else phone), created or completed; True if it changed.

    Call inside the caller's transaction. A detail that belongs to another customer (their
    phone, say) is not moved over: merging people is a decision for a human.
    """
    customer = await _find(email, phone)
    if customer is None:
        try:
            customer = await Customer.create(
                guid=str(uuid.uuid4()),
                email=email,
                phone=phone,
                first_name=first_name,
                last_name=last_name,
            )
            return customer, True
        except IntegrityError:  # created a moment ago by a concurrent order of the same person
            customer = await _find(email, phone)
            if customer is None:
                raise
    return customer, await _complete(customer, email, phone, first_name, last_name)


async def _find(email: str | None, phone: str | None) -> Customer | None:
    if email and (found := await Customer.get_or_none(email=email)):
        return found
    if phone:
        return await Customer.get_or_none(phone=phone)
    return None


async def _complete(
    customer: Customer, email: str | None, phone: str | None, first: str, last: str
) -> bool:
    changes: dict[str, str] = {}
    if email and not customer.email and not await Customer.exists(email=email):
        changes["email"] = email
    if phone and not customer.phone and not await Customer.exists(phone=phone):
        changes["phone"] = phone
    if first and first != customer.first_name:
        changes["first_name"] = first
    if last and last != customer.last_name:
        changes["last_name"] = last
    if changes:
        await Customer.filter(id=customer.id).update(**changes)
        for name, value in changes.items():
            setattr(customer, name, value)
    return bool(changes)
