"""recordShopSales: 1C:Розница's till receipts, a batch at a time (sales:write)."""

from __future__ import annotations

from enum import Enum

import strawberry
from strawberry import Parent

from app.domain.access import Scope
from app.domain.shop_sales import RawReceipt, RawReceiptLine, ReceiptKind
from app.schema.context import Info
from app.schema.errors import UserError, payload, require_scope
from app.schema.validation import ITEMWISE, RejectedItems
from app.services.channels import shop_sales


@strawberry.enum
class ShopReceiptKind(Enum):
    SALE = "sale"
    RETURN = "return"


@strawberry.input
class ShopReceiptLineInput:
    variant_guid: str = strawberry.field(description="ХарактеристикаНоменклатуры GUID")
    quantity: int = strawberry.field(description="units, > 0 (also on a return)")
    price: str = strawberry.field(description="roubles per unit before the discount")
    discount: str = strawberry.field(default="0", description="roubles off the whole line")


@strawberry.input
class ShopCustomerInput:
    """The customer as the till saw them (each optional)."""

    phone: str | None = strawberry.field(default=None, description="as typed at the till")
    loyalty_card: str | None = strawberry.field(default=None, description="ИнформационнаяКарта")
    email: str | None = None
    guid: str | None = strawberry.field(default=None, description="1C Контрагент GUID")


@strawberry.input
class ShopReceiptInput:
    guid: str = strawberry.field(description="the receipt's GUID (ЧекККМ / ЧекККМВозврат)")
    shop_guid: str = strawberry.field(description="the shop's Склад GUID (a SHOP warehouse)")
    sold_at: str = strawberry.field(description="ISO 8601 with offset, 1C's clock")
    lines: list[ShopReceiptLineInput]
    kind: ShopReceiptKind = ShopReceiptKind.SALE
    sale_guid: str | None = strawberry.field(
        default=None, description="a return: the GUID of the sale receipt it undoes"
    )
    customer: ShopCustomerInput | None = None

    def to_raw(self) -> RawReceipt:
        who = self.customer or ShopCustomerInput()
        return RawReceipt(
            guid=self.guid,
            shop_guid=self.shop_guid,
            sold_at=self.sold_at,
            lines=[
                RawReceiptLine(ln.variant_guid, ln.quantity, ln.price, ln.discount)
                for ln in self.lines
            ],
            kind=ReceiptKind(self.kind.value),
            sale_guid=self.sale_guid,
            phone=who.phone,
            loyalty_card=who.loyalty_card,
            email=who.email,
            customer_guid=who.guid,
        )


@strawberry.type
class RecordShopSalesPayload:
    recorded: int = strawberry.field(description="receipts recorded by this call")
    duplicates: int = strawberry.field(description="receipts we held already (re-deliveries)")
    errors: list[UserError] = strawberry.field(description="rejected receipts; the others landed")


@strawberry.type
class ShopSalesMutation:
    @strawberry.mutation(
        description="1C:Розница: till receipts and return receipts, idempotent by GUID"
        " (sales:write)",
        metadata=ITEMWISE,
    )
    async def record_shop_sales(
        self, info: Info, receipts: list[ShopReceiptInput], found: Parent[RejectedItems]
    ) -> RecordShopSalesPayload:
        await require_scope(info, Scope.SALES_WRITE)
        settings = info.context.settings
        work = shop_sales.record_shop_sales(
            receipts=[r.to_raw() for r in receipts],
            max_receipts=settings.max_shop_receipts,
            max_lines=settings.max_shop_receipt_lines,
            now=info.context.now,
            rejected=found.by_item().get("receipts"),
        )
        return await payload(
            work,
            lambda report: RecordShopSalesPayload(
                recorded=report.recorded,
                duplicates=report.duplicates,
                errors=[UserError.from_problem(p) for p in report.problems],
            ),
            lambda errors: RecordShopSalesPayload(recorded=0, duplicates=0, errors=errors),
        )
