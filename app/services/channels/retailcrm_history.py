"""Pull what managers changed in RetailCRM: its order and customer histories, by `sinceId`.

Each page is applied in one transaction together with the move of its cursor, so a page that
fails halfway changes nothing and is read again next time. The cursor moves by a conditional
update taken first in the page's transaction (`since_id` still what this pull read): a second
pull running at the same moment waits on that row, then finds it moved and rolls back, so a
page is applied once. Every request takes its turn of the API key's budget (the client's),
shared with our pushes.

What a page means:
- a status a manager set on one of our orders: mapped to ours (`retailcrm_status_map`) and
  applied forward only, as 1C's reports are (a move back is logged and left alone);
- a line of our order set to a return status: a return of that line's units only
  (`retailcrm_returns`), the order-level "returned" then a sum of the lines;
- an order a manager created (a call, an Instagram message): a purchase in the customer's
  history (`record_purchase`, channel by `orderMethod` and source), undone by a return of it
  all when a manager later cancels it or takes it back;
- a customer created or changed: a source record (`observe_customer`);
- a customer merged away (`combinedTo`): `note_external_merge`.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import structlog
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app.domain.errors import DomainError
from app.domain.identity import CustomerSource, PurchaseLine
from app.domain.order_status import Reported
from app.domain.orders import OrderStatus
from app.integrations.retailcrm.history import (
    PAGE_LIMIT,
    Change,
    CrmCustomer,
    CustomerCombined,
    CustomerSeen,
    ItemStatusSeen,
    ManagerOrder,
    ManagerOrderStatus,
    StatusSeen,
    read_page,
)
from app.integrations.retailcrm.mapping import Json
from app.models.catalog import Variant
from app.models.channels import HistoryCursor
from app.models.identity import ChannelPurchase, ChannelPurchaseLine
from app.services.channels import order_status
from app.services.channels.order_status import Source, StatusReport, StatusUpdate
from app.services.channels.retailcrm_returns import (
    DEFAULT_ITEM_RETURN_CODES,
    item_return,
    lines_returned_on,
    returned_before,
)
from app.services.identity.observe import note_external_merge, observe_customer, record_purchase

log = structlog.get_logger(__name__)

ACTOR = "retailcrm"
ENTITIES = ("orders", "customers")
FULL_RETURNS = uuid.UUID("0b1e7d3a-52c4-4f1b-8a57-3c9e2d6f4a18")  # history id → return guid
_REPORTED = {
    OrderStatus.SHIPPED: Reported.SHIPPED,
    OrderStatus.DELIVERED: Reported.DELIVERED,
    OrderStatus.RETURNED: Reported.RETURNED,
    OrderStatus.CANCELLED: Reported.CANCELLED,
}


class HistoryReader(Protocol):
    async def history(self, entity: str, since_id: int, limit: int = PAGE_LIMIT) -> Json: ...


@dataclass
class PullReport:
    pages: int = 0
    changes: int = 0
    statuses: StatusReport = field(default_factory=StatusReport)  # refunds, orders to wake


async def pull_history(
    *,
    crm: HistoryReader,
    entity: str,
    status_map: Mapping[str, str],
    now: datetime,
    max_pages: int,
    item_returns: Collection[str] = DEFAULT_ITEM_RETURN_CODES,
) -> PullReport:
    """Apply the pages of one history after its cursor, oldest first, at most `max_pages`.
    `item_returns`: the account's line status codes that mean the line came back."""
    rules = _Rules(status_map, frozenset(item_returns))
    report = PullReport()
    for _ in range(max_pages):
        since = await _cursor(f"retailcrm:{entity}", now)
        page = read_page(await crm.history(entity, since), entity)
        if page.last_id is None:
            break
        if not await _apply_page(entity, since, page.last_id, page.changes, rules, now, report):
            break  # another pull applied it a moment ago
        report.pages += 1
        if not page.full:
            break
    return report


async def _cursor(name: str, now: datetime) -> int:
    cursor = await HistoryCursor.get_or_none(name=name)
    if cursor is None:
        try:
            cursor = await HistoryCursor.create(name=name, since_id=0, updated_at=now)
        except IntegrityError:  # created by a concurrent pull
            cursor = await HistoryCursor.get(name=name)
    return int(cursor.since_id)


class _Taken(Exception):
    """The cursor moved under us: the page is someone else's (roll back)."""


async def _apply_page(
    entity: str,
    since: int,
    last_id: int,
    changes: list[Change],
    rules: _Rules,
    now: datetime,
    report: PullReport,
) -> bool:
    applied = StatusReport()
    rules = rules.on_page(changes)
    try:
        async with in_transaction() as conn:
            moved = await HistoryCursor.filter(name=f"retailcrm:{entity}", since_id=since).update(
                since_id=last_id, updated_at=now
            )
            if not moved:
                raise _Taken
            for change in changes:
                await _apply(conn, change, rules, now, applied)
    except _Taken:
        return False
    report.changes += len(changes)
    report.statuses.refunds += applied.refunds
    report.statuses.orders += applied.orders
    return True


