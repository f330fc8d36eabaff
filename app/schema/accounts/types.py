"""Types of the customer's account: profile, addresses, orders, session tokens."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.models.customers import Address as AddressRow
from app.models.customers import Customer
from app.schema.accounts import identity
from app.schema.catalog.types import PageInfo
from app.schema.checkout.types import Order
from app.schema.context import Info
from app.schema.errors import UserError
from app.services.accounts import addresses
from app.services.accounts import orders as accounts_orders
from app.services.accounts.sessions import Tokens


@strawberry.type
class Address:
    row: strawberry.Private[AddressRow]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.row.guid)

    @strawberry.field(description="Home, Work, ...")
    def label(self) -> str:
        return self.row.label

    @strawberry.field
    def recipient(self) -> str:
        return self.row.recipient

    @strawberry.field(description="E.164")
    def phone(self) -> str | None:
        return self.row.phone

    @strawberry.field
    def city(self) -> str:
        return self.row.city

    @strawberry.field(description="street, house, building")
    def street(self) -> str:
        return self.row.street

    @strawberry.field
    def apartment(self) -> str:
        return self.row.apartment

    @strawberry.field
    def postcode(self) -> str:
        return self.row.postcode

    @strawberry.field
    def comment(self) -> str:
        return self.row.comment

    @strawberry.field
    def is_default(self) -> bool:
        return self.row.is_default


@strawberry.type
class OrderConnection:
    nodes: list[Order]
    page_info: PageInfo


@strawberry.type
class Account:
    row: strawberry.Private[Customer]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.row.guid)

    @strawberry.field
    def email(self) -> str:
        return self.row.email or ""

    @strawberry.field
    def email_verified(self) -> bool:
        return self.row.email_verified_at is not None

    @strawberry.field(description="E.164")
    def phone(self) -> str | None:
        return self.row.phone

    @strawberry.field(description="confirmed by an SMS code; guest orders with it then show")
    def phone_verified(self) -> bool:
        return self.row.phone_verified_at is not None

    @strawberry.field
    def first_name(self) -> str:
        return self.row.first_name

    @strawberry.field
    def last_name(self) -> str:
        return self.row.last_name

    @strawberry.field(description="the default address first")
    async def addresses(self) -> list[Address]:
        return [Address(row=row) for row in await addresses.list_addresses(self.row.id)]

    @strawberry.field(
        description="orders placed signed in, or as a guest with this account's confirmed "
        "e-mail or phone; newest first"
    )
    async def orders(self, first: int = 20, after: str | None = None) -> OrderConnection:
        page = await accounts_orders.list_orders(customer=self.row, first=first, after=after)
        return OrderConnection(
            nodes=[Order(row=row) for row in page.orders],
            page_info=PageInfo(
                has_next_page=page.has_next_page,
                has_previous_page=after is not None,
                start_cursor=None,
                end_cursor=page.end_cursor,
            ),
        )

    @strawberry.field(description="one of this account's orders by number; null if not theirs")
    async def order(self, number: str) -> Order | None:
        row = await accounts_orders.find_order(customer=self.row, number=number)
        return Order(row=row) if row else None

    @strawberry.field(
        description="purchases in every channel, newest first (first ≤ 100): site orders, and "
        "shop receipts and managers' orders once linked to this account (a verified phone)"
    )
    async def purchases(self, info: Info, first: int = 20) -> list[identity.Purchase]:
        return await identity.purchases_of(self.row, first, info)

    @strawberry.field(description="consent to process personal data, and advertising per channel")
    async def consents(self, info: Info) -> identity.Consents:
        return await identity.consents_of(self.row, info)


@strawberry.type
class SessionTokens:
    access_token: str = strawberry.field(
        description="send as `Authorization: Bearer <accessToken>`; short-lived"
    )
    access_token_expires_at: datetime
    refresh_token: str = strawberry.field(
        description="swap for new tokens with refreshSession; each one works once"
    )
    refresh_token_expires_at: datetime

    @classmethod
    def of(cls, tokens: Tokens) -> SessionTokens:
        return cls(
            access_token=tokens.access_token,
            access_token_expires_at=tokens.access_expires_at,
            refresh_token=tokens.refresh_token,
            refresh_token_expires_at=tokens.refresh_expires_at,
        )


@strawberry.type
class SignInPayload:
    tokens: SessionTokens | None
    account: Account | None
    errors: list[UserError]

    @classmethod
    async def of(cls, tokens: Tokens) -> SignInPayload:
        account = Account(row=await Customer.get(id=tokens.customer_id))
        return cls(tokens=SessionTokens.of(tokens), account=account, errors=[])

    @classmethod
    def refused(cls, errors: list[UserError]) -> SignInPayload:
        return cls(tokens=None, account=None, errors=errors)


@strawberry.type
class AccountRequestPayload:
    ok: bool = strawberry.field(description="true when the request was accepted")
    errors: list[UserError]

    @classmethod
    def refused(cls, errors: list[UserError]) -> AccountRequestPayload:
        return cls(ok=False, errors=errors)


@strawberry.type
class AccountPayload:
    account: Account | None
    errors: list[UserError]

    @classmethod
    def refused(cls, errors: list[UserError]) -> AccountPayload:
        return cls(account=None, errors=errors)


@strawberry.type
class AddressPayload:
    address: Address | None
    errors: list[UserError]

    @classmethod
    def refused(cls, errors: list[UserError]) -> AddressPayload:
        return cls(address=None, errors=errors)


@strawberry.type
class DeleteAddressPayload:
    deleted_id: strawberry.ID | None
    errors: list[UserError]

    @classmethod
    def refused(cls, errors: list[UserError]) -> DeleteAddressPayload:
        return cls(deleted_id=None, errors=errors)


@strawberry.type
class PhoneVerificationPayload:
    phone: str | None = strawberry.field(description="the E.164 number the code was sent to")
    errors: list[UserError]

    @classmethod
    def refused(cls, errors: list[UserError]) -> PhoneVerificationPayload:
        return cls(phone=None, errors=errors)
