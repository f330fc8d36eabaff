"""Cart and order types for shoppers."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

import strawberry

from app.domain.availability import available_to_holder
from app.domain.catalog import kopecks_to_rub
from app.domain.checkout import PricedLine, order_total
from app.domain.orders import DeliveryKind, OrderStatus
from app.domain.payments import PaymentStatus, RefundStatus
from app.domain.reservations import ShopConfirmation
from app.domain.shop_confirmation import LineState
from app.models.catalog import Variant as VariantRow
from app.models.checkout import Cart as CartRow
from app.models.checkout import CartLine as CartLineRow
from app.models.orders import Order as OrderRow
from app.models.orders import OrderLine as OrderLineRow
from app.models.orders import Payment as PaymentRow
from app.models.orders import Refund as RefundRow
from app.models.stock import Reservation
from app.schema.catalog.types import Money, Variant, Warehouse
from app.schema.channels.shipment import Shipment, shipment_of
from app.schema.context import Info
from app.services.checkout.carts import hold_expires_at, live_holds_by_line, ranked_for
from app.services.inventory.reservations import infos_of

strawberry.enum(OrderStatus, name="OrderStatus")
strawberry.enum(PaymentStatus, name="PaymentStatus")
strawberry.enum(RefundStatus, name="RefundStatus")
strawberry.enum(ShopConfirmation, name="ShopConfirmation")
strawberry.enum(LineState, name="OrderLineState")


@strawberry.enum
class DeliveryMethod(Enum):
    COURIER = "courier"
    PICKUP = "pickup"


def rub(kopecks: int) -> Money:
    return Money(amount=kopecks_to_rub(kopecks))


def _priced(line: CartLineRow) -> PricedLine:
    return PricedLine(unit_price=line.variant.price, quantity=line.quantity)


@strawberry.type
class Delivery:
    method: DeliveryMethod
    address: str
    shop: Warehouse | None


async def _delivery(
    kind: DeliveryKind | None, address: str, shop_id: int | None, info: Info
) -> Delivery | None:
    if kind is None:
        return None
    shops = await info.context.loaders.warehouses()
    shop = Warehouse.of(shops[shop_id]) if shop_id in shops else None
    return Delivery(method=DeliveryMethod(kind.value), address=address, shop=shop)


@strawberry.type
class CartLine:
    row: strawberry.Private[CartLineRow]
    variant_row: strawberry.Private[VariantRow]
    pickup_warehouse_id: strawberry.Private[int | None]
    own_holds: strawberry.Private[dict[int, int]]

    @strawberry.field
    def variant(self) -> Variant:
        return Variant.of(self.variant_row)

    @strawberry.field
    def quantity(self) -> int:
        return self.row.quantity

    @strawberry.field
    def line_total(self) -> Money:
        return rub(order_total([_priced(self.row)]))

    @strawberry.field(
        description="the most this line may be set to now (its own held units included)"
    )
    async def available(self, info: Info) -> int:
        loaders = info.context.loaders
        positions = await loaders.stock_positions(self.variant_row.id)
        infos = infos_of((await loaders.warehouses()).values())
        return available_to_holder(
            positions, ranked_for(infos, self.pickup_warehouse_id), self.own_holds
        )


@dataclass(frozen=True)
class CartContents:
    """A cart's lines (with their variants) and, per line, the units its live holds keep in
    each warehouse: read only when a selection asks for lines or the total."""

    lines: list[CartLineRow]
    holds: dict[int, dict[int, int]]


async def cart_contents(cart_id: int, now: datetime) -> CartContents:
    lines = list(await CartLineRow.filter(cart_id=cart_id).order_by("id").select_related("variant"))
    holds = await live_holds_by_line([line.id for line in lines], now) if lines else {}
    return CartContents(lines, holds)


@strawberry.type
class Cart:
    row: strawberry.Private[CartRow]
    now: strawberry.Private[datetime]
    # one read of the lines, shared by `lines` and `total` (resolved concurrently)
    loading: strawberry.Private[asyncio.Future[CartContents] | None] = None

    async def contents(self) -> CartContents:
        if self.loading is None:
            self.loading = asyncio.ensure_future(cart_contents(self.row.id, self.now))
        return await self.loading

    @strawberry.field(description="the cart's secret: keep it, it is the only key to the cart")
    def token(self) -> str:
        return self.row.token

    @strawberry.field
    async def lines(self) -> list[CartLine]:
        pickup, contents = self.row.pickup_warehouse_id, await self.contents()
        return [
            CartLine(
                row=r,
                variant_row=r.variant,
                pickup_warehouse_id=pickup,
                own_holds=contents.holds.get(r.id, {}),
            )
            for r in contents.lines
        ]

    @strawberry.field
    def email(self) -> str | None:
        return self.row.email

    @strawberry.field
    def phone(self) -> str | None:
        return self.row.phone

    @strawberry.field
    async def delivery(self, info: Info) -> Delivery | None:
        row = self.row
        return await _delivery(
            row.delivery_kind, row.delivery_address, row.pickup_warehouse_id, info
        )

    @strawberry.field
    async def total(self) -> Money:
        return rub(order_total(_priced(r) for r in (await self.contents()).lines))

    @strawberry.field(description="when held items go back on sale unless the shopper acts")
    async def hold_expires_at(self, info: Info) -> datetime | None:
        return await hold_expires_at(self.row.id, info.context.now)


@strawberry.type
class Allocation:
    row: strawberry.Private[Reservation]

    @strawberry.field
    async def warehouse(self, info: Info) -> Warehouse:
        return Warehouse.of((await info.context.loaders.warehouses())[self.row.warehouse_id])

    @strawberry.field
    def quantity(self) -> int:
        return self.row.quantity

    @strawberry.field(description="for units from a shop: whether its staff confirmed them")
    def shop_confirmation(self) -> ShopConfirmation:
        return self.row.shop_confirmation


@strawberry.type
class OrderLine:
    row: strawberry.Private[OrderLineRow]

    @strawberry.field
    async def variant(self, info: Info) -> Variant:
        return Variant.of(await info.context.loaders.variant.load(self.row.variant_id))

    @strawberry.field
    def product_name(self) -> str:
        return self.row.product_name

    @strawberry.field
    def sku(self) -> str:
        return self.row.sku

    @strawberry.field
    def quantity(self) -> int:
        return self.row.quantity

    @strawberry.field
    def unit_price(self) -> Money:
        return rub(self.row.unit_price)

    @strawberry.field
    async def allocations(self, info: Info) -> list[Allocation]:
        rows = await info.context.loaders.allocations_by_line.load(self.row.id)
        return [Allocation(row=r) for r in rows]

    @strawberry.field(
        description="where the line stands: a shop confirming it, confirmed, moved to the next "
        "warehouse after a shop declined, unavailable (its money goes back), or ready"
    )
    async def state(self, info: Info) -> LineState:
        states = await info.context.loaders.line_states_by_order.load(self.row.order_id)
        return states[self.row.id]

    @strawberry.field(description="units no warehouse could serve: refunded by themselves")
    def unavailable_quantity(self) -> int:
        return self.row.unavailable


@strawberry.type
class OrderStatusChange:
    from_status: OrderStatus | None
    to_status: OrderStatus
    at: datetime
    reason: str


@strawberry.type
class PaymentInfo:
    row: strawberry.Private[PaymentRow]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.row.guid)

    @strawberry.field
    def provider(self) -> str:
        return self.row.provider

    @strawberry.field
    def status(self) -> PaymentStatus:
        return self.row.status

    @strawberry.field
    def amount(self) -> Money:
        return rub(self.row.amount)

    @strawberry.field(description="where to send the shopper to pay, if the provider has a page")
    def confirmation_url(self) -> str | None:
        return self.row.confirmation_url

    @strawberry.field(description="given back so far")
    def refunded(self) -> Money:
        return rub(self.row.refunded)

    @strawberry.field(description="when the money was authorised or taken")
    def paid_at(self) -> datetime | None:
        return self.row.paid_at

    @strawberry.field(description="why a cancelled payment was cancelled, as the provider says")
    def cancellation_reason(self) -> str | None:
        return self.row.cancellation_reason

    @strawberry.field
    async def refunds(self, info: Info) -> list[RefundInfo]:
        rows = await info.context.loaders.refunds_by_payment.load(self.row.id)
        return [RefundInfo.of(r) for r in rows]


@strawberry.type
class RefundInfo:
    id: strawberry.ID
    status: RefundStatus
    amount: Money
    reason: str
    created_at: datetime

    @classmethod
    def of(cls, row: RefundRow) -> RefundInfo:
        return cls(
            id=strawberry.ID(row.guid),
            status=row.status,
            amount=rub(row.amount),
            reason=row.reason,
            created_at=row.created_at,
        )


@strawberry.type
class Order:
    row: strawberry.Private[OrderRow]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.row.guid)

    @strawberry.field
    def number(self) -> str:
        return self.row.number

    @strawberry.field(description="the shopper's key to this order (order status page)")
    def token(self) -> str:
        return self.row.token

    @strawberry.field
    def status(self) -> OrderStatus:
        return self.row.status

    @strawberry.field
    def total(self) -> Money:
        return rub(self.row.total)

    @strawberry.field
    def email(self) -> str | None:
        return self.row.email

    @strawberry.field
    def phone(self) -> str | None:
        return self.row.phone

    @strawberry.field(description="unpaid orders are cancelled at this instant")
    def payment_deadline(self) -> datetime:
        return self.row.payment_deadline

    @strawberry.field
    def created_at(self) -> datetime:
        return self.row.created_at

    @strawberry.field
    async def delivery(self, info: Info) -> Delivery | None:
        row = self.row
        return await _delivery(
            row.delivery_kind, row.delivery_address, row.pickup_warehouse_id, info
        )

    @strawberry.field
    async def lines(self, info: Info) -> list[OrderLine]:
        rows = await info.context.loaders.lines_by_order.load(self.row.id)
        return [OrderLine(row=r) for r in rows]

    @strawberry.field
    async def history(self, info: Info) -> list[OrderStatusChange]:
        rows = await info.context.loaders.history_by_order.load(self.row.id)
        return [
            OrderStatusChange(
                from_status=r.from_status, to_status=r.to_status, at=r.at, reason=r.reason
            )
            for r in rows
        ]

    @strawberry.field
    async def payments(self, info: Info) -> list[PaymentInfo]:
        rows = await info.context.loaders.payments_by_order.load(self.row.id)
        return [PaymentInfo(row=r) for r in rows]

    @strawberry.field(description="carrier and tracking once 1C shipped it; null before")
    async def shipment(self, info: Info) -> Shipment | None:
        return await shipment_of(info, self.row.id)
