"""Drop-day catalog reads over real HTTP: the response cache against the serving limit.

Builds the demo brand (app/devtools/demo_data.py) in a throwaway PostgreSQL database, starts one
API process (`python -m app serve`, ENVIRONMENT=prod, trusted documents by id) and, beside it,
a bare starlette app that answers the same bytes (the serving limit of this machine's Python
HTTP stack). A cheap load generator (raw asyncio sockets, keep-alive, one process) then
measures, each for `--seconds`:

- the limit, and cache hits by GET documentId and by POST, at `--concurrency` (32): rps,
  p50, p99 (targets: ≥ 0.5 × the limit, p99 ≤ 25 ms);
- the miss path (a second API process with RESPONSE_CACHE=off): requests per server CPU second;
- a 1C stock figure (`applyStockSnapshots`) → seen by the next catalog and product responses,
  a price (`updatePrices`) and a new product (`upsertCatalog`) → seen: p50/p99 over `--changes`;
- the release instant: 50 ms before a new collection's `releaseAt` its product is not shown,
  50 ms after it is (catalog page and product page).

    uv run python bench/catalog_read.py [--seconds 5] [--concurrency 32] [--changes 20]
        [--postgres postgres://postgres@127.0.0.1:5432] [--redis redis://127.0.0.1:6379/4]

Figures depend on the machine and on what else runs on it: say so when you quote them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import asyncpg
import httpx
from redis.asyncio import Redis

from app.db import close_db, init_db, run_migrations
from app.devtools.demo_data import load_demo_data
from app.domain.access import Scope
from app.logging import configure_logging
from app.redis_setup import free_port
from app.schema.documents import MANIFEST
from app.services.response_cache.tags import PREFIX
from app.services.tokens import create_token

ROOT = Path(__file__).resolve().parent.parent
IDS = {e["name"]: k for k, e in json.loads(MANIFEST.read_text()).items()}
STOCK = """mutation S($rows: [StockSnapshotInput!]!) {
  applyStockSnapshots(rows: $rows) { errors { code message } } }"""
PRICES = """mutation P($prices: [PriceInput!]!) {
  updatePrices(prices: $prices) { updated errors { code message } } }"""
CATALOG = """mutation C($input: CatalogInput!) {
  upsertCatalog(input: $input) { errors { code path message } } }"""
LIMIT_APP = """
import sys
import uvicorn
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

body = open(sys.argv[2], "rb").read()

async def answer(request):
    return Response(body, media_type="application/json", headers={"etag": '"x"'})

