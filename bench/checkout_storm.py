"""Drop-day checkout through real HTTP: placeOrder/s, latency and oversells on PostgreSQL.

Creates a throwaway PostgreSQL database, seeds a catalog (1 online warehouse + 2 shops, hot
variants with K units online, M spread variants with plenty of stock), starts the API as a
subprocess (`python -m app serve --workers W`, for each W given; the CPU figures cover the
supervisor and its worker processes) and sends N buyers through createCart → addToCart →
setCartContact → setCartDelivery → placeOrder with one aiohttp client, at most C buyers in
flight:

    hot        each buyer runs its whole flow; K units of one variant, N buyers
    hot-storm  (opt-in) all N carts are filled first, then every placeOrder goes out at once,
               so the placeOrder phase holds nothing else; it adds about a minute
    spread     each buyer buys 1-3 of the M spread variants (nobody should be refused)
    bots       (opt-in) what one client address takes off sale (bench/checkout_bots.py)

Each buyer comes from an address and a device id of their own (X-Forwarded-For, X-Device-Id), as
real shoppers do, so the per-address and per-device throttles meet only the bots.

After each scenario the database is checked: orders and buffer equal what the client saw,
no position has buffer > on_hand, every buffer equals its held + active reservations.
Then pgbench runs one conditional UPDATE on one hot row, which is the floor every hot
placeOrder pays, and the ratio placeOrder/s ÷ pgbench tps is printed (-c 16 for 10 s, then
-c 100, or as many as max_connections leaves, for 5 s). Usage:

    uv run python bench/checkout_storm.py [--buyers 1000] [--units 100] [--variants 200]
        [--concurrency 100] [--scenarios hot hot-storm spread bots] [--server-pool N]
        [--server-workers 1 2]
        [--hold-mode at_cart] [--postgres postgres://postgres@127.0.0.1:5432]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import SplitResult, urlsplit

import aiohttp
import asyncpg
import httpx
from redis.asyncio import Redis

from app.db import close_db, init_db, run_migrations
from app.logging import configure_logging
from app.models.catalog import Collection, HoldMode, Product, Variant, Warehouse, WarehouseKind
from app.redis_setup import free_port
from app.services.inventory.stock_snapshots import RawStockSnapshot, apply_stock_snapshots
from bench.checkout_bots import run_bots, seed_bots

ROOT = Path(__file__).resolve().parent.parent
PGBENCH = "/usr/bin/pgbench"
REDIS_URL = "redis://127.0.0.1:6379/14"
RUN_ID = uuid.uuid4().hex  # this bench run (device ids)
PG_LOG_DIR = Path("/var/log/postgresql")
INSUFFICIENT = "INSUFFICIENT_STOCK"
PLENTY = 1_000_000

CREATE_CART = "mutation { createCart { cart { token } errors { code } } }"
ADD = """mutation A($c: String!, $v: ID!) {
  addToCart(cartToken: $c, variantId: $v, quantity: 1) { cart { token } errors { code } } }"""
CONTACT = """mutation C($c: String!, $e: String!) {
  setCartContact(cartToken: $c, contact: {email: $e, firstName: "Bench"}) {
    cart { token } errors { code } } }"""
DELIVERY = """mutation D($c: String!) {
  setCartDelivery(cartToken: $c, delivery: {method: COURIER, address: "1 Bench Street"}) {
    cart { token } errors { code } } }"""
PLACE = """mutation P($c: String!, $k: String!) {
  placeOrder(cartToken: $c, idempotencyKey: $k) { order { number } errors { code } } }"""
T = TypeVar("T")
HOT_UPDATE = "UPDATE hot SET buffer = buffer + 1 WHERE id = 1 AND on_hand - buffer >= 1;\n"


# --- seeding ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Catalog:
    hot: list[tuple[int, str]]  # (id, guid) of each hot variant: one per hot scenario
    spread: list[tuple[int, str]]


async def seed(*, units: int, variants: int, hot_count: int, hold_mode: HoldMode) -> Catalog:
    """Catalog rows in bulk; stock through the 1C intake service so `as_of` is set as in prod."""
    now = datetime.now(UTC)
    online = Warehouse(
        guid=str(uuid.uuid4()), name="Online", kind=WarehouseKind.ONLINE, priority=10
    )
    shops = [
        Warehouse(
            guid=str(uuid.uuid4()), name=f"Shop {i}", kind=WarehouseKind.SHOP, priority=100 + i
        )
        for i in range(2)
    ]
    await Warehouse.bulk_create([online, *shops])
    drop = await Collection.create(
        guid=str(uuid.uuid4()),
        name="Drop",
        slug="drop",
        release_at=now - timedelta(hours=1),
        hold_mode=hold_mode,
    )
    count = hot_count + variants
    products = [
        Product(
            guid=str(uuid.uuid4()),
            name=f"P{i}",
            slug=f"p{i}",
            collection_id=drop.id,
            sort_date=drop.release_at,
            price_from=499_000,
        )
        for i in range(hot_count + variants // 5 + 1)
    ]
    await Product.bulk_create(products)
    product_ids = await Product.all().order_by("id").values_list("id", flat=True)
    rows = [
        Variant(
            guid=str(uuid.uuid4()),
            # each hot variant has its own product; spread variants come five to a product
            product_id=product_ids[i if i < hot_count else hot_count + (i - hot_count) // 5],
            sku=f"S{i}",
            size="M",
            colour="black",
            price=499_000,
        )
        for i in range(count)
    ]
    await Variant.bulk_create(rows, batch_size=1000)
    by_guid = dict(await Variant.all().values_list("guid", "id"))
    made = [(by_guid[v.guid], v.guid) for v in rows]
    as_of = (now - timedelta(minutes=1)).isoformat()
    snapshots = []
    for index, (_, guid) in enumerate(made):
        hot = index < hot_count
        for warehouse in (online, *shops):
            if hot:
                quantity = units if warehouse is online else 0
            else:
                quantity = PLENTY if warehouse is online else 1000
            snapshots.append(RawStockSnapshot(guid, warehouse.guid, quantity, as_of))
    intake = await apply_stock_snapshots(rows=snapshots, max_rows=len(snapshots))
    if intake.applied != len(snapshots) or intake.problems:
        raise RuntimeError(f"stock seeding failed: {intake}")
    return Catalog(hot=made[:hot_count], spread=made[hot_count:])


# --- the API server --------------------------------------------------------------------------


@asynccontextmanager
async def serving(
    database_url: str, port: int, log: Path, workers: int = 1
) -> AsyncIterator[tuple[str, int]]:
    """`python -m app serve` on 127.0.0.1:port until the block ends (SIGINT, then wait).

    Yields the base URL and the server's pid."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": REDIS_URL,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "LOG_LEVEL": "WARNING",
        "ENVIRONMENT": "prod",
        "TRUSTED_DOCUMENTS": "permissive",  # the bench sends its own documents
        # every simulated buyer comes from 127.0.0.1: the per-address query budget would
        # throttle the storm itself, not a bot
        "QUERY_BUDGET_PER_SECOND": "0",
    }
    with log.open("wb") as sink:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "app",
            "serve",
            "--workers",
            str(workers),
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=sink,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        await _wait_ready(process, base, log)
        yield base, process.pid
    finally:
        await _stop(process)


