"""A shop's Slack settings as an admin sets them: the channel and the on-duty mention."""

from __future__ import annotations

from typing import Any

from app.domain.errors import DomainError, ErrorCode
from app.domain.shop_settings import check_channel, check_on_duty
from app.models.catalog import Warehouse, WarehouseKind
from app.services.catalog.intake import KEEP, Keep
from app.services.shops.reporting import find_warehouse


async def set_shop_slack(
    *, warehouse: str, channel: str | None | Keep, on_duty: str | None | Keep
) -> Warehouse:
    """Set where a shop's requests are posted and whom the reminder mentions; KEEP leaves a
    setting as it is, None clears it. Every check comes first: a refusal writes nothing.

    Requests already posted stay in their channel; the next ones go to the new one.
    """
    changes: dict[str, Any] = {}
    if channel is not KEEP:
        changes["slack_channel"] = check_channel(channel)
    if on_duty is not KEEP:
        changes["slack_on_duty"] = check_on_duty(on_duty)
    shop = await find_warehouse(warehouse)
    # conditional on the kind: 1C may turn the warehouse into the online one meanwhile
    query = Warehouse.filter(id=shop.id, kind=WarehouseKind.SHOP)
    if not await (query.update(**changes) if changes else query.exists()):
        raise DomainError(
            ErrorCode.INVALID, f"{shop.name} is not a shop: it has no Slack channel", ("warehouse",)
        )
    return await Warehouse.get(id=shop.id)