app = Starlette(routes=[Route("/graphql", answer, methods=["GET", "POST"])])
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
"""


# --- processes ----------------------------------------------------------------------------------


@asynccontextmanager
async def process(args: list[str], env: dict[str, str], port: int) -> AsyncIterator[int]:
    """A server process on 127.0.0.1:port until the block ends; yields its pid."""
    log = Path(tempfile.gettempdir()) / f"catalog-read-{port}.log"
    with log.open("wb") as sink:
        child = await asyncio.create_subprocess_exec(
            *args, cwd=ROOT, env=env, stdout=sink, stderr=sink
        )
    try:
        await _ready(child, port, log)
        yield child.pid
    finally:
        if child.returncode is None:
            child.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(child.wait(), 15)
            except TimeoutError:
                child.kill()
                await child.wait()


async def _ready(child: asyncio.subprocess.Process, port: int, log: Path) -> None:
    async with httpx.AsyncClient(timeout=2) as client:
        for _ in range(150):
            if child.returncode is not None:
                raise RuntimeError(f"exited {child.returncode}: {log.read_text()[-2000:]}")
            with suppress(httpx.HTTPError):
                await client.get(f"http://127.0.0.1:{port}/graphql")
                return
            await asyncio.sleep(0.2)
    raise RuntimeError(f"not ready in 30 s: {log.read_text()[-2000:]}")


def api(
    database_url: str, redis_url: str, port: int, cache: bool
) -> tuple[list[str], dict[str, str]]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "LOG_LEVEL": "WARNING",
        "ENVIRONMENT": "prod",
        "QUERY_BUDGET_PER_SECOND": "0",  # every request comes from 127.0.0.1
        "RESPONSE_CACHE": "on" if cache else "off",
    }
    return [sys.executable, "-m", "app", "serve"], env


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- load -------------------------------------------------------------------------------------


def get_request(name: str, variables: dict[str, Any]) -> bytes:
    query = urlencode({"documentId": IDS[name], "variables": json.dumps(variables)})
    return f"GET /graphql?{query} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()


def post_request(name: str, variables: dict[str, Any]) -> bytes:
    body = json.dumps({"documentId": IDS[name], "variables": variables}).encode()
    head = (
        "POST /graphql HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


@dataclass
class Load:
    label: str
    latencies: list[float]
    seconds: float
    failures: int
    cpu: float | None = None

    @property
    def per_cpu(self) -> float:
        return len(self.latencies) / self.cpu if self.cpu else 0.0

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.seconds

    def p(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 0.0

    def line(self, limit: Load | None = None) -> str:
        ratio = ""
        if limit is not None:
            ratio = f"  {self.rps / limit.rps:4.2f} × limit rps"
            if self.cpu and limit.cpu:
                ratio += f", {self.per_cpu / limit.per_cpu:4.2f} × limit req/CPU s"
        cpu = f"  {self.per_cpu:7.1f} req/CPU s" if self.cpu else ""
        return (
            f"  {self.label:<34} {self.rps:8.0f} rps  p50 {self.p(0.5):6.2f} ms  "
            f"p99 {self.p(0.99):6.2f} ms  failed {self.failures}{ratio}{cpu}"
        )


async def _connection(
    port: int, request: bytes, until: float, latencies: list[float], failures: list[int]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < until:
            started = time.perf_counter()
            writer.write(request)
            status = await reader.readline()
            length = 0
            while (line := await reader.readline()) != b"\r\n":
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if not status.startswith(b"HTTP/1.1 200"):
                failures.append(1)
    finally:
        writer.close()


async def load(label: str, port: int, request: bytes, seconds: float, c: int, pid: int = 0) -> Load:
    latencies: list[float] = []
    failures: list[int] = []
    cpu = cpu_seconds(pid) if pid else 0.0
    started = time.perf_counter()
    until = started + seconds
    await asyncio.gather(
        *(_connection(port, request, until, latencies, failures) for _ in range(c))
    )
    spent = cpu_seconds(pid) - cpu if pid else None
    return Load(label, latencies, time.perf_counter() - started, len(failures), spent)


# --- changes ----------------------------------------------------------------------------------


class Shop:
    def __init__(self, client: httpx.AsyncClient, token: str) -> None:
        self.client, self.token = client, token

    async def read(self, name: str, **variables: Any) -> dict[str, Any]:
        params = {"documentId": IDS[name], "variables": json.dumps(variables)}
        answer = await self.client.get("/graphql", params=params)
        body: dict[str, Any] = answer.json()
        if "errors" in body:
            raise RuntimeError(body["errors"])
        data: dict[str, Any] = body["data"]
        return data

    async def write(self, query: str, **variables: Any) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        answer = await self.client.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )
        body = answer.json()
        payload = next(iter(body.get("data", {}).values()), None) or {}
        if "errors" in body or payload.get("errors"):
            raise RuntimeError(answer.text)

    async def seen_after(self, check: Callable[[], Any], timeout: float = 5.0) -> float:
        """Seconds until `check()` (a coroutine of reads) answers True."""
        started = time.perf_counter()
        while time.perf_counter() - started < timeout:
            if await check():
                return time.perf_counter() - started
            await asyncio.sleep(0.005)
        return float("inf")


def _quantiles(label: str, seconds: list[float]) -> str:
    ordered = sorted(seconds)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return (
        f"  {label:<44} p50 {statistics.median(ordered) * 1000:7.1f} ms  "
        f"p99 {p99 * 1000:7.1f} ms  max {ordered[-1] * 1000:7.1f} ms  (n={len(ordered)})"
    )


async def stock_changes(shop: Shop, slug: str, n: int) -> list[float]:
    page = (await shop.read("ProductPage", slug=slug))["product"]
    variant = page["variants"][0]
    warehouse = variant["availability"][0]["warehouse"]["id"]
    others = variant["available"] - variant["availability"][0]["quantity"]
    found = []
    for i in range(n):
        quantity = 5 + i % 2 * 3 + i % 3
        as_of = datetime.now(UTC).isoformat()
        row = {"variantGuid": variant["id"], "warehouseGuid": warehouse}
        await shop.write(STOCK, rows=[{**row, "quantity": quantity, "asOf": as_of}])

        async def shown(q: int = quantity) -> bool:
            card = await shop.read("ProductPage", slug=slug)
            listed = await shop.read("CatalogProducts", first=24)
            v = next(x for x in card["product"]["variants"] if x["id"] == variant["id"])
            cards = [e["node"] for e in listed["products"]["edges"]]
            in_list = [x for c in cards for x in c["variants"] if x["id"] == variant["id"]]
            return bool(
                v["availability"][0]["quantity"] == q
                and all(x["available"] == others + q for x in in_list)
            )

        found.append(await shop.seen_after(shown))
    return found


async def price_changes(shop: Shop, slug: str, n: int) -> list[float]:
    variant = (await shop.read("ProductPage", slug=slug))["product"]["variants"][0]["id"]
    found = []
    for i in range(n):
        price = f"{9000 + i}.00"
        await shop.write(PRICES, prices=[{"variantGuid": variant, "price": price}])

        async def shown(p: str = price) -> bool:
            page = await shop.read("ProductPage", slug=slug)
            listed = await shop.read("CatalogProducts", first=24)
            cards = [x for e in listed["products"]["edges"] for x in e["node"]["variants"]]
            return bool(
                page["product"]["variants"][0]["price"]["amount"] == p
                and all(x["price"]["amount"] == p for x in cards if x["id"] == variant)
            )

        found.append(await shop.seen_after(shown))
    return found


def _product(collection: str | None, category: str | None, tag: str) -> dict[str, Any]:
    return {
        "guid": str(uuid.uuid4()),
        "name": f"Bench {tag}",
        "slug": f"bench-{tag}",
        "collectionGuid": collection,
        "categoryGuid": category,
        "variants": [
            {
                "guid": str(uuid.uuid4()),
                "sku": f"B-{tag}",
                "size": "M",
                "colour": "black",
                "price": "4990.00",
            }
        ],
    }


async def new_products(shop: Shop, n: int) -> list[float]:
    """Products outside a drop sort by their creation: a new one is the first card."""
    found = []
    for _ in range(n):
        tag = uuid.uuid4().hex[:8]
        await shop.write(CATALOG, input={"products": [_product(None, None, tag)]})

        async def shown(t: str = tag) -> bool:
            listed = await shop.read("CatalogProducts", first=24)
            return any(e["node"]["slug"] == f"bench-{t}" for e in listed["products"]["edges"])

        found.append(await shop.seen_after(shown))
    return found


async def release_instants(shop: Shop, rounds: int) -> list[tuple[bool, bool]]:
    """(seen 50 ms before, seen 50 ms after) per round, catalog page and product page."""
    outcomes = []
    for _ in range(rounds):
        tag = uuid.uuid4().hex[:8]
        release = datetime.now(UTC) + timedelta(seconds=2)
        collection = {
            "guid": str(uuid.uuid4()),
            "name": f"Drop {tag}",
            "releaseAt": release.isoformat(),
        }
        product = _product(collection["guid"], None, tag)
        await shop.write(CATALOG, input={"collections": [collection], "products": [product]})

        async def visible(t: str = tag) -> bool:
            listed = await shop.read("CatalogProducts", first=24)
            page = await shop.read("ProductPage", slug=f"bench-{t}")
            in_list = any(e["node"]["slug"] == f"bench-{t}" for e in listed["products"]["edges"])
            return in_list and page["product"] is not None

        await shop.read("CatalogProducts", first=24)  # an entry filled before the instant
        await _sleep_until(release - timedelta(milliseconds=50))
        before = await visible()
        await _sleep_until(release + timedelta(milliseconds=50))
        after = await visible()
        outcomes.append((before, after))
    return outcomes


async def _sleep_until(instant: datetime) -> None:
    await asyncio.sleep(max(0.0, (instant - datetime.now(UTC)).total_seconds()))


# --- the run ----------------------------------------------------------------------------------


@asynccontextmanager
async def demo_database(server: str) -> AsyncIterator[str]:
    name = f"vitrina_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(f"{server}/postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = f"{server}/{name}"
    try:
        await run_migrations(url)
        await init_db(url)
        await load_demo_data(now=datetime.now(UTC) - timedelta(minutes=10))
        yield url
    finally:
        await close_db()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def run(args: argparse.Namespace) -> None:
    redis = Redis.from_url(args.redis)  # no entry or tag version of an earlier run's database
    stale = [k async for k in redis.scan_iter(match=PREFIX + "*")]
    if stale:
        await redis.delete(*stale)
    await redis.aclose()
    async with demo_database(args.postgres) as url:
        scopes = [Scope.CATALOG_WRITE, Scope.STOCK_WRITE]
        token = await create_token(name="bench", scopes=scopes)
        port, miss_port, limit_port = free_port(), free_port(), free_port()
        async with process(*api(url, args.redis, port, cache=True), port) as pid:
            base = f"http://127.0.0.1:{port}"
            async with httpx.AsyncClient(base_url=base, timeout=10) as client:
                shop = Shop(client, token)
                first = (await shop.read("CatalogProducts", first=24))["products"]["edges"]
                slug = first[0]["node"]["slug"]
                catalog_bytes = (
                    await client.get(
                        "/graphql",
                        params={"documentId": IDS["CatalogProducts"], "variables": '{"first":24}'},
                    )
                ).content
                await _hits(args, port, pid, limit_port, catalog_bytes, slug)
                print("\nchange → seen by the next catalog and product responses (cache on):")
                print(
                    _quantiles(
                        "1C applyStockSnapshots", await stock_changes(shop, slug, args.changes)
                    )
                )
                print(_quantiles("1C updatePrices", await price_changes(shop, slug, args.changes)))
                print(
                    _quantiles(
                        "1C upsertCatalog, a new product",
                        await new_products(shop, max(3, args.changes // 4)),
                    )
                )
                outcomes = await release_instants(shop, 3)
                print(
                    "\nrelease instant (seen 50 ms before, seen 50 ms after), per round:", outcomes
                )
        async with process(*api(url, args.redis, miss_port, cache=False), miss_port) as miss_pid:
            print("\nthe miss path (RESPONSE_CACHE=off), concurrency 4:")
            for name, variables in (
                ("CatalogProducts", {"first": 24}),
                ("ProductPage", {"slug": slug}),
            ):
                request = get_request(name, variables)
                await load("warm", miss_port, request, 1, 2)
                figure = await load(f"{name} miss", miss_port, request, args.seconds, 4, miss_pid)
                print(figure.line())


async def _hits(
    args: argparse.Namespace, port: int, pid: int, limit_port: int, body: bytes, slug: str
) -> None:
    c, seconds = args.concurrency, args.seconds
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as sink:
        sink.write(body)
    limit_args = [sys.executable, "-c", LIMIT_APP, str(limit_port), sink.name]
    catalog = {"first": 24}
    async with process(limit_args, dict(os.environ), limit_port) as limit_pid:
        request = get_request("CatalogProducts", catalog)
        await load("warm", limit_port, request, 1, c)
        label = "serving limit (bare starlette)"
        limit = await load(label, limit_port, request, seconds, c, limit_pid)
    print(f"CatalogProducts, 24 cards, {len(body)} B, concurrency {c}, {seconds} s each:")
    print(limit.line())
    for label, request in (
        ("cache hits, GET documentId", get_request("CatalogProducts", catalog)),
        ("cache hits, POST documentId", post_request("CatalogProducts", catalog)),
        ("cache hits, GET ProductPage", get_request("ProductPage", {"slug": slug})),
    ):
        await load("warm", port, request, 1, c)
        print((await load(label, port, request, seconds, c, pid)).line(limit))


def main() -> None:
    configure_logging(level="WARNING")
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--changes", type=int, default=20)
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/4")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