async def _wait_ready(process: asyncio.subprocess.Process, base: str, log: Path) -> None:
    deadline = time.monotonic() + 30
    async with httpx.AsyncClient(base_url=base, timeout=2) as client:
        while time.monotonic() < deadline:
            if process.returncode is not None:
                raise RuntimeError(f"the server exited ({process.returncode}):\n{_tail(log)}")
            with suppress(httpx.HTTPError):
                if (await client.get("/health/ready")).status_code == 200:
                    return
            await asyncio.sleep(0.2)
    raise RuntimeError(f"the server was not ready within 30 s:\n{_tail(log)}")


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        await asyncio.wait_for(process.wait(), 15)
    except TimeoutError:
        process.kill()
        await process.wait()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process and its live descendants have used so far (Linux
    /proc): with `--workers N` the API processes are the supervisor's children."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return own + sum(cpu_seconds(child) for child in _children(pid))


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with suppress(OSError):
            found += [int(c) for c in (task / "children").read_text().split()]
    return found


def _tail(log: Path, lines: int = 20) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


# --- buyers ----------------------------------------------------------------------------------


@dataclass
class Run:
    """What the client saw in one scenario."""

    label: str
    buyers: int
    workers: int = 1  # API processes serving it
    outcomes: Counter[str] = field(default_factory=Counter)  # "mutation outcome" -> calls
    latencies: list[float] = field(default_factory=list)  # placeOrder, seconds
    place_from: float = float("inf")
    place_to: float = 0.0
    placed: int = 0
    refused: int = 0  # INSUFFICIENT_STOCK at addToCart or placeOrder
    failed: int = 0  # anything else that stopped a buyer
    wall: float = 0.0
    server_cpu: float = 0.0  # seconds of CPU the server process used during the scenario
    client_cpu: float = 0.0  # and this process
    place_cpu: float = 0.0  # storm only: server CPU seconds during the placeOrder phase
    oversells: int = 0  # positions with buffer > on_hand after the scenario
    db_waits: Counter[str] = field(default_factory=Counter)
    db_active_max: int = 0
    db_samples: int = 0

    def note(self, mutation: str, outcome: str) -> None:
        self.outcomes[f"{mutation} {outcome}"] += 1

    def stop(self, outcome: str) -> None:
        if outcome == INSUFFICIENT:
            self.refused += 1
        else:
            self.failed += 1

    @property
    def place_rate(self) -> float:
        span = self.place_to - self.place_from
        return len(self.latencies) / span if span > 0 else 0.0

    def percentile(self, p: int) -> float:
        if not self.latencies:
            return float("nan")
        if len(self.latencies) == 1:
            return self.latencies[0] * 1000
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[p - 1] * 1000


