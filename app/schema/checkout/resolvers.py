"""Shopper mutations and queries: cart, checkout, payment, order status."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Annotated, TypeVar

import strawberry

from app.domain.checkout import CheckoutCall
from app.domain.errors import ErrorCode
from app.domain.orders import DeliveryKind
from app.domain.payments import PaymentStatus
from app.models.checkout import Cart as CartRow
from app.models.orders import Order as OrderRow
from app.schema.checkout.queue import pass_in_use
from app.schema.checkout.types import Cart, DeliveryMethod, Order, PaymentInfo
from app.schema.context import Context, Info
from app.schema.errors import UserError, payload
from app.services.checkout import carts, orders, throttles
from app.services.payments import start as payments

T = TypeVar("T")

# GraphQL calls it variantId; in Python it is what it holds, 1C's GUID of the variant.
VariantGuid = Annotated[strawberry.ID, strawberry.argument(name="variantId")]


@strawberry.type
class CartPayload:
    cart: Cart | None
    errors: list[UserError]

    @classmethod
    def refused(cls, errors: list[UserError]) -> CartPayload:
        return cls(cart=None, errors=errors)


@strawberry.type
class OrderPayload:
    order: Order | None
    errors: list[UserError]

    @classmethod
    def refused(cls, errors: list[UserError]) -> OrderPayload:
        return cls(order=None, errors=errors)


@strawberry.type
class PayOrderPayload:
    order: Order | None
    payment: PaymentInfo | None
    errors: list[UserError]

    @classmethod
    def refused(cls, errors: list[UserError]) -> PayOrderPayload:
        return cls(order=None, payment=None, errors=errors)

    @classmethod
    def of(cls, outcome: payments.PaymentOutcome) -> PayOrderPayload:
        errors = []
        if outcome.payment.status is PaymentStatus.CANCELLED:
            errors.append(
                UserError(
                    code=ErrorCode.PAYMENT_DECLINED,
                    path=["cardNumber"],
                    message="the payment was declined; try again with a new idempotencyKey",
                )
            )
        order, payment = Order(row=outcome.order), PaymentInfo(row=outcome.payment)
        return cls(order=order, payment=payment, errors=errors)


@strawberry.input
class ContactInput:
    email: str | None = None
    phone: str | None = strawberry.field(default=None, description="any format; stored as E.164")
    first_name: str = ""
    last_name: str = ""


@strawberry.input
class DeliveryInput:
    method: DeliveryMethod
    address: str = strawberry.field(default="", description="courier: one line of text")
    shop_guid: strawberry.ID | None = strawberry.field(
        default=None, name="shopId", description="pickup: a shop"
    )


async def cart_view(row: CartRow, now: datetime) -> Cart:
    """The cart as shoppers see it; its lines are read only if the selection asks for them."""
    return Cart(row=row, now=now)


async def cart_payload(work: Awaitable[CartRow], now: datetime) -> CartPayload:
    async def ok(row: CartRow) -> CartPayload:
        return CartPayload(cart=await cart_view(row, now), errors=[])

    return await payload(work, ok, CartPayload.refused)


async def admitted(ctx: Context, call: CheckoutCall, work: Callable[[], Awaitable[T]]) -> T:
    """The service call `work`, once the checkout throttles let this call through."""
    await throttles.admit(
        redis=ctx.redis,
        settings=ctx.settings,
        call=call,
        address=ctx.client_ip,
        device_id=ctx.device_id,
        now=ctx.now,
    )
    return await work()


async def _order(work: Awaitable[OrderRow]) -> OrderPayload:
    return await payload(
        work, lambda row: OrderPayload(order=Order(row=row), errors=[]), OrderPayload.refused
    )


@strawberry.type
class CheckoutQuery:
    @strawberry.field(description="a cart by its token")
    async def cart(self, info: Info, token: str) -> Cart | None:
        row = await CartRow.get_or_none(token=token)
        return await cart_view(row, info.context.now) if row else None

    @strawberry.field(description="an order by its token (the order status page)")
    async def order(self, token: str) -> Order | None:
        row = await OrderRow.get_or_none(token=token)
        return Order(row=row) if row else None


@strawberry.type
class CheckoutMutation:
    @strawberry.mutation(description="start a cart (the signed-in customer's, else anonymous)")
    async def create_cart(self, info: Info) -> CartPayload:
        ctx = info.context
        customer = await ctx.customer()
        customer_id = customer.customer_id if customer else None
        created = admitted(
            ctx,
            CheckoutCall.CREATE_CART,
            lambda: carts.create_cart(customer_id, device=ctx.shopper_device),
        )
        return await cart_payload(created, ctx.now)

    @strawberry.mutation(description="set a line's quantity (0 removes it)")
    async def set_cart_line(
        self, info: Info, cart_token: str, variant_guid: VariantGuid, quantity: int
    ) -> CartPayload:
        ctx = info.context
        changed = admitted(
            ctx,
            CheckoutCall.CHANGE_CART,
            lambda: carts.set_line(
                cart_token=cart_token,
                variant_guid=variant_guid,
                quantity=quantity,
                now=ctx.now,
                device=ctx.shopper_device,
                queue_gate=ctx.queue_gate,
            ),
        )
        return await cart_payload(changed, ctx.now)

    @strawberry.mutation(description="add units of a variant to the cart")
    async def add_to_cart(
        self, info: Info, cart_token: str, variant_guid: VariantGuid, quantity: int = 1
    ) -> CartPayload:
        ctx = info.context
        changed = admitted(
            ctx,
            CheckoutCall.CHANGE_CART,
            lambda: carts.add_to_line(
                cart_token=cart_token,
                variant_guid=variant_guid,
                quantity=quantity,
                now=ctx.now,
                device=ctx.shopper_device,
                queue_gate=ctx.queue_gate,
            ),
        )
        return await cart_payload(changed, ctx.now)

    @strawberry.mutation
    async def set_cart_contact(
        self, info: Info, cart_token: str, contact: ContactInput
    ) -> CartPayload:
        await pass_in_use(info.context)  # a queued drop's pass lasts while the shopper is active
        return await cart_payload(
            carts.set_contact(
                cart_token=cart_token,
                email=contact.email,
                phone=contact.phone,
                first_name=contact.first_name,
                last_name=contact.last_name,
            ),
            info.context.now,
        )

    @strawberry.mutation
    async def set_cart_delivery(
        self, info: Info, cart_token: str, delivery: DeliveryInput
    ) -> CartPayload:
        await pass_in_use(info.context)
        return await cart_payload(
            carts.set_delivery(
                cart_token=cart_token,
                kind=DeliveryKind(delivery.method.value),
                address=delivery.address,
                shop_guid=delivery.shop_guid,
                now=info.context.now,
            ),
            info.context.now,
        )

    @strawberry.mutation(
        description="reserve every line (or none) and create the order; repeat-safe by key"
    )
    async def place_order(self, info: Info, cart_token: str, idempotency_key: str) -> OrderPayload:
        ctx = info.context
        placed = admitted(
            ctx,
            CheckoutCall.PLACE_ORDER,
            lambda: orders.place_order(
                cart_token=cart_token,
                idempotency_key=idempotency_key,
                now=ctx.now,
                payment_timeout=timedelta(minutes=ctx.settings.payment_timeout_minutes),
                jobs=ctx.jobs,
                ask_shops_now=ctx.settings.shop_confirmation_ask == "placed",
                device=ctx.shopper_device,
                drop_rush=timedelta(hours=ctx.settings.drop_rush_hours),
                queue_gate=ctx.queue_gate,
            ),
        )
        return await _order(_order_of(placed))

    @strawberry.mutation(
        description="pay for an order: YooKassa returns confirmationUrl to send the shopper to "
        "(the dummy provider reads cardNumber); the same idempotencyKey returns the same payment"
    )
    async def pay_order(
        self, info: Info, order_token: str, idempotency_key: str, card_number: str | None = None
    ) -> PayOrderPayload:
        ctx = info.context
        paying = payments.pay_order(
            order_token=order_token,
            idempotency_key=idempotency_key,
            provider=ctx.payments,
            now=ctx.now,
            return_url=ctx.settings.resolved_payment_return_url,
            jobs=ctx.jobs,
            card_number=card_number,
        )
        return await payload(paying, PayOrderPayload.of, PayOrderPayload.refused)

    @strawberry.mutation(description="cancel an unpaid order; its items go back on sale")
    async def cancel_order(self, info: Info, order_token: str) -> OrderPayload:
        return await _order(orders.cancel_by_shopper(order_token=order_token, now=info.context.now))


async def _order_of(placed: Awaitable[orders.PlacedOrder]) -> OrderRow:
    return (await placed).order
