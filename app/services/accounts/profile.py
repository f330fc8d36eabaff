"""The account's profile: names, phone (normalised to E.164) and the proof of that phone."""

from __future__ import annotations

from datetime import datetime

from tortoise.transactions import in_transaction

from app.domain.contact import normalise_phone
from app.domain.errors import DomainError, ErrorCode
from app.domain.outbound import MessageChannel
from app.domain.outbox import EventKind
from app.models.customers import Customer
from app.models.outbox import OutboxEvent
from app.services.accounts import throttle
from app.services.accounts.caller import AccountCall
from app.services.accounts.messages import (
    digest,
    send_code,
    take_pending,
)
from app.services.accounts.signup import invalid_code
from app.services.identity.observe import observe_site_customer
from app.services.outbox.record import announce, customer_record, record_event

_PHONE_KEY = "vitrina:account:phone:"
MAX_NAME = 100


def _phone_taken(path: tuple[str, ...] = ("phone",), *, account: bool = False) -> DomainError:
    if account:
        message = "this phone number belongs to another account"
    else:  # the same whoever holds it, an account or a guest: nothing more is told
        message = "this phone number belongs to another customer; confirm it by SMS to move it"
    return DomainError(ErrorCode.CONTACT_TAKEN, message, path)


async def update_profile(
    *,
    call: AccountCall,
    customer_id: int,
    first_name: str | None,
    last_name: str | None,
    phone: str | None,
) -> Customer:
    """Change names and phone (None leaves a field as it is; an empty phone removes it).

    A new phone is unconfirmed until `confirm_phone`; a number another customer has is refused.
    """
    customer = await Customer.get(id=customer_id)
    changes: dict[str, object] = {}
    for name, value in (("first_name", first_name), ("last_name", last_name)):
        if value is not None and value.strip() != getattr(customer, name):
            changes[name] = _name(value, name)
    if phone is not None:
        new_phone = normalise_phone(phone) if phone.strip() else None
        if new_phone != customer.phone:
            holder = await Customer.get_or_none(phone=new_phone) if new_phone else None
            if holder is not None:
                raise _phone_taken()
            raw = phone.strip() or None  # as typed, kept beside its E.164 form
            changes |= {"phone": new_phone, "phone_raw": raw, "phone_verified_at": None}
    if changes:
        events = await _save(customer, changes, call.now)
        await announce(call.jobs, events)
    return customer


def _name(value: str, field: str) -> str:
    value = value.strip()
    if len(value) > MAX_NAME:
        path = ("firstName",) if field == "first_name" else ("lastName",)
        raise DomainError(ErrorCode.INVALID, f"at most {MAX_NAME} characters", path)
    return value


async def _save(customer: Customer, changes: dict[str, object], now: datetime) -> list[OutboxEvent]:
    async with in_transaction() as conn:
        await Customer.filter(id=customer.id).update(**changes)
        for name, value in changes.items():
            setattr(customer, name, value)
        # the identity graph (issue 15): a verified phone links the account's shop purchases
        await observe_site_customer(conn, customer=customer, now=now, actor=customer.guid)
        record = customer_record(customer)
        return await record_event(kind=EventKind.CUSTOMER_UPSERTED, record=record, now=now)


async def request_phone_verification(
    *,
    call: AccountCall,
    customer_id: int,
    phone: str | None,
) -> str:
    """Text a code to the phone (the account's own, or a new one); returns the E.164 number."""
    customer = await Customer.get(id=customer_id)
    number = normalise_phone(phone) if phone else customer.phone
    if number is None:
        raise DomainError(ErrorCode.INVALID, "add a phone number first", ("phone",))
    if await _held_by_another_account(number, customer_id):
        raise _phone_taken(account=True)
    await throttle.admit_message(call=call, to=number, path=("phone",))
    await send_code(
        call=call,
        channel=MessageChannel.SMS,
        to=number,
        template="phone_code",
        pending_key=_PHONE_KEY + str(customer_id),
        subject=str(customer_id),
        fields={"phone": number, "phone_raw": phone.strip() if phone else ""},
    )
    return number


async def confirm_phone(
    *,
    call: AccountCall,
    customer_id: int,
    code: str,
) -> Customer:
    """Prove the phone with the texted code: it becomes the account's, confirmed. A guest
    customer who had the number gives it up (the code proved whose it is)."""
    key = _PHONE_KEY + str(customer_id)
    pending = await take_pending(call.redis, key, digest(str(customer_id), code.strip()))
    if pending is None:
        raise invalid_code()
    phone = pending["phone"]
    proven: dict[str, object] = {"phone": phone, "phone_verified_at": call.now}
    if pending.get("phone_raw"):  # a new number typed when the code was asked for
        proven["phone_raw"] = pending["phone_raw"]
    async with in_transaction():
        events = await _release_from_guest(phone, customer_id, call.now)
        customer = await Customer.get(id=customer_id)
        events += await _save(customer, proven, call.now)
    await announce(call.jobs, events)
    return customer


async def _release_from_guest(phone: str, customer_id: int, now: datetime) -> list[OutboxEvent]:
    holder = await Customer.get_or_none(phone=phone)
    if holder is None or holder.id == customer_id:
        return []
    if holder.password_hash is not None:
        raise _phone_taken(("code",), account=True)
    return await _save(holder, {"phone": None, "phone_raw": None, "phone_verified_at": None}, now)


async def _held_by_another_account(phone: str, customer_id: int) -> bool:
    holder = await Customer.get_or_none(phone=phone)
    return holder is not None and holder.id != customer_id and holder.password_hash is not None