class Api:
    """The buyers' HTTP client: aiohttp, which costs this process about half of httpx's CPU
    per call (the bench shares the machine's cores with the server it measures)."""

    def __init__(self, client: aiohttp.ClientSession, base: str) -> None:
        self.client = client
        self.url = f"{base}/graphql"
        self.started = time.perf_counter()
        self.failures: list[str] = []  # transport errors: when, on what, why

    async def call(
        self, run: Run, mutation: str, query: str, variables: dict[str, Any], buyer: int
    ) -> tuple[str, dict[str, Any] | None]:
        """("ok", payload) or (what went wrong, None); every call is tallied in `run`."""
        outcome, payload = await self._call(mutation, query, variables, shopper(run, buyer))
        run.note(mutation, outcome)
        return outcome, payload

    async def _call(
        self, mutation: str, query: str, variables: dict[str, Any], headers: dict[str, str]
    ) -> tuple[str, dict[str, Any] | None]:
        try:
            async with self.client.post(
                self.url, json={"query": query, "variables": variables}, headers=headers
            ) as response:
                if response.status != 200:
                    return f"HTTP {response.status}", None
                body = await response.json()
        except (aiohttp.ClientError, TimeoutError) as error:
            cause = error.__cause__ or error.__context__
            self.failures.append(
                f"{time.perf_counter() - self.started:6.2f} s {mutation}: {error!r} <- {cause!r}"
            )
            return f"transport:{type(error).__name__}", None
        if body.get("errors"):
            return f"graphql-error:{body['errors'][0].get('message', '')[:60]!r}", None
        payload: dict[str, Any] = body["data"][mutation]
        if payload["errors"]:
            return str(payload["errors"][0]["code"]), None
        return "ok", payload


@asynccontextmanager
async def buyers_client(args: argparse.Namespace, base: str) -> AsyncIterator[Api]:
    connector = aiohttp.TCPConnector(limit=args.concurrency, keepalive_timeout=args.keepalive)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        yield Api(session, base)


def shopper(run: Run, buyer: int) -> dict[str, str]:
    """The buyer's own address (10.0.0.0/8, one per buyer, scenario and server size; only a
    header: nothing is sent there) and device id (new each bench run: the throttles' redis
    buckets outlive a run)."""
    n = buyer + 100_000 * ["hot", "hot-storm", "spread"].index(run.label)
    n += 1_000_000 * run.workers
    address = f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"
    device = uuid.uuid5(uuid.NAMESPACE_URL, f"vitrina-bench/{RUN_ID}/{n}")
    return {"X-Forwarded-For": address, "X-Device-Id": str(device)}


