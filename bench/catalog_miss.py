"""What one catalog miss costs in server CPU: the storefront's `CatalogProducts` (24 cards) and
`ProductPage`, run through the real ASGI app in-process (httpx ASGITransport), the way the
storefront sends them in prod: `ENVIRONMENT=prod`, trusted documents by id, no response cache.

Builds the demo brand (app/devtools/demo_data.py) on SQLite and on PostgreSQL (a database of
its own, dropped at the end), with one fixed clock so two runs answer the same bytes, and
prints, per database and operation, CPU milliseconds per request (`time.process_time`: this
process's every thread, the SQLite driver's included; PostgreSQL's own server CPU is not in
it), requests per CPU second and wall milliseconds. Usage:

    uv run python bench/catalog_miss.py [--requests 100] [--db sqlite,postgres]
        [--postgres postgres://postgres@127.0.0.1:5432] [--redis redis://127.0.0.1:6379/5]
        [--profile 15] [--dump DIR]

The app is tuned as `vitrina serve` tunes it (app/gc_tuning.py). `--profile N` runs the
requests again under cProfile, timed in CPU (not wall) time so the machine's other load stays
out, and prints the N costliest functions (own time, then cumulative; `--pstats PREFIX` saves
them); `--dump DIR` writes each response body, to compare two trees byte for byte. To compare
with an older commit: `git archive <commit> | tar -x -C /tmp/old`, copy this file into
/tmp/old/bench/ and run it there with PYTHONPATH=/tmp/old, alternating with this tree (a
loaded machine drifts).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import hashlib
import io
import json
import os
import pstats
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from app.db import close_db, init_db, run_migrations
from app.devtools.demo_data import load_demo_data
from app.logging import configure_logging
from app.main import create_app
from app.models.catalog import Product
from app.schema.documents import MANIFEST
from app.settings import Settings

try:
    from app.gc_tuning import tune_for_serving
except ImportError:  # an older tree (to measure "before"): the default collector
    tune_for_serving = None  # type: ignore[assignment]

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # in the past: 1C refuses figures from the future
OPERATIONS = ("CatalogProducts", "ProductPage")
os.environ.setdefault("RESPONSE_CACHE", "off")  # a miss every time (if the cache exists)


@dataclass(frozen=True)
class Figure:
    operation: str
    cpu_ms: float
    wall_ms: float
    size: int
    digest: str

    def line(self) -> str:
        return (
            f"  {self.operation:<16} {self.cpu_ms:7.2f} CPU ms/request  "
            f"{1000 / self.cpu_ms:7.1f} requests/CPU s  {self.wall_ms:7.2f} wall ms  "
            f"{self.size:6d} B  sha256 {self.digest[:12]}"
        )


def document_ids() -> dict[str, str]:
    manifest = json.loads(MANIFEST.read_text())
    return {entry["name"]: key for key, entry in manifest.items() if entry["name"] in OPERATIONS}


def settings_for(url: str) -> Settings:
    values: dict[str, Any] = {
        "database_url": url,
        "environment": "prod",
        # the budget check runs (a redis call per request) but never refuses the loop
        "query_budget_per_second": 10**9,
    }
    if "response_cache" in Settings.model_fields:
        values["response_cache"] = "off"
    return Settings(**values)


async def first_slug(client: httpx.AsyncClient, ids: dict[str, str]) -> str:
    """The product page to open: the catalog's first card with the most variants."""
    body = await call(client, ids["CatalogProducts"], {"first": 24})
    nodes = [e["node"] for e in json.loads(body)["data"]["products"]["edges"]]
    return str(max(nodes, key=lambda n: len(n["variants"]))["slug"])


async def call(client: httpx.AsyncClient, document: str, variables: dict[str, Any]) -> bytes:
    response = await client.post("/graphql", json={"documentId": document, "variables": variables})
    if response.status_code != 200 or b'"errors"' in response.content:
        raise RuntimeError(f"{response.status_code}: {response.text[:500]}")
    return response.content


async def measure(
    client: httpx.AsyncClient, operation: str, document: str, variables: dict[str, Any], n: int
) -> Figure:
    for _ in range(5):  # warm: parser and validation caches, loader code paths
        await call(client, document, variables)
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(n):
        body = await call(client, document, variables)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    digest = hashlib.sha256(body).hexdigest()
    return Figure(operation, cpu * 1000 / n, wall * 1000 / n, len(body), digest)


async def profile(
    client: httpx.AsyncClient,
    document: str,
    variables: dict[str, Any],
    n: int,
    top: int,
    save: str | None,
) -> str:
    profiler = cProfile.Profile(time.process_time)  # CPU time: waits and other load left out
    profiler.enable()
    for _ in range(n):
        await call(client, document, variables)
    profiler.disable()
    if save:
        profiler.dump_stats(save)
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs()
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return out.getvalue()


async def run(url: str, args: argparse.Namespace) -> None:
    await run_migrations(url)
    await init_db(url)
    try:
        assert await load_demo_data(now=NOW)
        # products outside a drop sort by their creation instant: fixed, so cursors repeat
        await Product.filter(collection_id=None).update(sort_date=NOW)
        app = create_app(
            settings_for(url), redis_url=args.redis, manage_db=False, clock=lambda: NOW
        )
        if tune_for_serving is not None:  # as `vitrina serve` does (absent before this work)
            tune_for_serving()
        ids = document_ids()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            slug = await first_slug(client, ids)
            cases: dict[str, dict[str, Any]] = {
                "CatalogProducts": {"first": 24},
                "ProductPage": {"slug": slug},
            }
            for operation, variables in cases.items():
                figure = await measure(client, operation, ids[operation], variables, args.requests)
                print(figure.line(), flush=True)
                if args.dump:
                    body = await call(client, ids[operation], variables)
                    name = f"{url.split(':')[0]}-{operation}.json"
                    (Path(args.dump) / name).write_bytes(body)
            if args.profile:
                for operation, variables in cases.items():
                    print(f"--- cProfile, {operation} × {args.requests}")
                    save = args.pstats and f"{args.pstats}-{url.split(':')[0]}-{operation}"
                    text = await profile(
                        client, ids[operation], variables, args.requests, args.profile, save
                    )
                    print(text)
    finally:
        await close_db()


@asynccontextmanager
async def postgres_database(server: str) -> AsyncIterator[str]:
    name = f"vitrina_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(f"{server}/postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{server}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def main() -> None:
    configure_logging(level="WARNING")
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--db", default="sqlite,postgres")
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/5")
    parser.add_argument("--profile", type=int, default=0, help="print the top N of cProfile")
    parser.add_argument("--pstats", help="save each profile as PREFIX-db-operation")
    parser.add_argument("--dump", help="write each response body into this directory")
    args = parser.parse_args()
    if args.dump:
        Path(args.dump).mkdir(parents=True, exist_ok=True)
    databases = args.db.split(",")
    if len(databases) > 1:  # one process each: tortoise keeps a dialect's queries across inits
        for db in databases:
            command = [sys.executable, *sys.argv, "--db", db]
            subprocess.run(command, check=True)
        return
    for db in databases:
        print(f"{db}, demo brand, {args.requests} requests each:", flush=True)
        if db == "postgres":
            async with postgres_database(args.postgres) as url:
                await run(url, args)
        else:
            with tempfile.TemporaryDirectory() as tmp:
                await run(f"sqlite://{Path(tmp) / 'bench.sqlite3'}", args)


if __name__ == "__main__":
    asyncio.run(main())
