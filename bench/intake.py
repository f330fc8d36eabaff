"""How fast 1C stock batches land: rows/s for 10,000-row `applyStockSnapshots` calls.

Runs the real ASGI app in-process (httpx, no network) against a fresh SQLite file and a fresh
PostgreSQL database, and prints rows/s for three kinds of batch: first figures (inserts),
newer figures (updates) and the same batch again (duplicates). Usage:

    uv run python bench/intake.py [--rows 10000] [--postgres postgres://postgres@127.0.0.1:5432]
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
from app.models.catalog import Product, Variant, Warehouse, WarehouseKind
from app.services.tokens import create_token
from app.settings import Settings

APPLY = """mutation A($rows: [StockSnapshotInput!]!) {
  applyStockSnapshots(rows: $rows) { applied duplicates staleRows errors { code } } }"""
WAREHOUSES = 4


async def seed(variants: int) -> tuple[list[str], list[str]]:
    """Variants and warehouses written in bulk (the catalog path is not what is measured)."""
    now = datetime.now(UTC)
    warehouses = [
        Warehouse(guid=str(uuid.uuid4()), name=f"W{i}", kind=WarehouseKind.SHOP)
        for i in range(WAREHOUSES)
    ]
    await Warehouse.bulk_create(warehouses)
    products = [
        Product(guid=str(uuid.uuid4()), name=f"P{i}", slug=f"p{i}", sort_date=now, price_from=100)
        for i in range(variants // 5 + 1)
    ]
    await Product.bulk_create(products)
    ids = await Product.all().values_list("id", flat=True)
    rows = [
        Variant(
            guid=str(uuid.uuid4()),
            product_id=ids[i // 5],
            sku=f"S{i}",
            size="M",
            colour="c",
            price=100,
        )
        for i in range(variants)
    ]
    await Variant.bulk_create(rows, batch_size=1000)
    return [v.guid for v in rows], [w.guid for w in warehouses]


def batch(variants: list[str], warehouses: list[str], rows: int, as_of: datetime) -> list[Any]:
    return [
        {
            "variantGuid": variants[i // len(warehouses)],
            "warehouseGuid": warehouses[i % len(warehouses)],
            "quantity": i % 13,
            "asOf": as_of.isoformat(),
        }
        for i in range(rows)
    ]


async def measure(
    client: httpx.AsyncClient, token: str, rows: list[Any]
) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    response = await client.post(
        "/graphql",
        json={"query": APPLY, "variables": {"rows": rows}},
        headers={"Authorization": f"Bearer {token}"},
    )
    elapsed = time.perf_counter() - started
    payload = response.json()["data"]["applyStockSnapshots"]
    return elapsed, payload


async def run(url: str, label: str, rows: int) -> None:
    await run_migrations(url)
    await init_db(url)
    try:
        variants, warehouses = await seed(rows // WAREHOUSES)
        token = await create_token(name="bench", scopes=[Scope.STOCK_WRITE])
        settings = Settings(database_url=url, environment="test")
        app = create_app(settings, redis_url="redis://127.0.0.1:6379/15", manage_db=False)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            t0 = datetime.now(UTC)
            for name, as_of in [
                ("insert", t0),
                ("update", t0 + timedelta(minutes=1)),
                ("duplicate", t0 + timedelta(minutes=1)),
            ]:
                elapsed, payload = await measure(
                    client, token, batch(variants, warehouses, rows, as_of)
                )
                print(
                    f"{label:8} {name:9} {rows} rows in {elapsed:6.2f} s = "
                    f"{rows / elapsed:8.0f} rows/s  (applied {payload['applied']}, "
                    f"duplicates {payload['duplicates']}, errors {len(payload['errors'])})"
                )
    finally:
        await close_db()


async def main() -> None:
    configure_logging(level="WARNING")
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        await run(f"sqlite://{Path(tmp) / 'bench.sqlite3'}", "sqlite", args.rows)
    name = f"vitrina_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(f"{args.postgres}/postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        from tortoise.backends.base.executor import EXECUTOR_CACHE

        EXECUTOR_CACHE.clear()  # same connection name, other dialect
        await run(f"{args.postgres}/{name}", "postgres", args.rows)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