async def prepare(api: Api, run: Run, buyer: int, basket: list[str]) -> str | None:
    """A cart with the basket, a contact and courier delivery; None if the buyer gave up."""
    outcome, payload = await api.call(run, "createCart", CREATE_CART, {}, buyer)
    if payload is None:
        run.stop(outcome)
        return None
    token: str = payload["cart"]["token"]
    steps: list[tuple[str, str, dict[str, Any]]] = [
        ("addToCart", ADD, {"c": token, "v": guid}) for guid in basket
    ]
    steps += [
        (
            "setCartContact",
            CONTACT,
            # one shopper per buyer and server size: a drop allows one unpaid order a contact
            {"c": token, "e": f"{run.label}-{run.workers}-{buyer}@bench.example.com"},
        ),
        ("setCartDelivery", DELIVERY, {"c": token}),
    ]
    for mutation, query, variables in steps:
        outcome, payload = await api.call(run, mutation, query, variables, buyer)
        if payload is None:
            run.stop(outcome)
            return None
    return token


async def place(api: Api, run: Run, buyer: int, token: str) -> None:
    started = time.perf_counter()
    outcome, payload = await api.call(
        run,
        "placeOrder",
        PLACE,
        {"c": token, "k": f"{run.label}-{buyer}-{uuid.uuid4().hex}"},
        buyer,
    )
    ended = time.perf_counter()
    run.latencies.append(ended - started)
    run.place_from = min(run.place_from, started)
    run.place_to = max(run.place_to, ended)
    if payload is None:
        run.stop(outcome)
    else:
        run.placed += 1


async def scenario(
    api: Api, run: Run, baskets: list[list[str]], concurrency: int, *, storm: bool, pid: int
) -> None:
    """Every buyer through checkout, at most `concurrency` of them talking to the API at once.

    With `storm`, all carts are filled first and every placeOrder then goes out together, so
    the placeOrder phase holds nothing but placeOrder calls.
    """
    gate = asyncio.Semaphore(concurrency)

    async def limited(work: Awaitable[T]) -> T:
        async with gate:  # the coroutine does not start before it is awaited here
            return await work

    async def whole_flow(buyer: int, basket: list[str]) -> None:
        token = await prepare(api, run, buyer, basket)
        if token is not None:
            await place(api, run, buyer, token)

    started = time.perf_counter()
    if storm:
        tokens = await asyncio.gather(
            *(limited(prepare(api, run, n, b)) for n, b in enumerate(baskets))
        )
        cpu = cpu_seconds(pid)
        await asyncio.gather(*(limited(place(api, run, n, t)) for n, t in enumerate(tokens) if t))
        run.place_cpu = cpu_seconds(pid) - cpu
    else:
        await asyncio.gather(*(limited(whole_flow(n, b)) for n, b in enumerate(baskets)))
    run.wall = time.perf_counter() - started


@asynccontextmanager
async def watching_db(dsn: str, database: str, run: Run) -> AsyncIterator[None]:
    """Sample the server's PostgreSQL sessions every 50 ms: how many work, and on what."""
    conn = await asyncpg.connect(dsn)

    async def sample() -> None:
        while True:
            rows = await conn.fetch(
                "SELECT state, wait_event_type, wait_event FROM pg_stat_activity "
                "WHERE datname = $1 AND pid <> pg_backend_pid() "
                "AND backend_type = 'client backend'",
                database,
            )
            active = [r for r in rows if r["state"] == "active"]
            run.db_samples += 1
            run.db_active_max = max(run.db_active_max, len(active))
            for r in rows:
                if r["state"] == "active":
                    wait = f"{r['wait_event_type']}:{r['wait_event']}" if r["wait_event"] else "CPU"
                else:
                    wait = str(r["state"])  # idle (in the pool), idle in transaction
                run.db_waits[wait] += 1
            await asyncio.sleep(0.05)

    task = asyncio.create_task(sample())
    try:
        yield
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
        await conn.close()


# --- checks ----------------------------------------------------------------------------------


@dataclass
class Books:
    orders: int  # live orders with a line of these variants
    units: int  # units in those lines
    buffer: int  # stock_level.buffer over these variants
    oversold: list[Any]  # positions (any variant) with buffer > on_hand
    unbalanced: list[Any]  # positions whose buffer is not their held + active reservations


