"""RetailCRM's change histories (`orders/history`, `customers/history`) read into plain changes.

A page answers `{"success": true, "history": [...], "pagination": {...}}`, entries oldest
first, each with its `id` (the next page starts after the last one: `filter[sinceId]`)::

    {"id": 17, "createdAt": "2026-11-01 12:00:00", "created": true, "source": "user",
     "user": {"id": 3}, "field": "status", "oldValue": {"code": "new"},
     "newValue": {"code": "send-to-delivery"}, "apiKey": {"current": false},
     "order": {"id": 101, "externalId": "<our order GUID>", "orderMethod": "phone",
               "source": {"source": "instagram"}, "customer": {"id": 7, …}, "items": […]}}

A line's status set by a manager is an entry of its own, `field: "order_product.status"`, with
the line as `item: {"id", "quantity", "offer": {"externalId": "<our variant GUID>"}}`.
Customers' entries carry `customer` instead (`discountCardNumber`, `phones`, `email`…), and a
customer merged away by `customers/combine` has an entry with `combinedTo: {"id": …}` (the
customer it now is). Entries our own API key made (`apiKey.current`) are what we pushed: they
are skipped. What an entry means to us is below; anything else is left alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from app.domain.identity import Channel
from app.integrations.retailcrm.mapping import DATETIME_FORMAT, MOSCOW, Json

PAGE_LIMIT = 100  # RetailCRM's largest page
ITEM_STATUS = "order_product.status"  # a line's status (the account's productStatuses)
CUSTOMER_FIELDS = {"email", "phones", "first_name", "last_name", "discount_card_number"}


@dataclass(frozen=True, slots=True)
class CrmCustomer:
    crm_id: str
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    card: str | None = None


@dataclass(frozen=True, slots=True)
class StatusSeen:
    """A manager moved one of our orders (it has our GUID as externalId)."""

    history_id: int
    order_guid: str
    code: str
    at: datetime


@dataclass(frozen=True, slots=True)
class ItemStatusSeen:
    """A manager set the status of one line (`order_product.status`) of one of our orders:
    the line's offer (our variant GUID) and its units (None when the entry does not say)."""

    history_id: int
    order_guid: str
    variant_guid: str
    units: int | None
    code: str
    at: datetime


@dataclass(frozen=True, slots=True)
class ManagerOrderStatus:
    """A manager moved an order taken down in RetailCRM (no externalId of ours)."""

    history_id: int
    crm_id: str
    code: str
    at: datetime


@dataclass(frozen=True, slots=True)
class ManagerOrder:
    """An order a manager took down in RetailCRM (a call, an Instagram message)."""

    history_id: int
    crm_id: str
    channel: Channel
    at: datetime
    customer: CrmCustomer | None
    items: tuple[tuple[str | None, int, int], ...]  # (offer externalId, units, kopecks paid)


@dataclass(frozen=True, slots=True)
class CustomerSeen:
    history_id: int
    customer: CrmCustomer


@dataclass(frozen=True, slots=True)
class CustomerCombined:
    history_id: int
    merged_id: str
    into_id: str


Change = (
    StatusSeen
    | ItemStatusSeen
    | ManagerOrderStatus
    | ManagerOrder
    | CustomerSeen
    | CustomerCombined
)


@dataclass(frozen=True)
class Page:
    changes: list[Change] = field(default_factory=list)
    last_id: int | None = None  # the newest entry on the page, read or skipped
    full: bool = False  # a whole page: more may follow


def read_page(body: Json, entity: str, limit: int = PAGE_LIMIT) -> Page:
    """The changes of one history page (`entity`: orders or customers)."""
    entries = body.get("history")
    if not isinstance(entries, list):
        raise ValueError("a history page without a `history` list")
    ids = [int(e["id"]) for e in entries if isinstance(e, dict) and "id" in e]
    read = order_change if entity == "orders" else customer_change
    changes = [c for e in entries if isinstance(e, dict) and not _ours(e) for c in read(e)]
    return Page(changes, max(ids) if ids else None, len(entries) >= limit)


def _ours(entry: Json) -> bool:
    key = entry.get("apiKey")
    return isinstance(key, dict) and key.get("current") is True


def order_change(entry: Json) -> list[Change]:
    order = entry.get("order")
    if not isinstance(order, dict):
        return []
    history_id, at = int(entry["id"]), crm_instant(entry.get("createdAt"))
    external = order.get("externalId")
    if entry.get("field") == "status":
        code = (entry.get("newValue") or {}).get("code")
        if not code:
            return []
        if external:
            return [StatusSeen(history_id, str(external), str(code), at)]
        return [ManagerOrderStatus(history_id, str(order.get("id")), str(code), at)]
    if entry.get("field") == ITEM_STATUS and external:
        return _item_status(history_id, str(external), entry, at)
    if not external and entry.get("created") is True:
        return [_manager_order(history_id, order, at)]
    return []


