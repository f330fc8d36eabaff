"""The shops' till receipts for the brand's staff (customers:read: they show the till's view of
the customer; every page that shows one is logged like a profile read)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.domain.access import Scope
from app.domain.errors import DomainError, ErrorCode
from app.domain.shop_sales import ReceiptKind
from app.models.channels import ShopReceipt as ReceiptRow
from app.schema.catalog.queries import query_error
from app.schema.channels.sales import ShopReceiptKind
from app.schema.context import Info
from app.schema.effects import side_effects
from app.schema.errors import require_scope
from app.services.channels.receipt_list import MAX_PAGE, ReceiptFilter, list_shop_receipts


@strawberry.type(name="ShopReceiptLine")
class ShopReceiptLineType:
    variant_guid: str
    quantity: int
    price_kopecks: int = strawberry.field(description="per unit")
    discount_kopecks: int = strawberry.field(description="off the line")
    amount_kopecks: int = strawberry.field(description="paid for the line (a return: given back)")


@strawberry.type(name="ShopReceipt", description="a till receipt from 1C:Розница, as it came")
class ShopReceiptType:
    guid: str
    kind: ShopReceiptKind
    shop_guid: str
    sold_at: datetime = strawberry.field(description="1C's clock")
    sale_guid: str | None = strawberry.field(description="a return: the sale it undoes")
    phone: str | None = strawberry.field(description="as the till saw it")
    email: str | None
    loyalty_card: str | None
    customer_guid: str | None = strawberry.field(description="1C's Контрагент")
    profile_id: strawberry.ID | None = strawberry.field(description="the customer profile")
    total_kopecks: int = strawberry.field(description="paid (a return: given back)")
    lines: list[ShopReceiptLineType]

    @classmethod
    def of(cls, r: ReceiptRow, profiles: dict[int, int]) -> ShopReceiptType:
        profile = profiles.get(r.identity_record_id or -1)
        return cls(
            guid=r.guid,
            kind=ShopReceiptKind(r.kind.value),
            shop_guid=r.shop.guid,
            sold_at=r.sold_at,
            sale_guid=r.sale_guid,
            phone=r.phone,
            email=r.email,
            loyalty_card=r.loyalty_card,
            customer_guid=r.customer_guid,
            profile_id=strawberry.ID(str(profile)) if profile is not None else None,
            total_kopecks=r.total,
            lines=[
                ShopReceiptLineType(
                    variant_guid=x.variant_guid,
                    quantity=x.quantity,
                    price_kopecks=x.price,
                    discount_kopecks=x.discount,
                    amount_kopecks=x.amount,
                )
                for x in sorted(r.lines, key=lambda x: x.id)
            ],
        )


@strawberry.type
class ShopReceiptPage:
    nodes: list[ShopReceiptType]
    has_next_page: bool
    end_cursor: str | None = strawberry.field(description="pass as `after`")


@strawberry.type
class ReceiptAdminQuery:
    @strawberry.field(
        description=f"till receipts newest first (customers:read; logged); first ≤ {MAX_PAGE};"
        " soldFrom inclusive, soldUntil exclusive",
        metadata=side_effects("logs which profiles' receipts were read"),
    )
    async def shop_receipts(
        self,
        info: Info,
        first: int = 50,
        after: str | None = None,
        shop_guid: str | None = None,
        sold_from: datetime | None = None,
        sold_until: datetime | None = None,
        profile_id: strawberry.ID | None = None,
        kind: ShopReceiptKind | None = None,
    ) -> ShopReceiptPage:
        actor = await _actor(info)
        try:
            where = ReceiptFilter(
                shop_guid=shop_guid,
                sold_from=sold_from,
                sold_until=sold_until,
                profile_id=_profile(profile_id),
                kind=ReceiptKind(kind.value) if kind is not None else None,
            )
            page = await list_shop_receipts(
                where=where, first=first, after=after, actor=actor, now=info.context.now
            )
        except DomainError as error:
            raise query_error(error) from None
        nodes = [ShopReceiptType.of(r, page.profiles) for r in page.receipts]
        return ShopReceiptPage(
            nodes=nodes, has_next_page=page.has_next_page, end_cursor=page.end_cursor
        )


async def _actor(info: Info) -> str:
    await require_scope(info, Scope.CUSTOMERS_READ)
    principal = await info.context.integration()
    return f"token:{principal.name}" if principal else "unknown"


def _profile(value: strawberry.ID | None) -> int | None:
    if value is None:
        return None
    if not value.isdigit() or len(value) > 12:
        raise DomainError(ErrorCode.INVALID, "not a profile id", ("profileId",))
    return int(value)