async def books(db: Any, variant_ids: list[int]) -> Books:
    live = (
        "FROM orders o JOIN order_line l ON l.order_id = o.id "
        "WHERE l.variant_id = ANY($1::int[]) AND o.status <> 'cancelled'"
    )
    return Books(
        orders=await db.fetchval(f"SELECT count(DISTINCT o.id) {live}", variant_ids),
        units=await db.fetchval(f"SELECT coalesce(sum(l.quantity), 0) {live}", variant_ids),
        buffer=await db.fetchval(
            "SELECT coalesce(sum(buffer), 0) FROM stock_level WHERE variant_id = ANY($1::int[])",
            variant_ids,
        ),
        oversold=await db.fetch(
            "SELECT variant_id, warehouse_id, on_hand, buffer FROM stock_level "
            "WHERE buffer > on_hand"
        ),
        unbalanced=await db.fetch(
            "SELECT s.variant_id, s.warehouse_id, s.buffer, coalesce(r.held, 0) AS held "
            "FROM stock_level s LEFT JOIN (SELECT variant_id, warehouse_id, sum(quantity) AS held "
            "FROM reservation WHERE state IN ('held', 'active') GROUP BY 1, 2) r "
            "USING (variant_id, warehouse_id) WHERE s.buffer <> coalesce(r.held, 0)"
        ),
    )


def report(run: Run, found: Books, *, want_orders: int) -> None:
    right = found.orders == want_orders == run.placed and found.buffer == found.units
    ok = "ok" if right and not found.oversold and not found.unbalanced else "WRONG"
    print(
        f"\n[{run.label}, {run.workers} API process(es)] {run.buyers} buyers in {run.wall:.1f} s; "
        f"placeOrder phase {run.place_to - run.place_from:.1f} s"
    )
    for key, calls in sorted(run.outcomes.items()):
        print(f"    {key:38} {calls:6}")
    print(
        f"    DB: orders {found.orders} (want {want_orders}, client saw {run.placed}), "
        f"units {found.units}, "
        f"buffer {found.buffer} -> {ok}; oversold positions {len(found.oversold)}, "
        f"buffer != held+active {len(found.unbalanced)}"
    )
    for row in [*found.oversold, *found.unbalanced][:10]:
        print(f"    !! {dict(row)}")
    print(
        f"    CPU: server process {run.server_cpu:.1f} s ({run.server_cpu / run.wall:.0%} of one "
        f"core), bench client {run.client_cpu:.1f} s, over {run.wall:.1f} s; "
        f"{sum(run.outcomes.values()) / run.wall:.0f} requests/s"
    )
    if run.place_cpu and run.latencies:
        print(
            f"    server CPU during the placeOrder phase: {run.place_cpu:.1f} s = "
            f"{run.place_cpu / len(run.latencies) * 1000:.1f} ms per placeOrder"
        )
    if run.db_samples:
        busy = run.db_waits.most_common(6)
        share = ", ".join(f"{k} {v / run.db_samples:.1f}" for k, v in busy)
        print(
            f"    server DB sessions: at most {run.db_active_max} active at once; "
            f"mean sessions per sample by state/wait: {share}"
        )


# --- pgbench ---------------------------------------------------------------------------------


async def pgbench(
    db: Any, url: SplitResult, database: str, script: Path, clients: int, seconds: int
) -> str:
    """tps of one conditional UPDATE on one row, or why pgbench could not say."""
    await db.execute("UPDATE hot SET buffer = 0, on_hand = 2000000000 WHERE id = 1")
    args = ["-n", "-c", str(clients), "-j", str(min(2, clients)), "-T", str(seconds)]
    args += ["-f", str(script), "-h", url.hostname or "127.0.0.1", "-p", str(url.port or 5432)]
    args += ["-U", url.username or "postgres", database]
    process = await asyncio.create_subprocess_exec(
        PGBENCH, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), seconds + 30)
    except TimeoutError:
        return "timed out"
    finally:
        if process.returncode is None:  # timed out, or the bench's time limit cancelled us
            process.kill()
            await process.wait()
    text = out.decode()
    match = re.search(r"^tps = ([\d.]+)", text, re.MULTILINE)
    if process.returncode != 0 or match is None:
        return f"failed ({process.returncode}): {err.decode().strip()[-300:]}"
    done = re.search(r"actually processed: (\d+)", text)
    buffer = await db.fetchval("SELECT buffer FROM hot WHERE id = 1")
    return f"{match.group(1)} (transactions {done.group(1) if done else '?'}, buffer {buffer})"


