"""Customer accounts: sign up, sign in, profile, addresses, order history."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import strawberry

from app.domain.errors import DomainError, ErrorCode
from app.models.customers import Address as AddressRow
from app.models.customers import Customer
from app.schema.accounts.types import (
    Account,
    AccountPayload,
    AccountRequestPayload,
    Address,
    AddressPayload,
    DeleteAddressPayload,
    PhoneVerificationPayload,
    SignInPayload,
)
from app.schema.checkout.resolvers import CartPayload, cart_payload
from app.schema.context import Info
from app.schema.errors import payload
from app.services.accounts import addresses, sessions
from app.services.accounts import orders as accounts_orders
from app.services.accounts import profile as accounts_profile
from app.services.accounts import recovery as accounts_recovery
from app.services.accounts import signup as accounts
from app.services.accounts.addresses import AddressData
from app.services.accounts.sessions import Tokens

T = TypeVar("T")


@strawberry.input
class RegisterInput:
    email: str
    password: str = strawberry.field(description="10 or more characters, not the e-mail")
    first_name: str = ""
    last_name: str = ""
    phone: str | None = strawberry.field(default=None, description="any format; stored as E.164")


@strawberry.input
class ProfileInput:
    first_name: str | None = strawberry.field(default=None, description="null: unchanged")
    last_name: str | None = strawberry.field(default=None, description="null: unchanged")
    phone: str | None = strawberry.field(
        default=None, description="null: unchanged; empty: removed; else unconfirmed until SMS"
    )


@strawberry.input
class AddressInput:
    city: str
    street: str = strawberry.field(description="street, house, building")
    label: str = ""
    recipient: str = ""
    phone: str | None = None
    apartment: str = ""
    postcode: str = ""
    comment: str = ""

    def data(self) -> AddressData:
        return AddressData(
            self.city,
            self.street,
            self.label,
            self.recipient,
            self.phone,
            self.apartment,
            self.postcode,
            self.comment,
        )


async def _customer_id(info: Info) -> int:
    principal = await info.context.customer()
    if principal is None:
        raise DomainError(
            ErrorCode.UNAUTHENTICATED, "sign in first: Authorization: Bearer <accessToken>"
        )
    return principal.customer_id


async def _as_customer(info: Info, work: Callable[[int], Awaitable[T]]) -> T:
    return await work(await _customer_id(info))


async def _signed_in(work: Awaitable[Tokens]) -> SignInPayload:
    return await payload(work, SignInPayload.of, SignInPayload.refused)


async def _done(work: Awaitable[object]) -> AccountRequestPayload:
    return await payload(
        work, lambda _: AccountRequestPayload(ok=True, errors=[]), AccountRequestPayload.refused
    )


async def _account(work: Awaitable[Customer]) -> AccountPayload:
    return await payload(
        work,
        lambda row: AccountPayload(account=Account(row=row), errors=[]),
        AccountPayload.refused,
    )


async def _address(work: Awaitable[AddressRow]) -> AddressPayload:
    return await payload(
        work,
        lambda row: AddressPayload(address=Address(row=row), errors=[]),
        AddressPayload.refused,
    )


@strawberry.type
class AccountQuery:
    @strawberry.field(description="the signed-in customer's account; null when not signed in")
    async def me(self, info: Info) -> Account | None:
        principal = await info.context.customer()
        row = await Customer.get_or_none(id=principal.customer_id) if principal else None
        return Account(row=row) if row else None


@strawberry.type
class AccountMutation:
    @strawberry.mutation(
        description="start a sign-up: a code is e-mailed (the answer is the same if the e-mail "
        "already has an account; that e-mail then says so)"
    )
    async def register(self, info: Info, input: RegisterInput) -> AccountRequestPayload:
        return await _done(
            accounts.register(
                call=info.context.account_call,
                email=input.email,
                password=input.password,
                first_name=input.first_name,
                last_name=input.last_name,
                phone=input.phone,
            )
        )

    @strawberry.mutation(description="finish the sign-up with the e-mailed code; signs in")
    async def confirm_registration(self, info: Info, email: str, code: str) -> SignInPayload:
        call = info.context.account_call
        return await _signed_in(accounts.confirm_registration(call=call, email=email, code=code))

    @strawberry.mutation(description="sign in; failures are throttled per account and address")
    async def login(self, info: Info, email: str, password: str) -> SignInPayload:
        call = info.context.account_call
        return await _signed_in(accounts.login(call=call, email=email, password=password))

    @strawberry.mutation(description="swap a refresh token for new tokens (it works only once)")
    async def refresh_session(self, info: Info, refresh_token: str) -> SignInPayload:
        call = info.context.account_call
        return await _signed_in(sessions.refresh_session(call=call, refresh_token=refresh_token))

    @strawberry.mutation(description="sign out this device: its tokens stop working at once")
    async def logout(self, info: Info) -> AccountRequestPayload:
        ctx = info.context
        principal = await ctx.customer()
        if principal is None:
            return await _done(_customer_id(info))
        return await _done(
            sessions.end_session(redis=ctx.redis, session_id=principal.session_id, now=ctx.now)
        )

    @strawberry.mutation(description="e-mail a reset link if the address has an account")
    async def request_password_reset(self, info: Info, email: str) -> AccountRequestPayload:
        call = info.context.account_call
        return await _done(accounts_recovery.request_password_reset(call=call, email=email))

    @strawberry.mutation(description="set a new password with the link's token; signs in")
    async def reset_password(self, info: Info, token: str, new_password: str) -> SignInPayload:
        call = info.context.account_call
        return await _signed_in(
            accounts_recovery.reset_password(call=call, token=token, new_password=new_password)
        )

    @strawberry.mutation(description="change the password; every other session ends")
    async def change_password(
        self, info: Info, current_password: str, new_password: str
    ) -> SignInPayload:
        call = info.context.account_call
        return await _signed_in(
            _as_customer(
                info,
                lambda cid: accounts_recovery.change_password(
                    call=call,
                    customer_id=cid,
                    current_password=current_password,
                    new_password=new_password,
                ),
            )
        )

    @strawberry.mutation
    async def update_profile(self, info: Info, input: ProfileInput) -> AccountPayload:
        call = info.context.account_call
        return await _account(
            _as_customer(
                info,
                lambda cid: accounts_profile.update_profile(
                    call=call,
                    customer_id=cid,
                    first_name=input.first_name,
                    last_name=input.last_name,
                    phone=input.phone,
                ),
            )
        )

    @strawberry.mutation(description="text a code to the phone (default: the account's)")
    async def request_phone_verification(
        self, info: Info, phone: str | None = None
    ) -> PhoneVerificationPayload:
        call = info.context.account_call
        sending = _as_customer(
            info,
            lambda cid: accounts_profile.request_phone_verification(
                call=call, customer_id=cid, phone=phone
            ),
        )
        return await payload(
            sending,
            lambda number: PhoneVerificationPayload(phone=number, errors=[]),
            PhoneVerificationPayload.refused,
        )

    @strawberry.mutation(description="confirm the phone with the texted code")
    async def confirm_phone(self, info: Info, code: str) -> AccountPayload:
        call = info.context.account_call
        return await _account(
            _as_customer(
                info,
                lambda cid: accounts_profile.confirm_phone(call=call, customer_id=cid, code=code),
            )
        )

    @strawberry.mutation(description="save a delivery address (the first one is the default)")
    async def add_address(
        self, info: Info, input: AddressInput, make_default: bool = False
    ) -> AddressPayload:
        return await _address(
            _as_customer(
                info,
                lambda cid: addresses.add_address(
                    customer_id=cid, data=input.data(), make_default=make_default
                ),
            )
        )

    @strawberry.mutation
    async def update_address(
        self, info: Info, id: strawberry.ID, input: AddressInput
    ) -> AddressPayload:
        return await _address(
            _as_customer(
                info,
                lambda cid: addresses.update_address(
                    customer_id=cid, address_guid=id, data=input.data()
                ),
            )
        )

    @strawberry.mutation
    async def delete_address(self, info: Info, id: strawberry.ID) -> DeleteAddressPayload:
        deleting = _as_customer(
            info, lambda cid: addresses.delete_address(customer_id=cid, address_guid=id)
        )
        return await payload(
            deleting,
            lambda _: DeleteAddressPayload(deleted_id=id, errors=[]),
            DeleteAddressPayload.refused,
        )

    @strawberry.mutation
    async def set_default_address(self, info: Info, id: strawberry.ID) -> AddressPayload:
        return await _address(
            _as_customer(
                info, lambda cid: addresses.set_default_address(customer_id=cid, address_guid=id)
            )
        )

    @strawberry.mutation(description="make a guest cart the signed-in customer's (after login)")
    async def attach_cart(self, info: Info, cart_token: str) -> CartPayload:
        attaching = _as_customer(
            info,
            lambda cid: accounts_orders.attach_cart(customer_id=cid, cart_token=cart_token),
        )
        return await cart_payload(attaching, info.context.now)
