"""54-FZ receipts for what a payment, capture or refund covers, from the order's lines."""

from __future__ import annotations

from app.integrations.payments.base import ReceiptData, ReceiptLine
from app.models.orders import Order, OrderLine


async def receipt_for(order: Order, amount: int) -> ReceiptData:
    """The order's lines when `amount` is all of them; otherwise one line for the part (which
    items a partial capture or refund covers is known to 1C and RetailCRM, not to us)."""
    rows = await OrderLine.filter(order_id=order.id).order_by("id")
    lines = [ReceiptLine(row.product_name, row.quantity, row.unit_price) for row in rows]
    if sum(line.quantity * line.unit_price_kopecks for line in lines) != amount:
        lines = [ReceiptLine(f"Часть заказа {order.number}", 1, amount)]
    return ReceiptData(lines, order.email, order.phone)
