"""How fast shop till receipts land: lines/s for a 5,000-line `recordShopSales` call.

Runs the real ASGI app in-process (httpx, no network) against a fresh SQLite file and a fresh
PostgreSQL database. Each receipt goes through the identity graph's entry points
(`observe_customer` + `record_purchase`, D2's) in the batch's one transaction. Prints lines/s
and receipts/s for three calls: new receipts (`--customers` distinct loyalty cards, so most
customers come back several times), the same call again (all duplicates), and new receipts of
customers already known. Usage:

    uv run python bench/shop_receipts.py [--receipts 1000] [--lines 5] [--customers 400]
        [--postgres postgres://postgres@127.0.0.1:5432]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from app.db import close_db, init_db, run_migrations
from app.domain.access import Scope
from app.logging import configure_logging
from app.main import create_app
from app.services.tokens import create_token
from app.settings import Settings
from bench.intake import seed as seed_catalog

RECORD = """mutation R($receipts: [ShopReceiptInput!]!) {
  recordShopSales(receipts: $receipts) { recorded duplicates errors { code path } } }"""
VARIANTS = 200


async def seed() -> tuple[list[str], str]:
    """Variants and a shop written in bulk, as bench/intake.py seeds them (the catalog path is
    not what is measured)."""
    variants, warehouses = await seed_catalog(VARIANTS)
    return variants, warehouses[0]


SOLD = (datetime.now(UTC) - timedelta(hours=1)).isoformat()  # one till clock for every call


def receipts(
    variants: list[str], shop: str, count: int, lines: int, customers: int, first: int
) -> list[dict[str, Any]]:
    return [
        {
            "guid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"bench-receipt/{first + n}")),
            "shopGuid": shop,
            "soldAt": SOLD,
            "lines": [
                {
                    "variantGuid": variants[(n * lines + k) % len(variants)],
                    "quantity": 1 + k % 2,
                    "price": "4990.00",
                    "discount": "500.00" if k == 0 else "0",
                }
                for k in range(lines)
            ],
            "customer": {
                "loyaltyCard": f"7000{(first + n) % customers:06d}",
                "phone": f"+7 916 {(first + n) % customers:07d}",
            },
        }
        for n in range(count)
    ]


async def run(url: str, label: str, count: int, lines: int, customers: int) -> None:
    await run_migrations(url)
    await init_db(url)
    try:
        variants, shop = await seed()
        token = await create_token(name="bench", scopes=[Scope.SALES_WRITE])
        settings = Settings(database_url=url, environment="test")
        app = create_app(settings, redis_url="redis://127.0.0.1:6379/8", manage_db=False)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://bench", timeout=600
        ) as client:
            for name, first in [("new", 0), ("repeat", 0), ("known", count)]:
                batch = receipts(variants, shop, count, lines, customers, first)
                started = time.perf_counter()
                response = await client.post(
                    "/graphql",
                    json={"query": RECORD, "variables": {"receipts": batch}},
                    headers={"Authorization": f"Bearer {token}"},
                )
                elapsed = time.perf_counter() - started
                payload = response.json()["data"]["recordShopSales"]
                print(
                    f"{label:8} {name:6} {count * lines} lines ({count} receipts) in"
                    f" {elapsed:6.2f} s = {count * lines / elapsed:7.0f} lines/s,"
                    f" {count / elapsed:6.0f} receipts/s (recorded {payload['recorded']},"
                    f" duplicates {payload['duplicates']}, errors {len(payload['errors'])})"
                )
    finally:
        await close_db()


async def main() -> None:
    configure_logging(level="WARNING")
    parser = argparse.ArgumentParser()
    parser.add_argument("--receipts", type=int, default=1000)
    parser.add_argument("--lines", type=int, default=5)
    parser.add_argument("--customers", type=int, default=400)
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432")
    args = parser.parse_args()
    shape = (args.receipts, args.lines, args.customers)
    with tempfile.TemporaryDirectory() as tmp:
        await run(f"sqlite://{Path(tmp) / 'bench.sqlite3'}", "sqlite", *shape)
    name = f"vitrina_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(f"{args.postgres}/postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        from tortoise.backends.base.executor import EXECUTOR_CACHE

        EXECUTOR_CACHE.clear()  # same connection name, other dialect
        await run(f"{args.postgres}/{name}", "postgres", *shape)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
