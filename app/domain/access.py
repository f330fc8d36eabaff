"""Who may call what: integration scopes and the principal a request acts as."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Scope(StrEnum):
    CATALOG_WRITE = "catalog:write"
    STOCK_WRITE = "stock:write"
    PAYMENTS_WRITE = "payments:write"  # the finance team: capture, void, refund
    SHOPS_READ = "shops:read"  # shop confirmations: requests and per-shop figures, read only
    # partners (docs/partners.md): the events they may subscribe to, and their subscriptions
    CATALOG_READ = "catalog:read"
    STOCK_READ = "stock:read"
    ORDERS_READ = "orders:read"
    WEBHOOKS_MANAGE = "webhooks:manage"
    SALES_WRITE = "sales:write"  # 1C: shop till receipts (recordShopSales)
    ORDERS_WRITE = "orders:write"  # 1C: order status (updateOrderStatuses)
    CUSTOMERS_READ = "customers:read"  # Customer 360 and segments (every read is logged)
    CUSTOMERS_WRITE = "customers:write"  # identity suggestions, unmerge, segment exports
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class IntegrationPrincipal:
    """A caller authenticated by an integration token (1C, a partner)."""

    token_id: int
    name: str
    scopes: frozenset[Scope]

    def may(self, scope: Scope) -> bool:
        return scope in self.scopes or Scope.ADMIN in self.scopes


def parse_scopes(values: list[str]) -> frozenset[Scope]:
    """Turn scope names into scopes; unknown names are a mistake worth failing on."""
    known = {s.value: s for s in Scope}
    unknown = [v for v in values if v not in known]
    if unknown:
        raise ValueError(f"unknown scopes {unknown}; known: {sorted(known)}")
    return frozenset(known[v] for v in values)
