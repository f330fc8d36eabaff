"""Sign up (the e-mail proven by a code first), sign in, sign out.

An account is a `Customer` with a password. Sign-up creates nothing until the code sent to the
e-mail comes back, so nobody can take over a guest's orders or profile by naming their e-mail.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app.domain.accounts import check_password, invalid_credentials
from app.domain.contact import normalise_email, normalise_phone
from app.domain.errors import DomainError, ErrorCode
from app.domain.outbound import MessageChannel
from app.domain.outbox import EventKind
from app.models.customers import Customer
from app.models.outbox import OutboxEvent
from app.services.accounts import throttle
from app.services.accounts.caller import AccountCall
from app.services.accounts.messages import (
    digest,
    record_message,
    send_code,
    send_now,
    take_pending,
)
from app.services.accounts.passwords import hash_password, needs_rehash, verify_password
from app.services.accounts.sessions import Tokens, start_session
from app.services.identity.observe import observe_site_customer
from app.services.outbox.record import announce, customer_record, record_event

_SIGNUP_KEY = "vitrina:account:signup:"


def invalid_code(path: tuple[str, ...] = ("code",)) -> DomainError:
    return DomainError(ErrorCode.INVALID_CODE, "the code is wrong or has expired", path)


async def register(
    *,
    call: AccountCall,
    email: str,
    password: str,
    first_name: str,
    last_name: str,
    phone: str | None,
) -> None:
    """Start a sign-up: e-mail a code that proves the address (or, if it already has an
    account, say so and point to password reset). The answer is the same either way."""
    email = normalise_email(email)
    check_password(password, email)
    phone = normalise_phone(phone) if phone else ""
    await throttle.admit_message(call=call, to=email, path=("email",))
    # Hashed before we know which case this is: both answers take the same time.
    password_hash = await hash_password(password, call.settings)
    if await Customer.exists(email=email, password_hash__isnull=False):
        link = f"{call.settings.resolved_storefront_url}forgot-password"
        event = await record_message(
            channel=MessageChannel.EMAIL,
            to=email,
            template="account_exists",
            params={"link": link},
            now=call.now,
        )
        await send_now(call.jobs, event)
        return
    fields = {"password_hash": password_hash, "first_name": first_name.strip()[:100]}
    fields |= {"last_name": last_name.strip()[:100], "phone": phone}
    await send_code(
        call=call,
        channel=MessageChannel.EMAIL,
        to=email,
        template="signup_code",
        pending_key=_SIGNUP_KEY + email,
        subject=email,
        fields=fields,
    )


async def confirm_registration(
    *,
    call: AccountCall,
    email: str,
    code: str,
) -> Tokens:
    """Finish a sign-up with the e-mailed code: the account is created (or the guest customer
    with this e-mail becomes one) and signed in."""
    try:
        email = normalise_email(email)
    except DomainError:
        raise invalid_code() from None
    pending = await take_pending(call.redis, _SIGNUP_KEY + email, digest(email, code.strip()))
    if pending is None:
        raise invalid_code()
    try:
        events = await _open_account(email, pending, call.now)
    except IntegrityError:  # a guest order created this customer a moment ago: claim it
        events = await _open_account(email, pending, call.now)
    await announce(call.jobs, events)
    customer = await Customer.get(email=email)
    return await start_session(call=call, customer_id=customer.id)


async def _open_account(email: str, pending: dict[str, str], now: datetime) -> list[OutboxEvent]:
    async with in_transaction() as conn:
        customer = await Customer.get_or_none(email=email)
        phone = pending["phone"] or None
        holder = await Customer.get_or_none(phone=phone) if phone else None
        if holder is not None and holder.email != email:
            phone = None  # someone else's number: it can be verified from the profile later
        if customer is None:
            customer = await Customer.create(
                guid=str(uuid.uuid4()),
                email=email,
                phone=phone,
                first_name=pending["first_name"],
                last_name=pending["last_name"],
                password_hash=pending["password_hash"],
                email_verified_at=now,
            )
        else:
            await _claim_guest(customer, pending, phone, now)
        await observe_site_customer(conn, customer=customer, now=now, actor=customer.guid)
        record = customer_record(customer)
        return await record_event(kind=EventKind.CUSTOMER_UPSERTED, record=record, now=now)


async def _claim_guest(
    customer: Customer, pending: dict[str, str], phone: str | None, now: datetime
) -> None:
    """The guest customer with this e-mail gets the password (and the names given at sign-up)."""
    changes: dict[str, object] = {"password_hash": pending["password_hash"]}
    changes["email_verified_at"] = now
    changes["first_name"] = pending["first_name"] or customer.first_name
    changes["last_name"] = pending["last_name"] or customer.last_name
    if phone and not customer.phone:
        changes["phone"] = phone
    claimed = await Customer.filter(id=customer.id, password_hash__isnull=True).update(**changes)
    if not claimed:  # an account with this e-mail got there first
        raise invalid_code()
    for name, value in changes.items():
        setattr(customer, name, value)


async def login(
    *,
    call: AccountCall,
    email: str,
    password: str,
) -> Tokens:
    """Sign in with e-mail and password; throttled per account and per client address."""
    email = email.strip().lower()
    await throttle.admit_attempt(call=call, email=email)
    customer = await Customer.get_or_none(email=email)
    stored = customer.password_hash if customer else None
    if not await verify_password(stored, password, call.settings) or customer is None:
        raise invalid_credentials()
    await throttle.forget_failures(call=call, email=email)
    if stored and needs_rehash(stored, call.settings):
        rehashed = await hash_password(password, call.settings)
        await Customer.filter(id=customer.id, password_hash=stored).update(password_hash=rehashed)
    return await start_session(call=call, customer_id=customer.id)