def _item_status(history_id: int, order_guid: str, entry: Json, at: datetime) -> list[Change]:
    """`order_product.status` of our order's line: its offer's externalId is our variant."""
    item, code = entry.get("item"), (entry.get("newValue") or {}).get("code")
    offer = item.get("offer") if isinstance(item, dict) else None
    variant = offer.get("externalId") if isinstance(offer, dict) else None
    if not code or not variant or not isinstance(item, dict):
        return []
    quantity = item.get("quantity")
    units = None
    if isinstance(quantity, int | float) and not isinstance(quantity, bool) and quantity > 0:
        units = int(quantity)
    return [ItemStatusSeen(history_id, order_guid, str(variant), units, str(code), at)]


def _manager_order(history_id: int, order: Json, at: datetime) -> ManagerOrder:
    customer = order.get("customer")
    return ManagerOrder(
        history_id=history_id,
        crm_id=str(order.get("id")),
        channel=channel_of(order.get("orderMethod"), order.get("source")),
        at=crm_instant(order.get("createdAt")) if order.get("createdAt") else at,
        customer=_customer(customer) if isinstance(customer, dict) else None,
        items=tuple(_item(i) for i in order.get("items") or [] if isinstance(i, dict)),
    )


def channel_of(method: Any, source: Any) -> Channel:
    """Where a manager's order came from: `orderMethod` phone is a call; a messenger order or
    one whose source names Instagram is Instagram; anything else is another channel."""
    origin = str(source.get("source") or "") if isinstance(source, dict) else ""
    if "instagram" in origin.lower() or method == "messenger":
        return Channel.INSTAGRAM
    if method == "phone":
        return Channel.PHONE
    return Channel.OTHER


def _item(item: Json) -> tuple[str | None, int, int]:
    offer = item.get("offer") or {}
    units = int(item.get("quantity") or 0)
    price = kopecks(item.get("initialPrice")) - kopecks(item.get("discountTotal"))
    external = offer.get("externalId") if isinstance(offer, dict) else None
    return (str(external) if external else None, units, max(0, price) * units)


def customer_change(entry: Json) -> list[Change]:
    customer = entry.get("customer")
    if not isinstance(customer, dict) or "id" not in customer:
        return []
    history_id = int(entry["id"])
    into = entry.get("combinedTo") or customer.get("combinedTo")
    if isinstance(into, dict) and "id" in into:
        return [CustomerCombined(history_id, str(customer["id"]), str(into["id"]))]
    if entry.get("created") is True:
        return [CustomerSeen(history_id, _customer(customer))]
    name = entry.get("field")
    if name not in CUSTOMER_FIELDS:
        return []
    value = entry.get("newValue")
    changed = {
        "email": {"email": value},
        "phones": {"phones": [{"number": value}] if isinstance(value, str) else value},
        "first_name": {"firstName": value},
        "last_name": {"lastName": value},
        "discount_card_number": {"discountCardNumber": value},
    }[str(name)]
    return [CustomerSeen(history_id, _customer({**customer, **changed}))]


def _customer(data: Json) -> CrmCustomer:
    phones = data.get("phones")
    phone = None
    if isinstance(phones, list) and phones and isinstance(phones[0], dict):
        phone = phones[0].get("number")
    name = " ".join(str(data[k]) for k in ("firstName", "lastName") if data.get(k)).strip()
    return CrmCustomer(
        crm_id=str(data["id"]),
        name=name or None,
        phone=str(phone) if phone else None,
        email=str(data["email"]) if data.get("email") else None,
        card=str(data["discountCardNumber"]) if data.get("discountCardNumber") else None,
    )


def crm_instant(value: Any) -> datetime:
    """RetailCRM's `Y-m-d H:i:s` (the account's time zone, Moscow) as an aware UTC instant."""
    moment = datetime.strptime(str(value), DATETIME_FORMAT).replace(tzinfo=MOSCOW)
    return moment.astimezone(UTC)


def kopecks(value: Any) -> int:
    """A JSON number of roubles (never through float arithmetic) in kopecks; absent: 0."""
    if value is None:
        return 0
    try:
        return int((Decimal(str(value)) * 100).to_integral_value())
    except InvalidOperation:
        return 0
