"""What the shopper is told when their order moves on elsewhere (a message through the outbox)."""

from __future__ import annotations

from datetime import datetime

from app.domain.catalog import kopecks_to_rub
from app.domain.order_status import SHOPPER_TEMPLATES
from app.domain.orders import OrderStatus
from app.domain.outbound import MessageChannel
from app.models.channels import OrderShipment
from app.models.orders import Order
from app.models.outbox import OutboxEvent
from app.services.accounts.messages import record_message


async def tell_shopper(
    order: Order, status: OrderStatus, *, now: datetime, reason: str = "", amount: int = 0
) -> OutboxEvent | None:
    """In the change's transaction: a message about the change (shipped with its tracking,
    delivered, refunded, cancelled by the brand with the reason) to the order's e-mail, else
    its phone. None if the change is not one the shopper is told of, or they left no contact."""
    template = SHOPPER_TEMPLATES.get(status)
    if template is None or not (order.email or order.phone):
        return None
    params = {"number": order.number, "status": status.value}
    if status is OrderStatus.SHIPPED:
        shipment = await OrderShipment.get(order_id=order.id)
        params |= {"carrier": shipment.carrier, "tracking": shipment.tracking_number}  # may be ""
    if amount:
        params["amount"] = f"{kopecks_to_rub(amount)}"
    if reason:
        params["reason"] = reason
    channel, to = (
        (MessageChannel.EMAIL, order.email) if order.email else (MessageChannel.SMS, order.phone)
    )
    return await record_message(
        channel=channel, to=to or "", template=template, params=params, now=now
    )
