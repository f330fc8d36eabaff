"""An account's orders: placed while signed in, or as a guest with a contact it has proven."""

from __future__ import annotations

from dataclasses import dataclass

from tortoise.expressions import Q

from app.domain.cursors import decode_cursor, encode_cursor
from app.domain.errors import DomainError, ErrorCode
from app.models.checkout import Cart
from app.models.customers import Customer
from app.models.orders import Order

MAX_PAGE = 100
_LISTING = "orders"


@dataclass(frozen=True, kw_only=True)
class OrderPage:
    orders: list[Order]
    has_next_page: bool
    end_cursor: str | None


def _mine(customer: Customer) -> Q:
    """Orders that are provably this customer's. `Order.customer` alone is not proof: a guest
    order joins a customer by an e-mail or phone nobody had to confirm."""
    mine = Q(cart__customer_id=customer.id)
    if customer.email and customer.email_verified_at is not None:
        mine |= Q(email=customer.email)
    if customer.phone and customer.phone_verified_at is not None:
        mine |= Q(phone=customer.phone)
    return mine


async def list_orders(*, customer: Customer, first: int, after: str | None) -> OrderPage:
    """The customer's orders, newest first, keyset-paginated."""
    if not 1 <= first <= MAX_PAGE:
        raise DomainError(ErrorCode.INVALID, f"a page holds 1..{MAX_PAGE} orders", ("first",))
    query = Order.filter(_mine(customer))
    if after is not None:
        query = query.filter(id__lt=decode_cursor(after, _LISTING, 1)[0])
    rows = list(await query.order_by("-id").limit(first + 1))
    page = rows[:first]
    return OrderPage(
        orders=page,
        has_next_page=len(rows) > first,
        end_cursor=encode_cursor(_LISTING, page[-1].id) if page else None,
    )


async def find_order(*, customer: Customer, number: str) -> Order | None:
    """One of the customer's orders by its number; None for an unknown one or someone else's."""
    return await Order.filter(_mine(customer), number=number.strip()).first()


async def attach_cart(*, customer_id: int, cart_token: str) -> Cart:
    """Make a guest cart the signed-in customer's, so its order joins the account. Another
    customer's cart looks exactly like an unknown one."""
    cart = await Cart.get_or_none(token=cart_token)
    if cart is None or cart.customer_id not in (None, customer_id):
        raise DomainError(ErrorCode.CART_NOT_FOUND, "no such cart", ("cartToken",))
    if cart.customer_id is None:
        await Cart.filter(id=cart.id, customer_id=None).update(customer_id=customer_id)
        cart = await Cart.get(id=cart.id)
        if cart.customer_id != customer_id:  # another account attached it a moment ago
            raise DomainError(ErrorCode.CART_NOT_FOUND, "no such cart", ("cartToken",))
    return cart
