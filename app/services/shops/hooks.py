"""Where an order's life meets shop confirmations: placed, paid."""

from __future__ import annotations

from datetime import datetime

from tortoise.backends.base.client import BaseDBAsyncClient

from app.models.orders import Order
from app.models.shops import ShopRequest
from app.services.shops.asking import ask_shops
from app.services.shops.progress import settle_order


async def on_paid(conn: BaseDBAsyncClient, order: Order, *, now: datetime) -> None:
    """The order is paid (in the payment's transaction): ask its shops, unless they were asked
    at placement; then, if they have all answered already, it is ready for shipping, and the
    money for units that became unavailable before the payment goes back."""
    await ask_shops(order, now=now)
    if await ShopRequest.exists(order_id=order.id):
        await settle_order(conn, order, moved=False, now=now)