@dataclass(frozen=True)
class _Rules:
    """How a pull reads the account's codes, and which of our orders a page returns by line."""

    status_map: Mapping[str, str]
    item_returns: frozenset[str]
    lines_back: frozenset[str] = frozenset()

    def on_page(self, changes: list[Change]) -> _Rules:
        back = frozenset(lines_returned_on(changes, self.item_returns))
        return _Rules(self.status_map, self.item_returns, back)


async def _apply(
    conn: BaseDBAsyncClient,
    change: Change,
    rules: _Rules,
    now: datetime,
    applied: StatusReport,
) -> None:
    if isinstance(change, StatusSeen):
        await _status(change, rules, now, applied)
    elif isinstance(change, ItemStatusSeen):
        if change.code in rules.item_returns:
            await _report(item_return(change), change.history_id, change.code, now, applied)
    elif isinstance(change, ManagerOrder):
        await _manager_order(conn, change, now)
    elif isinstance(change, ManagerOrderStatus):
        await _manager_order_undone(conn, change, rules.status_map)
    elif isinstance(change, CustomerSeen):
        await _observe(conn, change.customer, now)
    elif isinstance(change, CustomerCombined):
        await note_external_merge(
            conn,
            source=CustomerSource.RETAILCRM,
            merged_id=change.merged_id,
            into_id=change.into_id,
            now=now,
            actor=ACTOR,
        )


async def _status(change: StatusSeen, rules: _Rules, now: datetime, applied: StatusReport) -> None:
    ours = rules.status_map.get(change.code)
    reported = _REPORTED.get(OrderStatus(ours)) if ours in set(OrderStatus) else None
    if reported is None:
        return  # a code of the CRM's own workflow: nothing for us
    if reported is Reported.RETURNED and (
        change.order_guid in rules.lines_back or await returned_before(change)
    ):
        log.info("retailcrm.returned_by_lines", order=change.order_guid, code=change.code)
        return  # the lines said what came back: the order's status only sums them up
    update = StatusUpdate(
        order_guid=change.order_guid,
        status=reported,
        changed_at=change.at.isoformat(),
        return_guid=str(uuid.uuid5(FULL_RETURNS, str(change.history_id))),
        reason=f"in RetailCRM ({change.code})",
    )
    await _report(update, change.history_id, change.code, now, applied)


async def _report(
    update: StatusUpdate, history_id: int, code: str, now: datetime, applied: StatusReport
) -> None:
    try:  # a savepoint: a refused report leaves the rest of the page applied
        outcome = await order_status.apply_status(update, now=now, source=Source.RETAILCRM)
    except DomainError as error:
        log.warning(
            "retailcrm.status_ignored",
            order=update.order_guid,
            code=code,
            history_id=history_id,
            reason=str(error),
        )
        return
    if outcome is not None:
        applied.orders.append(outcome.order_id)
        applied.refunds += outcome.refunds


async def _manager_order(conn: BaseDBAsyncClient, change: ManagerOrder, now: datetime) -> None:
    if change.customer is None:
        log.info("retailcrm.order_without_customer", crm_id=change.crm_id)
        return
    record_id = await _observe(conn, change.customer, now)
    guids = [g for g, _, _ in change.items if g]
    variants = dict(await Variant.filter(guid__in=guids).values_list("guid", "id")) if guids else {}
    await record_purchase(
        conn,
        record_id=record_id,
        channel=change.channel,
        external_ref=f"retailcrm:{change.crm_id}",
        at=change.at,
        lines=[
            PurchaseLine(variants.get(g) if g else None, units, amount)
            for g, units, amount in change.items
        ],
    )


async def _manager_order_undone(
    conn: BaseDBAsyncClient, change: ManagerOrderStatus, status_map: Mapping[str, str]
) -> None:
    """A manager's order cancelled or sent back: its purchase is undone in the customer's
    history by a return of everything it recorded (once: the return has its own ref)."""
    if status_map.get(change.code) not in (OrderStatus.CANCELLED, OrderStatus.RETURNED):
        return
    bought = (
        await ChannelPurchase.filter(external_ref=f"retailcrm:{change.crm_id}", is_return=False)
        .using_db(conn)
        .first()
    )
    if bought is None:
        return  # taken down before our pull started, or without a customer
    lines = await ChannelPurchaseLine.filter(purchase_id=bought.id).using_db(conn)
    await record_purchase(
        conn,
        record_id=bought.record_id,
        channel=bought.channel,
        external_ref=f"retailcrm:{change.crm_id}:undone",
        at=change.at,
        lines=[PurchaseLine(ln.variant_id, -ln.quantity, -ln.amount_kopecks) for ln in lines],
        is_return=True,
    )


async def _observe(conn: BaseDBAsyncClient, customer: CrmCustomer, now: datetime) -> int:
    return await observe_customer(
        conn,
        source=CustomerSource.RETAILCRM,
        external_id=customer.crm_id,
        now=now,
        actor=ACTOR,
        name=customer.name,
        phone=customer.phone,
        email=customer.email,
        loyalty_card=customer.card,
        retailcrm_id=customer.crm_id,
    )
