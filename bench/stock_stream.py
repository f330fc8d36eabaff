"""Live availability at drop scale: websocket subscribers on one API process, stock changes
through the real `applyStockSnapshots` mutation (prints figures; not a timed test).

Creates a throwaway PostgreSQL database (statement logging on, for counting), seeds P products
of V variants (stock in the online warehouse only, so `available` is the figure 1C sent),
starts `python -m app serve` (one uvicorn process, ENVIRONMENT=prod), then:

1. RSS of the server, opens S graphql-transport-ws subscribers (`productAvailability`, spread
   over the products; each gets its product's current figures), waits, RSS again: the growth
   per idle subscribed connection;
2. sends R stock changes a second for T seconds, each a new, unique quantity for one variant
   (1C's mutation, over HTTP, with an integration token); every subscriber of its product must
   receive it: change (mutation answered, i.e. committed) → delivered, p50/p99, and missing;
3. a StockFeed in this process (a second "process" on the same stream) times commit → visible
   in `StockFeed.latest` (the publish lag);
4. statements the database ran while changes flowed (PostgreSQL's log): the publisher's figure
   reads per change, and everything else per change (the mutation's own work);
5. redis `CLIENT LIST` omem (output buffer) of every client, sampled each 0.5 s: it stays flat.

Figures taken on a shared, loaded 2-core machine are rough. Usage:

    uv run python bench/stock_stream.py [--subscribers 2000] [--rate 50] [--seconds 20]
        [--products 50] [--variants 4] [--postgres postgres://postgres@127.0.0.1:5432]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
from redis.asyncio import Redis
from websockets.asyncio.client import ClientConnection, connect

from app.db import close_db, init_db, run_migrations
from app.domain.access import Scope
from app.logging import configure_logging
from app.models.catalog import Variant
from app.redis_setup import free_port
from app.services.catalog import intake
from app.services.catalog.products import ProductData, VariantData
from app.services.inventory.stock_snapshots import RawStockSnapshot, apply_stock_snapshots
from app.services.stock_stream import StockFeed, VariantStock
from app.services.tokens import create_token
from app.settings import Settings
from bench.body_limits import rss_kib
from bench.checkout_storm import _stop, _wait_ready, cpu_seconds, pg_log_offsets, pg_log_since

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/3")
ONLINE = str(uuid.uuid5(uuid.NAMESPACE_URL, "vitrina-bench/warehouse/online"))
SHOPS = [str(uuid.uuid5(uuid.NAMESPACE_URL, f"vitrina-bench/warehouse/shop-{n}")) for n in "ab"]
T0 = datetime.now(UTC) - timedelta(hours=1)
SUBSCRIPTION = """subscription ProductAvailability($id: ID!) {
  productAvailability(productId: $id) { variantId available availability { warehouseId quantity } }
}"""
APPLY = """mutation Apply($rows: [StockSnapshotInput!]!) {
  applyStockSnapshots(rows: $rows) { applied duplicates staleRows errors { code } } }"""
FIGURE_READ = "FROM variant v CROSS JOIN warehouse w"


def guid(kind: str, n: int | str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"vitrina-bench/{kind}/{n}"))


@dataclass
class Catalog:
    products: list[str]  # product GUIDs
    variants: dict[str, list[str]]  # product GUID -> its variant GUIDs
    pk: dict[str, int]  # variant GUID -> pk
    token: str


async def seed(dsn: str, products: int, variants: int) -> Catalog:
    await run_migrations(dsn)
    await init_db(dsn)
    try:
        report = await intake.upsert_warehouses(
            items=[
                intake.WarehouseData(ONLINE, "Online", "online", priority=10),
                *(
                    intake.WarehouseData(g, f"Shop {n}", "shop", "Street 1", priority=20 + n)
                    for n, g in enumerate(SHOPS)
                ),
            ]
        )
        assert not report.problems, report.problems
        items = [
            ProductData(
                guid("product", p),
                f"Bench dress {p}",
                [
                    VariantData(
                        guid("variant", f"{p}/{v}"), f"B-{p}-{v}", f"S{v}", "black", "4990.00"
                    )
                    for v in range(variants)
                ],
            )
            for p in range(products)
        ]
        for start in range(0, len(items), 50):
            report = await intake.upsert_products(items=items[start : start + 50])
            assert not report.problems, report.problems
        rows = [
            RawStockSnapshot(v.guid, ONLINE, 10, T0.isoformat()) for i in items for v in i.variants
        ]
        stock = await apply_stock_snapshots(rows=rows, max_rows=len(rows))
        assert not stock.problems, stock.problems
        pk = dict(await Variant.all().values_list("guid", "id"))
        token = await create_token(name="bench", scopes=[Scope.STOCK_WRITE])
    finally:
        await close_db()
    return Catalog(
        products=[i.guid for i in items],
        variants={i.guid: [v.guid for v in i.variants] for i in items},
        pk=pk,
        token=token,
    )


@asynccontextmanager
async def serving(dsn: str, stream_key: str, log: Path) -> AsyncIterator[tuple[str, int]]:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": dsn,
        "REDIS_URL": REDIS_URL,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "LOG_LEVEL": "WARNING",
        "ENVIRONMENT": "prod",
        "TRUSTED_DOCUMENTS": "permissive",  # the bench sends its own documents
        "QUERY_BUDGET_PER_SECOND": "0",
        "STOCK_STREAM_KEY": stream_key,
        "MAX_SUBSCRIPTIONS_PER_PROCESS": "100000",
    }
    with log.open("wb") as sink:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "app", "serve", cwd=ROOT, env=env, stdout=sink, stderr=sink
        )
    base = f"127.0.0.1:{port}"
    try:
        await _wait_ready(process, f"http://{base}", log)
        yield base, process.pid
    finally:
        await _stop(process)


@dataclass
class Deliveries:
    """What every subscriber received: (variant GUID, available) -> receive instants."""

    got: dict[tuple[str, int], list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: list[str] = field(default_factory=list)


class Subscriber:
    def __init__(self, ws: ClientConnection, product: str) -> None:
        self.ws, self.product = ws, product
        self.task: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, url: str, product: str, variants: int, deflate: bool) -> Subscriber:
        ws = await connect(
            url,
            subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
            compression="deflate" if deflate else None,
            max_queue=64,
        )
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        payload = {"query": SUBSCRIPTION, "variables": {"id": product}}
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        figures = 0
        while figures < variants:  # the current figures (and any keep-alive ping)
            message = json.loads(await ws.recv())
            if message["type"] == "ping":
                await ws.send('{"type":"pong"}')
                continue
            assert message["type"] == "next", message
            figures += 1
        return cls(ws, product)

    def listen(self, into: Deliveries) -> None:
        self.task = asyncio.create_task(self._listen(into))

    async def _listen(self, into: Deliveries) -> None:
        with suppress(Exception):
            async for raw in self.ws:
                message = json.loads(raw)
                if message["type"] == "ping":
                    await self.ws.send('{"type":"pong"}')
                elif message["type"] == "next" and "data" in message["payload"]:
                    data = message["payload"]["data"]["productAvailability"]
                    into.got[(data["variantId"], data["available"])].append(time.perf_counter())
                else:
                    into.errors.append(str(message)[:200])

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
        with suppress(Exception):
            await self.ws.close()


async def open_subscribers(
    url: str, catalog: Catalog, count: int, deflate: bool
) -> list[Subscriber]:
    gate = asyncio.Semaphore(50)
    variants = len(next(iter(catalog.variants.values())))

    async def one(n: int) -> Subscriber:
        async with gate:
            product = catalog.products[n % len(catalog.products)]
            return await Subscriber.open(url, product, variants, deflate)

    return list(await asyncio.gather(*(one(n) for n in range(count))))


@dataclass
class Change:
    variant: str
    quantity: int
    sent: float
    done: float = 0.0
    applied: bool = False  # False: a later change of the variant was applied first (stale)


async def send_changes(
    http: httpx.AsyncClient, catalog: Catalog, rate: float, seconds: float
) -> list[Change]:
    """`rate` changes a second, each a unique quantity for the next variant (round robin)."""
    order = [v for p in catalog.products for v in catalog.variants[p]]
    changes: list[Change] = []
    tasks: list[asyncio.Task[None]] = []
    start = time.perf_counter()
    total = int(rate * seconds)

    async def one(change: Change, as_of: datetime) -> None:
        row = {"variantGuid": change.variant, "warehouseGuid": ONLINE, "quantity": change.quantity}
        body = {"query": APPLY, "variables": {"rows": [{**row, "asOf": as_of.isoformat()}]}}
        response = await http.post("/graphql", json=body)
        change.done = time.perf_counter()
        result = response.json()["data"]["applyStockSnapshots"]
        assert not result["errors"], (change, result)
        change.applied = result["applied"] == 1

    for k in range(total):
        await asyncio.sleep(max(0.0, start + k / rate - time.perf_counter()))
        change = Change(order[k % len(order)], 1000 + k, time.perf_counter())
        changes.append(change)
        tasks.append(asyncio.create_task(one(change, datetime.now(UTC))))
    await asyncio.gather(*tasks)
    return changes


async def sample_omem(redis: Redis, stop: asyncio.Event, into: list[tuple[int, int]]) -> None:
    """(largest, total) output-buffer bytes over redis' clients, every 0.5 s."""
    while not stop.is_set():
        clients = await redis.client_list()
        omem = [int(c.get("omem", 0)) for c in clients]
        into.append((max(omem, default=0), sum(omem)))
        with suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(args: argparse.Namespace) -> None:
    database = f"vitrina_stream_{uuid.uuid4().hex[:8]}"
    dsn = f"{args.postgres}/{database}"
    stream_key = f"bench:stock:{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(f"{args.postgres}/postgres")
    await admin.execute(f'CREATE DATABASE "{database}"')
    redis = Redis.from_url(REDIS_URL)
    try:
        catalog = await seed(dsn, args.products, args.variants)
        await admin.execute(f"ALTER DATABASE \"{database}\" SET log_statement = 'all'")
        log = Path(f"/tmp/{database}.log")
        async with serving(dsn, stream_key, log) as (base, pid):
            await measure(args, catalog, base, pid, database, stream_key, redis)
    finally:
        await redis.delete(stream_key)
        await redis.aclose()
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()


