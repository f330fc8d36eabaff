"""54-FZ receipts for what a payment, capture or refund covers, from the order's lines."""

from __future__ import annotations

from app.domain.closing_receipt import ShippedLine, closing_items
from app.domain.orders import handed_over as goods_handed_over
from app.integrations.payments.base import ReceiptData, ReceiptLine
from app.models.channels import OrderReturn, OrderReturnLine
from app.models.orders import Order, OrderLine, Refund
from app.services.channels.returned_codes import codes_of_return


async def receipt_for(order: Order, amount: int, *, handed_over: bool = False) -> ReceiptData:
    """The order's lines when `amount` is all of them; otherwise one line for the part (which
    items a partial capture or refund covers is known to 1C and RetailCRM, not to us). A
    payment's or capture's receipt is a prepayment (the closing receipt settles it when the
    order ships); a refund's settles only once the goods were handed over."""
    rows = await OrderLine.filter(order_id=order.id).order_by("id")
    lines = [ReceiptLine(row.product_name, row.quantity, row.unit_price) for row in rows]
    if sum(line.quantity * line.unit_price_kopecks for line in lines) != amount:
        lines = [ReceiptLine(f"Часть заказа {order.number}", 1, amount)]
    return ReceiptData(lines, order.email, order.phone, handed_over=handed_over)


async def refund_receipt(order: Order, refund: Refund) -> ReceiptData:
    """A refund of returned units: the units that came back, a marked unit a line of its own
    with its code (so the code goes back into circulation); any other refund as `receipt_for`.
    A return the payment could not cover in full (less left than it cost) is a part too."""
    back = await OrderReturn.get_or_none(refund_id=refund.id)
    if back is not None:
        lines = await _returned_lines(order, back)
        items = closing_items(lines, await codes_of_return(back.id))
        receipt = [
            ReceiptLine(i.description, i.quantity, i.unit_price_kopecks, i.mark_code) for i in items
        ]
        if sum(line.quantity * line.unit_price_kopecks for line in receipt) == refund.amount:
            return ReceiptData(receipt, order.email, order.phone, handed_over=True)  # came back
    return await receipt_for(order, refund.amount, handed_over=goods_handed_over(order.status))


async def _returned_lines(order: Order, back: OrderReturn) -> list[ShippedLine]:
    """The return's units per variant at the order's price of that variant, in line order."""
    units = dict(
        await OrderReturnLine.filter(order_return_id=back.id).values_list("variant_id", "quantity")
    )
    lines: list[ShippedLine] = []
    for row in await OrderLine.filter(order_id=order.id).order_by("id"):
        taken = min(int(str(units.get(row.variant_id, 0))), row.quantity - row.unavailable)
        if taken > 0:
            lines.append(ShippedLine(row.variant_id, row.product_name, taken, row.unit_price))
            units[row.variant_id] = int(str(units[row.variant_id])) - taken
    return lines