async def hot_row_floor(
    db: Any, url: SplitResult, database: str, seconds: int
) -> list[tuple[int, int, str]]:
    """pgbench -c 16 for `seconds`, then -c 100 (as far as max_connections allows) for half."""
    await db.execute("CREATE TABLE hot (id int PRIMARY KEY, on_hand int, buffer int)")
    await db.execute("INSERT INTO hot VALUES (1, 2000000000, 0)")
    free = await db.fetchval(
        "SELECT current_setting('max_connections')::int - count(*) FROM pg_stat_activity "
        "WHERE backend_type = 'client backend'"
    )
    results: list[tuple[int, int, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "hot.sql"
        script.write_text(HOT_UPDATE)
        for clients, span in ((16, seconds), (100, max(1, seconds // 2))):
            usable = min(clients, int(free) - 5)  # leave room for everyone else's sessions
            if usable != clients:
                print(f"pgbench: -c {clients} capped at -c {usable} (max_connections)")
            result = await pgbench(db, url, database, script, usable, span)
            results.append((usable, span, result))
    return results


def tps_of(result: str) -> float | None:
    match = re.match(r"[\d.]+", result)
    return float(match.group(0)) if match else None


# --- logs ------------------------------------------------------------------------------------


def pg_log_offsets() -> dict[Path, int]:
    try:
        return {p: p.stat().st_size for p in PG_LOG_DIR.glob("*.log")}
    except OSError:
        return {}


def pg_log_since(offsets: dict[Path, int]) -> list[str]:
    lines: list[str] = []
    for path in PG_LOG_DIR.glob("*.log"):
        try:
            with path.open("rb") as f:
                f.seek(offsets.get(path, 0))
                lines += f.read().decode(errors="replace").splitlines()
        except OSError as error:
            lines.append(f"(cannot read {path}: {error})")
    return lines


def count_deadlocks() -> int:
    return sum(
        line.lower().count("deadlock")
        for path in PG_LOG_DIR.glob("*.log")
        for line in path.read_text(errors="replace").splitlines()
    )


def summarise_logs(database: str, pg_lines: list[str], logs: Path) -> None:
    ours = [line for line in pg_lines if f"@{database} " in line]
    deadlocks = [line for line in pg_lines if "deadlock" in line.lower()]
    errors = Counter(
        re.sub(r"\d+", "N", line.split("ERROR:", 1)[1].strip())[:100]
        for line in ours
        if "ERROR:" in line
    )
    print(
        f"\nPostgreSQL log during the run: {len(pg_lines)} lines, {len(ours)} from {database}; "
        f"lines mentioning deadlock: {len(deadlocks)} (any database)"
    )
    for line in deadlocks[:5]:
        print(f"    {line[:200]}")
    for message, times in errors.most_common(5):
        print(f"    ERROR x{times}: {message}")
    text = [
        line
        for log in sorted(logs.glob("server-*.log"))
        for line in log.read_text(errors="replace").splitlines()
    ]
    interesting = [line for line in text if line.strip()]
    print(f"server log (LOG_LEVEL=WARNING): {len(interesting)} lines")
    events = Counter(re.sub(r"\d+", "N", line)[:140] for line in interesting)
    for line, times in events.most_common(8):
        print(f"    x{times}: {line}")


# --- the run ---------------------------------------------------------------------------------


async def run_scenarios(
    args: argparse.Namespace, database: str, dsn: str, tmp: Path, runs: list[Run]
) -> None:
    """Seed, serve, run the chosen scenarios; each finished one is appended to `runs`."""
    await run_migrations(dsn)
    await init_db(dsn)
    sizes: list[int] = args.server_workers
    try:
        catalog = await seed(
            units=args.units,
            variants=args.variants,
            hot_count=2 * len(sizes),  # each server size its own two hot variants
            hold_mode=HoldMode(args.hold_mode),
        )
        bot_catalog = await seed_bots() if "bots" in args.scenarios else None
    finally:
        await close_db()
    db = await asyncpg.connect(dsn)
    try:
        for index, workers in enumerate(sizes):
            plan = _plan(args, catalog, index, first=index == 0)
            await _serve_plan(args, database, dsn, tmp, runs, db, plan, workers)
            if bot_catalog is not None and index == 0:
                await _bots(args, dsn, tmp, db, bot_catalog, workers)
    finally:
        await db.close()


Plan = list[tuple[str, list[tuple[int, str]], list[list[str]], bool, int]]


def _plan(args: argparse.Namespace, catalog: Catalog, index: int, *, first: bool) -> Plan:
    """The scenarios for one server size: its own hot variants; the spread one only once."""
    rng = random.Random(args.seed)
    spread = [guid for _, guid in catalog.spread]
    hot, storm = catalog.hot[2 * index], catalog.hot[2 * index + 1]
    plan: Plan = [
        ("hot", [hot], [[hot[1]]] * args.buyers, False, args.units),
        ("hot-storm", [storm], [[storm[1]]] * args.buyers, True, args.units),
    ]
    if first:
        baskets = [
            rng.sample(spread, rng.randint(1, min(3, len(spread)))) for _ in range(args.buyers)
        ]
        plan.append(("spread", catalog.spread, baskets, False, args.buyers))
    return [step for step in plan if step[0] in args.scenarios]


def _client_limits(args: argparse.Namespace) -> httpx.Limits:
    return httpx.Limits(
        max_connections=args.concurrency,
        max_keepalive_connections=args.concurrency,
        keepalive_expiry=args.keepalive,
    )


async def _serve_plan(
    args: argparse.Namespace,
    database: str,
    dsn: str,
    tmp: Path,
    runs: list[Run],
    db: Any,
    plan: Plan,
    workers: int,
) -> None:
    """One server of `workers` API processes; the plan's scenarios through it."""
    server_url = dsn + (f"?maxsize={args.server_pool}" if args.server_pool else "")
    async with (
        serving(server_url, free_port(), tmp / f"server-{workers}.log", workers) as (base, pid),
        buyers_client(args, base) as api,
    ):
        for label, variants, baskets, storm, stock in plan:
            run = Run(label=label, buyers=len(baskets), workers=workers)
            cpu = cpu_seconds(pid), time.process_time()
            api.started = time.perf_counter()
            async with watching_db(dsn, database, run):
                await scenario(api, run, baskets, args.concurrency, storm=storm, pid=pid)
            run.server_cpu = cpu_seconds(pid) - cpu[0]
            run.client_cpu = time.process_time() - cpu[1]
            found = await books(db, [vid for vid, _ in variants])
            run.oversells = len(found.oversold)
            report(run, found, want_orders=min(stock, len(baskets) - run.failed))
            for failure in api.failures[:5]:
                print(f"    transport error at {failure}")
            api.failures.clear()
            runs.append(run)


async def _bots(
    args: argparse.Namespace, dsn: str, tmp: Path, db: Any, catalog: Any, workers: int
) -> None:
    server_url = dsn + (f"?maxsize={args.server_pool}" if args.server_pool else "")
    async with (
        serving(server_url, free_port(), tmp / "server-bots.log", workers) as (base, _),
        httpx.AsyncClient(base_url=base, limits=_client_limits(args), timeout=60) as client,
    ):
        await run_bots(client, db, catalog)


def summary(runs: list[Run], floor: list[tuple[int, int, str]]) -> None:
    print(
        f"\n{'scenario':10} {'procs':>5} {'buyers':>6} {'placed':>6} {'refused':>7} {'other':>5} "
        f"{'placeOrder/s':>12} {'p50 ms':>7} {'p99 ms':>7} {'CPU ms/call':>11} {'oversells':>9}"
    )
    for run in runs:
        print(
            f"{run.label:10} {run.workers:5} {run.buyers:6} {run.placed:6} {run.refused:7} "
            f"{run.failed:5} {run.place_rate:12.1f} {run.percentile(50):7.0f} "
            f"{run.percentile(99):7.0f} {cpu_per_call(run):11.1f} {run.oversells:9}"
        )
    print(
        "(CPU ms/call: server CPU per request over the whole scenario; hot-storm: per placeOrder, "
        f"its phase alone; this machine has {os.cpu_count()} cores, shared with the bench "
        "client and PostgreSQL)\n"
    )
    for clients, seconds, result in floor:
        print(
            f"pgbench, 1 conditional UPDATE on 1 hot row, -c {clients} -T {seconds}: tps = {result}"
        )
    if not floor or (tps := tps_of(floor[0][2])) is None:
        return
    for run in runs:
        if run.label.startswith("hot"):
            print(
                f"{run.label} ({run.workers} process(es)): placeOrder/s ÷ pgbench tps "
                f"(-c {floor[0][0]}) = {run.place_rate:.1f} / {tps:.0f} = "
                f"{run.place_rate / tps:.4f}"
            )


def cpu_per_call(run: Run) -> float:
    """Server CPU ms per placeOrder (the storm's placeOrder phase), else per request."""
    if run.place_cpu and run.latencies:
        return run.place_cpu / len(run.latencies) * 1000
    calls = sum(run.outcomes.values())
    return run.server_cpu / calls * 1000 if calls else float("nan")


async def forget_jobs(dsn: str) -> None:
    """Remove the expire-order jobs this run left in redis db 14 (no worker runs there)."""
    db = await asyncpg.connect(dsn)
    try:
        ids = [r["id"] for r in await db.fetch("SELECT id FROM orders")]
    finally:
        await db.close()
    redis = Redis.from_url(REDIS_URL)
    try:
        for start in range(0, len(ids), 500):
            jobs = [f"expire-order:{i}" for i in ids[start : start + 500]]
            await redis.delete(*(f"arq:job:{j}" for j in jobs))
            await redis.zrem("arq:queue", *jobs)
    finally:
        await redis.aclose()


async def main() -> None:
    configure_logging(level="WARNING")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--buyers", "-n", type=int, default=1000, help="N buyers per scenario")
    parser.add_argument("--units", "-k", type=int, default=100, help="K units of the hot variant")
    parser.add_argument("--variants", "-m", type=int, default=200, help="M spread variants")
    parser.add_argument("--concurrency", "-c", type=int, default=100, help="buyers in flight")
    parser.add_argument(
        "--server-pool", type=int, default=0, help="server's PostgreSQL pool (0: its default, 5)"
    )
    parser.add_argument("--hold-mode", choices=[m.value for m in HoldMode], default="at_order")
    parser.add_argument(
        "--scenarios",
        nargs="+",
        choices=["hot", "hot-storm", "spread", "bots"],
        default=["hot", "spread"],
        help="hot-storm (all carts first, then every placeOrder at once) adds about a minute; "
        "bots: what one client address takes off sale",
    )
    parser.add_argument(
        "--keepalive",
        type=float,
        default=2.0,
        help="client keep-alive expiry, s; uvicorn closes idle connections after 5 s, and a "
        "client that keeps them as long (httpx's default) now and then reuses a closing one",
    )
    parser.add_argument("--pgbench-seconds", type=int, default=10)
    parser.add_argument(
        "--server-workers",
        type=int,
        nargs="+",
        default=[1],
        help="API processes; several sizes (e.g. 1 2) run the hot scenarios once for each",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--time-limit", type=float, default=170, help="seconds, cleanup aside")
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432")
    args = parser.parse_args()
    url = urlsplit(args.postgres)
    if url.hostname not in ("127.0.0.1", "localhost", "::1"):
        parser.error("--postgres must be on this machine (127.0.0.1)")

    database = f"vitrina_storm_{uuid.uuid4().hex[:8]}"
    dsn = f"{args.postgres}/{database}"
    redis = Redis.from_url(REDIS_URL)
    try:
        leftover = await redis.dbsize()
    finally:
        await redis.aclose()
    if leftover:
        print(f"note: redis db 14 already holds {leftover} keys (same job ids are not re-queued)")
    print(
        f"buyers {args.buyers}, hot units {args.units}, spread variants {args.variants}, "
        f"concurrency {args.concurrency}, server: {args.server_workers} uvicorn process(es), "
        f"pool {args.server_pool or 'default (5)'}, hold mode {args.hold_mode}"
    )
    deadlocks_before = count_deadlocks()
    offsets = pg_log_offsets()
    admin = await asyncpg.connect(f"{args.postgres}/postgres")
    await admin.execute(f'CREATE DATABASE "{database}"')
    started = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            runs: list[Run] = []
            floor: list[tuple[int, int, str]] = []
            try:
                async with asyncio.timeout(args.time_limit):
                    await run_scenarios(args, database, dsn, Path(tmp), runs)
                    if any(label.startswith("hot") for label in args.scenarios):
                        db = await asyncpg.connect(dsn)
                        try:
                            floor = await hot_row_floor(db, url, database, args.pgbench_seconds)
                        finally:
                            await db.close()
            except TimeoutError:
                print(f"\n!! time limit of {args.time_limit:.0f} s reached: the rest was skipped")
            summary(runs, floor)
            summarise_logs(database, pg_log_since(offsets), Path(tmp))
    finally:
        with suppress(Exception):
            await forget_jobs(dsn)
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()
    print(
        f"deadlock mentions in {PG_LOG_DIR}/*.log: before {deadlocks_before}, "
        f"after {count_deadlocks()}; whole bench {time.perf_counter() - started:.0f} s"
    )


if __name__ == "__main__":
    asyncio.run(main())