async def measure(
    args: argparse.Namespace,
    catalog: Catalog,
    base: str,
    pid: int,
    database: str,
    stream_key: str,
    redis: Redis,
) -> None:
    url = f"ws://{base}/graphql"
    warm = await open_subscribers(url, catalog, 5, args.deflate)  # code paths loaded
    for subscriber in warm:
        await subscriber.close()
    await asyncio.sleep(1)
    rss_before = rss_kib(pid)
    opened = time.perf_counter()
    subscribers = await open_subscribers(url, catalog, args.subscribers, args.deflate)
    open_seconds = time.perf_counter() - opened
    deliveries = Deliveries()
    for subscriber in subscribers:
        subscriber.listen(deliveries)
    await asyncio.sleep(3)
    rss_after = rss_kib(pid)
    per_connection = (rss_after - rss_before) / args.subscribers

    # the bench's own feed only times the stream: no database here, so no catch-up rounds
    settings = Settings(environment="prod", stock_stream_key=stream_key, stock_feed_catch_up_ms=0)
    feed = StockFeed(redis, settings)
    visible: dict[tuple[int, int], float] = {}

    def seen(figure: VariantStock) -> None:
        visible.setdefault((figure.variant_id, figure.available), time.perf_counter())

    feed.on_change(seen)
    await feed.start()
    while not feed.healthy:
        await asyncio.sleep(0.01)

    stop = asyncio.Event()
    omem: list[tuple[int, int]] = []
    sampler = asyncio.create_task(sample_omem(redis, stop, omem))
    offsets = pg_log_offsets()
    cpu_before = cpu_seconds(pid)
    headers = {"Authorization": f"Bearer {catalog.token}"}
    limits = httpx.Limits(max_connections=20, max_keepalive_connections=20, keepalive_expiry=2)
    async with httpx.AsyncClient(
        base_url=f"http://{base}", headers=headers, limits=limits, timeout=30
    ) as http:
        changes = await send_changes(http, catalog, args.rate, args.seconds)
    await asyncio.sleep(2)  # the last deliveries
    server_cpu = cpu_seconds(pid) - cpu_before
    rss_flowed = rss_kib(pid)  # a socket must not keep anything per event it delivered
    statements = [line for line in pg_log_since(offsets) if f"@{database} " in line]
    stop.set()
    await sampler
    await feed.close()
    for subscriber in subscribers:
        await subscriber.close()
    report(args, catalog, changes, deliveries, visible, statements, omem)
    delivered = sum(len(t) for t in deliveries.got.values())
    print(
        f"server CPU while changes flowed: {server_cpu:.1f} s for {len(changes)} changes and "
        f"{delivered} deliveries = {server_cpu / max(1, delivered) * 1e6:.0f} µs per delivery "
        f"(mutations included)"
    )
    print(
        f"memory: RSS {rss_before} KiB → {rss_after} KiB with {args.subscribers} idle "
        f"subscribed connections (opened in {open_seconds:.1f} s): "
        f"{per_connection:.1f} KiB per connection (target ≤ 20)"
    )
    print(
        f"memory after {delivered} deliveries: RSS {rss_flowed} KiB, "
        f"{(rss_flowed - rss_after) * 1024 / max(1, delivered):.0f} bytes per delivery kept"
    )


