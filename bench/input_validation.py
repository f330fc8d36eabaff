"""What checking every string argument (`ValidateInput`, app/schema/validation.py) costs.

Runs the real ASGI app in-process against a fresh SQLite file, with the check on and off
(off: no per-field hook for the page, no walk for the stock call), and prints the median
latency of a storefront catalog page (24 cards with 4 variants each: every field goes
through the hook) and of a 10,000-row `applyStockSnapshots` call (every string of every row
is walked). Usage:

    uv run python bench/input_validation.py [--pages 200] [--rows 10000] [--redis URL]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from app.db import close_db, init_db, run_migrations
from app.domain.access import Scope
from app.logging import configure_logging
from app.main import create_app
from app.schema import validation
from app.schema.validation import ValidateInput
from app.services.catalog import intake as catalog
from app.services.catalog.products import ImageData, ProductData, VariantData
from app.services.tokens import create_token
from app.settings import Settings
from tests.factories import guid

PAGE = (
    Path(__file__).parents[1] / "frontend-contract/operations/CatalogProducts.graphql"
).read_text()
APPLY = """mutation A($rows: [StockSnapshotInput!]!) {
  applyStockSnapshots(rows: $rows) { applied duplicates errors { code } } }"""


async def seed(products: int) -> list[str]:
    """Products through the 1C services; returns the variant GUIDs."""
    items = [
        ProductData(
            guid(f"bench/{n}"),
            f"Платье миди {n}",
            [
                VariantData(guid(f"bench/{n}/{s}"), f"B-{n}-{s}", s, "чёрный", "12990.00")
                for s in ("XS", "S", "M", "L")
            ],
            description="Шерсть 100%.",
            images=[ImageData(f"https://cdn.example.ru/{n}/{i}.jpg", "спереди") for i in (1, 2)],
        )
        for n in range(products)
    ]
    report = await catalog.upsert_products(items=items)
    assert not report.problems, report.problems
    online = catalog.WarehouseData(guid("bench/online"), "Online", "online")
    assert not (await catalog.upsert_warehouses(items=[online])).problems
    return [v.guid for p in items for v in p.variants]


@contextmanager
def without_hook() -> Iterator[None]:
    """No per-field hook: strawberry leaves the extension out of the resolver chain."""
    ValidateInput._implements_resolve = classmethod(lambda cls: False)  # type: ignore[assignment,method-assign]
    try:
        yield
    finally:
        del ValidateInput._implements_resolve


@contextmanager
def without_walk() -> Iterator[None]:
    """The hook runs, but finds nothing without looking (the 1C resolvers need the hook)."""
    walk = validation.argument_problems
    validation.argument_problems = lambda *_: []
    try:
        yield
    finally:
        validation.argument_problems = walk


async def median_ms(times: int, call: Callable[[], Awaitable[None]]) -> float:
    samples = []
    for _ in range(times):
        started = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


async def run(url: str, pages: int, rows: int, redis_url: str) -> None:
    await run_migrations(url)
    await init_db(url)
    try:
        variants = await seed(24)
        token = await create_token(name="bench", scopes=[Scope.STOCK_WRITE])
        app = create_app(
            Settings(database_url=url, environment="test"), redis_url=redis_url, manage_db=False
        )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:

            async def page() -> None:
                response = await client.post("/graphql", json={"query": PAGE})
                assert len(response.json()["data"]["products"]["edges"]) == 24

            t0 = datetime.now(UTC) - timedelta(days=1)
            calls = iter(range(10**6))

            async def stock() -> None:
                as_of = (t0 + timedelta(seconds=next(calls))).isoformat()
                batch = [
                    {
                        "variantGuid": variants[i % len(variants)],
                        "warehouseGuid": guid("bench/online"),
                        "quantity": i % 7,
                        "asOf": as_of,
                    }
                    for i in range(rows)
                ]
                response = await client.post(
                    "/graphql",
                    json={"query": APPLY, "variables": {"rows": batch}},
                    headers={"Authorization": f"Bearer {token}"},
                )
                assert response.json()["data"]["applyStockSnapshots"]["errors"] == []

            for off in (True, False, True, False):  # alternate: the machine's load drifts
                with without_hook() if off else nullcontext():
                    page_ms = await median_ms(pages, page)
                with without_walk() if off else nullcontext():
                    stock_ms = await median_ms(5, stock)
                label = "off" if off else "on "
                print(
                    f"check {label}: catalog page {page_ms:6.2f} ms (median of {pages}), "
                    f"{rows}-row stock call {stock_ms:7.1f} ms (median of 5)"
                )
    finally:
        await close_db()


async def main() -> None:
    configure_logging(level="WARNING")
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/15")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        await run(f"sqlite://{Path(tmp) / 'bench.sqlite3'}", args.pages, args.rows, args.redis)


if __name__ == "__main__":
    asyncio.run(main())
