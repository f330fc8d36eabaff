"""The RetailCRM simulator's change histories, and the managers who make changes in it.

`GET orders/history` and `GET customers/history` take `filter[sinceId]` and `limit` (20, 50 or
100; RetailCRM's default is 20) and answer the entries after that id, oldest first, with
`pagination`. Every change is an entry: those made through the API carry
`apiKey: {"current": true}` and `source: "api"`; those a manager makes (`Managers`, below: a
status set by hand, an order taken down from a call or an Instagram message, a customer typed
in or edited, lines of an order marked as come back (`order_product.status`, a part of a line
split off first), customers merged with `customers/combine`) carry `source: "user"` and a
`user`.
A customer merged away leaves `state.customers` and answers 404 with `combinedTo`; its entry
carries `combinedTo: {"id"}`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.devtools.simulators.base import Refusal

if TYPE_CHECKING:
    from app.devtools.simulators.retailcrm import RetailCrmSimulator

Json = dict[str, Any]
MOSCOW = timezone(timedelta(hours=3))
LIMITS = (20, 50, 100)
MANAGER = {"id": 3}  # the user a manager's changes are made by


def _crm_now() -> str:
    return datetime.now(MOSCOW).strftime("%Y-%m-%d %H:%M:%S")


@dataclass
class HistoryLog:
    entries: dict[str, list[Json]] = field(default_factory=lambda: {"orders": [], "customers": []})
    combined: dict[int, int] = field(default_factory=dict)  # merged-away id → result id
    last_id: int = 0

    def add(self, entity: str, entry: Json, *, by_api: bool) -> Json:
        self.last_id += 1
        who: Json = {"apiKey": {"current": True}} if by_api else {"user": MANAGER}
        stored = {
            "id": self.last_id,
            "createdAt": _crm_now(),
            "source": "api" if by_api else "user",
        }
        stored |= who | entry
        self.entries[entity].append(stored)
        return stored

    def page(self, entity: str, since_id: int, limit: int) -> Json:
        after = [e for e in self.entries[entity] if e["id"] > since_id]
        total = len(after)
        return {
            "generatedAt": _crm_now(),
            "history": after[:limit],
            "pagination": {
                "limit": limit,
                "totalCount": total,
                "currentPage": 1,
                "totalPageCount": max(1, -(-total // limit)),
            },
        }


def _brief(entity: Json) -> Json:
    return {k: entity[k] for k in ("id", "externalId", "site") if k in entity}


def _line(item: Json) -> Json:
    """An order line as a history entry names it."""
    line = {"id": item["id"], "quantity": item["quantity"], "offer": dict(item.get("offer") or {})}
    return line | ({"status": item["status"]} if "status" in item else {})


# --- what the API's own writes leave in the histories (called by RetailCrmSimulator) ----------


def order_written(log: HistoryLog, before: Json | None, after: Json) -> None:
    if before is None:
        log.add("orders", {"created": True, "order": dict(after)}, by_api=True)
    elif before.get("status") != after.get("status"):
        change = {"field": "status", "oldValue": {"code": before.get("status")}}
        change |= {"newValue": {"code": after.get("status")}, "order": _brief(after)}
        log.add("orders", change, by_api=True)


def customer_written(log: HistoryLog, customer: Json) -> None:
    log.add("customers", {"created": True, "customer": dict(customer)}, by_api=True)


# --- endpoints ------------------------------------------------------------------------------


async def history_endpoint(sim: RetailCrmSimulator, request: Request, entity: str) -> Response:
    query = request.query_params
    try:
        since = int(query.get("filter[sinceId]", "0"))
        limit = int(query.get("limit", "20"))
    except ValueError:
        raise Refusal(_failure(400, "filter[sinceId] and limit are numbers")) from None
    if limit not in LIMITS:
        raise Refusal(_failure(400, f"limit must be one of {', '.join(map(str, LIMITS))}"))
    return JSONResponse({"success": True, **sim.history.page(entity, since, limit)})


async def combine_endpoint(sim: RetailCrmSimulator, request: Request) -> Response:
    """`POST customers/combine`: `customers` (JSON list of {id}) into `resultCustomer` ({id})."""
    form = await sim._form(request)
    try:
        merged = [int(c["id"]) for c in json.loads(form["customers"])]
        result = int(json.loads(form["resultCustomer"])["id"])
    except (KeyError, TypeError, ValueError):
        raise Refusal(_failure(400, "customers and resultCustomer are JSON with ids")) from None
    Managers(sim).combine(merged, result, by_api=True)
    return JSONResponse({"success": True}, 200)


def combined_to(sim: RetailCrmSimulator, key: str, by: str | None) -> Response | None:
    """The 404 RetailCRM answers for a customer merged away (by id)."""
    if by in (None, "id") and key.isdigit() and int(key) in sim.history.combined:
        body = {"success": False, "errorMsg": "Not found"}
        return JSONResponse(body | {"combinedTo": {"id": sim.history.combined[int(key)]}}, 404)
    return None


# --- the managers ---------------------------------------------------------------------------


class Managers:
    """What people do in RetailCRM by hand: each change lands in the histories."""

    def __init__(self, sim: RetailCrmSimulator) -> None:
        self.sim = sim

    def set_status(self, external_id: str, code: str) -> Json:
        """A manager moves one of our orders (by its externalId) to status `code`."""
        order = self.sim.state.orders[external_id]
        change = {"field": "status", "oldValue": {"code": order.get("status")}}
        order["status"] = code
        change |= {"newValue": {"code": code}, "order": _brief(order)}
        return self.sim.history.add("orders", change, by_api=False)

    def return_items(
        self, external_id: str, lines: list[tuple[str, int]], code: str = "return"
    ) -> None:
        """A manager marks units of one of our orders as come back, line by line: each
        (variant GUID, units) sets a line's status to `code` (an item status of the account's
        productStatuses); part of a line is split off first (RetailCRM keeps one status per
        line), so the returned units are a line of their own with that status."""
        order = self.sim.state.orders[external_id]
        for variant, units in lines:
            item = next(
                i
                for i in order["items"]
                if (i.get("offer") or {}).get("externalId") == variant and i.get("status") != code
            )
            item.setdefault("id", self.sim._next_id())
            if units < int(item["quantity"]):
                item = self._split(order, item, units)
            change = {"field": "order_product.status", "oldValue": {"code": item.get("status")}}
            item["status"] = code
            change |= {"newValue": {"code": code}, "order": _brief(order), "item": _line(item)}
            self.sim.history.add("orders", change, by_api=False)

    def _split(self, order: Json, item: Json, units: int) -> Json:
        before = int(item["quantity"])
        item["quantity"] = before - units
        change = {"field": "order_product.quantity", "oldValue": before}
        change |= {"newValue": item["quantity"], "order": _brief(order), "item": _line(item)}
        self.sim.history.add("orders", change, by_api=False)
        part = {**item, "id": self.sim._next_id(), "quantity": units}
        order["items"].append(part)
        created = {"field": "order_product", "oldValue": None, "newValue": {"id": part["id"]}}
        self.sim.history.add(
            "orders", created | {"order": _brief(order), "item": _line(part)}, by_api=False
        )
        return part

    def add_customer(self, first_name: str, **fields: Any) -> Json:
        """A customer typed in by a manager (no externalId of ours)."""
        customer = {"id": self.sim._next_id(), "firstName": first_name, **fields}
        self.sim.state.customers[f"crm:{customer['id']}"] = customer
        self.sim.history.add(
            "customers", {"created": True, "customer": dict(customer)}, by_api=False
        )
        return customer

    def edit_customer(self, customer_id: int, field: str, value: Any) -> None:
        """One field changed by hand (`field` as the history names it, e.g. `email`)."""
        customer = self._customer(customer_id)
        entry = {"field": field, "oldValue": None, "newValue": value, "customer": _brief(customer)}
        self.sim.history.add("customers", entry, by_api=False)

    def take_order(
        self,
        customer: Json,
        items: list[tuple[str | None, int, float]],
        *,
        method: str,
        source: str | None = None,
    ) -> Json:
        """An order taken down from a call (`method` phone) or a message (`messenger`, source
        e.g. instagram): items are (our variant GUID as the offer's externalId, units, price)."""
        order_id = self.sim._next_id()
        order: Json = {
            "id": order_id,
            "number": f"{order_id}C",
            "site": self.sim.site,
            "status": "new",
            "orderMethod": method,
            "createdAt": _crm_now(),
            "customer": dict(customer),
            "items": [
                {"offer": {"externalId": g} if g else {}, "quantity": n, "initialPrice": price}
                for g, n, price in items
            ],
        }
        if source:
            order["source"] = {"source": source}
        self.sim.state.orders[f"crm:{order_id}"] = order
        self.sim.history.add("orders", {"created": True, "order": dict(order)}, by_api=False)
        return order

    def combine(self, merged: list[int], into: int, *, by_api: bool = False) -> None:
        """`customers/combine`: the merged customers go; each leaves a `combinedTo` entry."""
        result = self._customer(into)
        for customer_id in merged:
            if customer_id == into:
                continue
            gone = self._customer(customer_id)
            key = next(k for k, v in self.sim.state.customers.items() if v is gone)
            del self.sim.state.customers[key]
            self.sim.history.combined[customer_id] = into
            entry = {"deleted": True, "customer": _brief(gone), "combinedTo": _brief(result)}
            self.sim.history.add("customers", entry, by_api=by_api)

    def _customer(self, customer_id: int) -> Json:
        for customer in self.sim.state.customers.values():
            if customer["id"] == customer_id:
                return customer
        raise KeyError(f"no customer {customer_id}")


def _failure(status: int, message: str) -> Response:
    return JSONResponse({"success": False, "errorMsg": message}, status)