def report(
    args: argparse.Namespace,
    catalog: Catalog,
    changes: list[Change],
    deliveries: Deliveries,
    visible: dict[tuple[int, int], float],
    statements: list[str],
    omem: list[tuple[int, int]],
) -> None:
    per_product: dict[str, int] = defaultdict(int)
    for n in range(args.subscribers):
        per_product[catalog.products[n % len(catalog.products)]] += 1
    product_of = {v: p for p, vs in catalog.variants.items() for v in vs}
    after_commit: list[float] = []
    after_send: list[float] = []
    missing = 0
    lag: list[float] = []
    stale = sum(not c.applied for c in changes)
    for change in (c for c in changes if c.applied):
        got = deliveries.got.get((change.variant, change.quantity), [])
        expected = per_product[product_of[change.variant]]
        missing += max(0, expected - len(got))
        after_commit += [t - change.done for t in got]
        after_send += [t - change.sent for t in got]
        at = visible.get((catalog.pk[change.variant], change.quantity))
        if at is not None:
            lag.append(at - change.done)
    mutation = [c.done - c.sent for c in changes]
    reads = sum(FIGURE_READ in line for line in statements)
    ran = sum("statement:" in line for line in statements)
    print(
        f"{args.subscribers} subscribers on {args.products} products × {args.variants} "
        f"variants; {len(changes)} changes at {args.rate}/s for {args.seconds} s "
        f"(client deflate {'on' if args.deflate else 'off'})"
    )
    print(
        f"deliveries: {len(after_commit)} received, {missing} missing, "
        f"{len(deliveries.errors)} error messages ({stale} changes overtaken by a later one "
        "of their variant: stale in 1C's order, so never shown)"
    )
    print(
        f"change committed → delivered: p50 {pct(after_commit, 0.5) * 1000:.0f} ms, "
        f"p99 {pct(after_commit, 0.99) * 1000:.0f} ms, "
        f"max {max(after_commit, default=0) * 1000:.0f} ms (target p99 ≤ 1000); "
        f"mutation sent → delivered p99 "
        f"{pct(after_send, 0.99) * 1000:.0f} ms; the mutation itself p50 "
        f"{statistics.median(mutation) * 1000:.0f} ms"
    )
    print(
        f"publish lag, commit → visible in StockFeed.latest (another process): p50 "
        f"{pct(lag, 0.5) * 1000:.0f} ms, p99 {pct(lag, 0.99) * 1000:.0f} ms "
        f"({len(lag)} of {len(changes)} seen)"
    )
    print(
        f"database: {reads} figure reads for {len(changes)} changes = "
        f"{reads / max(1, len(changes)):.2f} per change (target 1; several changes can share "
        f"one read); {ran} statements in all = {ran / max(1, len(changes)):.1f} per change"
    )
    if omem:
        largest = [m for m, _ in omem]
        print(
            f"redis output buffers (CLIENT LIST omem, {len(omem)} samples): largest "
            f"{min(largest)}..{max(largest)} bytes, all clients {min(t for _, t in omem)}.."
            f"{max(t for _, t in omem)} bytes"
        )


def main() -> None:
    configure_logging(level="WARNING")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=50, help="stock changes a second")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--products", type=int, default=50)
    parser.add_argument("--variants", type=int, default=4, help="per product")
    parser.add_argument(
        "--deflate",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="the client offers permessage-deflate, as browsers do",
    )
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
