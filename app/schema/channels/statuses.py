"""updateOrderStatuses: what happened to our orders after 1C took them (orders:write)."""

from __future__ import annotations

from enum import Enum

import strawberry
from strawberry import Parent

from app.domain.access import Scope
from app.domain.errors import Problem
from app.domain.order_status import Reported
from app.schema.context import Info
from app.schema.errors import UserError, payload, require_scope
from app.schema.validation import ITEMWISE, RejectedItems
from app.services.channels import order_status


@strawberry.enum
class ReportedOrderStatus(Enum):
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    RETURNED = "returned"
    CANCELLED = "cancelled"


@strawberry.input
class MarkingCodeInput:
    variant_guid: str
    code: str = strawberry.field(description="the unit's Честный ЗНАК code (DataMatrix, no GS)")


@strawberry.input
class ReturnLineInput:
    variant_guid: str
    quantity: int


@strawberry.input
class OrderStatusUpdateInput:
    order_guid: str = strawberry.field(description="our order GUID (ЗаказКлиента's)")
    status: ReportedOrderStatus
    changed_at: str = strawberry.field(description="ISO 8601 with offset, 1C's clock")
    carrier: str | None = strawberry.field(default=None, description="SHIPPED: required")
    tracking_number: str | None = None
    marking_codes: list[MarkingCodeInput] = strawberry.field(
        default_factory=list, description="SHIPPED: one per marked unit"
    )
    return_guid: str | None = strawberry.field(
        default=None, description="RETURNED: the return document's GUID (required)"
    )
    return_lines: list[ReturnLineInput] | None = strawberry.field(
        default=None, description="RETURNED: the units back; omit for everything still out"
    )
    return_marking_codes: list[str] = strawberry.field(
        default_factory=list,
        description="RETURNED: the codes of the marked units back (others are picked in"
        " shipment order among the codes still out)",
    )
    reason: str = strawberry.field(default="", description="CANCELLED: required; shown")

    def to_update(self) -> order_status.StatusUpdate:
        return order_status.StatusUpdate(
            order_guid=self.order_guid,
            status=Reported(self.status.value),
            changed_at=self.changed_at,
            carrier=self.carrier,
            tracking_number=self.tracking_number,
            marking_codes=[(m.variant_guid, m.code) for m in self.marking_codes],
            return_guid=self.return_guid,
            return_lines=None
            if self.return_lines is None
            else [(r.variant_guid, r.quantity) for r in self.return_lines],
            return_codes=list(self.return_marking_codes),
            reason=self.reason,
        )


@strawberry.type
class UpdateOrderStatusesPayload:
    applied: int = strawberry.field(description="updates that moved an order on")
    unchanged: int = strawberry.field(description="repeats: the order was there already")
    errors: list[UserError] = strawberry.field(description="refused updates; nothing of them")


@strawberry.type
class OrderStatusMutation:
    @strawberry.mutation(
        description="1C: shipped, delivered, returned, cancelled by the brand; forward only"
        " (orders:write)",
        metadata=ITEMWISE,
    )
    async def update_order_statuses(
        self, info: Info, updates: list[OrderStatusUpdateInput], found: Parent[RejectedItems]
    ) -> UpdateOrderStatusesPayload:
        await require_scope(info, Scope.ORDERS_WRITE)
        context = info.context
        rejected = found.by_item().get("updates", {})

        async def answered(report: order_status.StatusReport) -> UpdateOrderStatusesPayload:
            await order_status.after_commit(
                report, providers=context.providers.get, jobs=context.jobs, now=context.now
            )
            problems: list[Problem] = [*rejected.values(), *report.problems]
            return UpdateOrderStatusesPayload(
                applied=report.applied,
                unchanged=report.unchanged,
                errors=[UserError.from_problem(p) for p in sorted(problems, key=_item_index)],
            )

        work = order_status.update_order_statuses(
            updates=[u.to_update() for u in updates],
            max_updates=context.settings.max_order_status_updates,
            now=context.now,
            skip=set(rejected),
        )
        return await payload(
            work,
            answered,
            lambda errors: UpdateOrderStatusesPayload(applied=0, unchanged=0, errors=errors),
        )


def _item_index(problem: Problem) -> int:
    return int(problem.path[1])
