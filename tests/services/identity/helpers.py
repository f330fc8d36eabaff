"""A small catalog (clothes and shoes, a drop), site orders and shop purchases for the
identity tests."""

from __future__ import annotations

from datetime import UTC, datetime

from tortoise.transactions import in_transaction

from app.domain.identity import Channel, CustomerSource, PurchaseLine
from app.domain.orders import OrderStatus
from app.models.catalog import Variant
from app.models.customers import Customer
from app.models.orders import Order
from app.services.identity.observe import observe_customer, observe_site_customer, record_purchase
from tests import factories

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
DRESS_M = factories.guid("variant/Dress/M/black")
BOOTS_38 = factories.guid("variant/Boots/38/black")
DROP = "december"


async def catalog() -> None:
    """Clothes > Dresses (a dress in the December drop) and Shoes (boots), stock online."""
    await factories.warehouses()
    clothes = await factories.category("Clothes")
    dresses = await factories.category("Dresses", parent=clothes)
    shoes = await factories.category("Shoes")
    drop = await factories.collection("December", datetime(2026, 11, 1, tzinfo=UTC))
    await factories.product(
        "Dress",
        variants=[factories.variant("Dress", "M", "black")],
        category_guid=dresses,
        collection_guid=drop,
    )
    await factories.product(
        "Boots", variants=[factories.variant("Boots", "38", "black")], category_guid=shoes
    )
    for v in (DRESS_M, BOOTS_38):
        await factories.stock(v, factories.ONLINE, 100)


async def variant_id(guid: str) -> int:
    return (await Variant.get(guid=guid)).id


async def site_order(email: str, variant: str, quantity: int = 1, *, at: datetime = NOW) -> Order:
    """A paid site order by a verified account with `email`."""
    token = await factories.cart_with([(variant, quantity)], now=NOW, email=email)
    placed = await factories.place(token, now=NOW)  # then dated `at` (the drop is out now)
    order = await Order.get(id=placed.order.id)
    await Order.filter(id=order.id).update(status=OrderStatus.PAID, created_at=at)
    customer = await Customer.get(id=order.customer_id)
    await Customer.filter(id=customer.id).update(email_verified_at=at)
    customer = await Customer.get(id=customer.id)
    async with in_transaction() as conn:
        await observe_site_customer(conn, customer=customer, now=at, actor="test")
    return await Order.get(id=order.id)


async def shop_purchase(
    card: str,
    variant: str,
    *,
    ref: str,
    at: datetime = NOW,
    email: str | None = None,
    amount: int = 1_000_000,
    is_return: bool = False,
    channel: Channel = Channel.SHOP,
) -> int:
    """A till receipt for loyalty card `card` (with the e-mail the till saw, unverified)."""
    async with in_transaction() as conn:
        record = await observe_customer(
            conn,
            source=CustomerSource.SHOP_TILL,
            external_id=card,
            now=at,
            actor="1c",
            loyalty_card=card,
            email=email,
        )
        sign = -1 if is_return else 1
        line = PurchaseLine(await variant_id(variant), sign, sign * amount)
        await record_purchase(
            conn,
            record_id=record,
            channel=channel,
            external_ref=ref,
            at=at,
            lines=[line],
            is_return=is_return,
        )
    return record


async def link_card_to(email: str, card: str) -> None:
    """1C knows the card holder's verified e-mail: the till's card joins the site account."""
    async with in_transaction() as conn:
        await observe_customer(
            conn,
            source=CustomerSource.ONEC,
            external_id=f"cp-{card}",
            now=NOW,
            actor="1c",
            loyalty_card=card,
            email=email,
            email_verified=True,
        )
