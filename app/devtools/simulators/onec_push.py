"""1C's side of the exchange that calls us: till receipts and order statuses sent to our
GraphQL API with an integration token, as the brand's 1C programmers will send them
(docs/1c-protocol.md §12–§13; the operation texts are `frontend-contract/operations/OneC*`).

`OneCPusher(api, token)` posts to `/graphql` of `api` (an httpx client of the Vitrina app, or
of a real deployment) and answers the mutation's payload; a refusal of the whole call (auth,
a malformed request) raises `PushRefused` with the GraphQL errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

Json = dict[str, Any]
OPERATIONS = Path(__file__).resolve().parents[3] / "frontend-contract" / "operations"


def _operation(name: str) -> str:
    return (OPERATIONS / f"{name}.graphql").read_text(encoding="utf-8")


def moment(value: datetime | None = None) -> str:
    """1C's clock as it sends it: UTC with milliseconds and Z (docs/1c-protocol.md §2.1)."""
    instant = (value or datetime.now(UTC)).astimezone(UTC)
    return instant.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class PushRefused(Exception):
    def __init__(self, errors: list[Json]) -> None:
        super().__init__("; ".join(str(e.get("message")) for e in errors))
        self.errors = errors


@dataclass
class Till:
    """One shop's till: the receipts it prints, as ЧекККМ / ЧекККМВозврат."""

    shop_guid: str
    printed: list[Json] = field(default_factory=list)

    def sale(
        self,
        guid: str,
        lines: Sequence[tuple[str, int, str, str]],
        *,
        sold_at: datetime | None = None,
        phone: str | None = None,
        card: str | None = None,
        email: str | None = None,
    ) -> Json:
        """A sale: lines are (variant GUID, units, price, discount) in roubles."""
        return self._print(guid, "SALE", lines, sold_at, phone, card, email, None)

    def refund(
        self,
        guid: str,
        sale_guid: str,
        lines: Sequence[tuple[str, int, str, str]],
        *,
        sold_at: datetime | None = None,
    ) -> Json:
        """A return receipt undoing (part of) an earlier sale."""
        return self._print(guid, "RETURN", lines, sold_at, None, None, None, sale_guid)

    def _print(
        self,
        guid: str,
        kind: str,
        lines: Sequence[tuple[str, int, str, str]],
        sold_at: datetime | None,
        phone: str | None,
        card: str | None,
        email: str | None,
        sale_guid: str | None,
    ) -> Json:
        receipt: Json = {
            "guid": guid,
            "kind": kind,
            "shopGuid": self.shop_guid,
            "soldAt": moment(sold_at),
            "lines": [
                {"variantGuid": v, "quantity": n, "price": price, "discount": discount}
                for v, n, price, discount in lines
            ],
        }
        if sale_guid:
            receipt["saleGuid"] = sale_guid
        customer = {"phone": phone, "loyaltyCard": card, "email": email}
        if any(customer.values()):
            receipt["customer"] = {k: v for k, v in customer.items() if v}
        self.printed.append(receipt)
        return receipt


class OneCPusher:
    """Send what 1C has to our API: a batch of receipts, a batch of order statuses."""

    def __init__(self, api: httpx.AsyncClient, token: str) -> None:
        self._api = api
        self._token = token

    async def record_shop_sales(self, receipts: Sequence[Json]) -> Json:
        return await self._call(
            "OneCRecordShopSales", {"receipts": list(receipts)}, "recordShopSales"
        )

    async def update_order_statuses(self, updates: Sequence[Json]) -> Json:
        return await self._call(
            "OneCUpdateOrderStatuses", {"updates": list(updates)}, "updateOrderStatuses"
        )

    async def _call(self, operation: str, variables: Json, field_name: str) -> Json:
        response = await self._api.post(
            "/graphql",
            json={"query": _operation(operation), "variables": variables},
            headers={"Authorization": f"Bearer {self._token}"},
        )
        body: Json = response.json()
        if body.get("errors"):
            raise PushRefused(body["errors"])
        payload: Json = body["data"][field_name]
        return payload


def shipped(
    order_guid: str,
    carrier: str,
    tracking: str = "",
    codes: Sequence[tuple[str, str]] = (),
    at: datetime | None = None,
) -> Json:
    """An order handed to the carrier; `codes` are (variant GUID, the unit's marking code)."""
    return {
        "orderGuid": order_guid,
        "status": "SHIPPED",
        "changedAt": moment(at),
        "carrier": carrier,
        "trackingNumber": tracking,
        "markingCodes": [{"variantGuid": v, "code": c} for v, c in codes],
    }


def delivered(order_guid: str, at: datetime | None = None) -> Json:
    return {"orderGuid": order_guid, "status": "DELIVERED", "changedAt": moment(at)}


def returned(
    order_guid: str,
    return_guid: str,
    lines: Sequence[tuple[str, int]] | None = None,
    at: datetime | None = None,
) -> Json:
    """Units back (a ВозвратТоваровОтКлиента); no lines: everything still out."""
    update: Json = {
        "orderGuid": order_guid,
        "status": "RETURNED",
        "changedAt": moment(at),
        "returnGuid": return_guid,
    }
    if lines is not None:
        update["returnLines"] = [{"variantGuid": v, "quantity": n} for v, n in lines]
    return update


def cancelled(order_guid: str, reason: str, at: datetime | None = None) -> Json:
    return {
        "orderGuid": order_guid,
        "status": "CANCELLED",
        "changedAt": moment(at),
        "reason": reason,
    }
