"""Where addToCart and placeOrder spend their time: cProfile in-process, and SQL statements.

Creates a throwaway PostgreSQL database, seeds the storm's catalog (one hot variant with
plenty of units, so every order goes through), builds the real ASGI app in this process and
sends N buyers through createCart → setCartContact → setCartDelivery → addToCart → placeOrder
over httpx's ASGI transport (no sockets). addToCart and placeOrder run under cProfile, each in
its own profile; one buyer's calls also have their SQL statements counted. Usage:

    uv run python bench/checkout_profile.py [--buyers 300] [--top 25] [--sort tottime]
        [--postgres postgres://postgres@127.0.0.1:5432] [--redis redis://127.0.0.1:6379/6]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import logging
import pstats
import time
import uuid
from collections.abc import Awaitable
from typing import Any, TypeVar

import asyncpg
import httpx

from app.db import close_db, init_db, run_migrations
from app.logging import configure_logging
from app.main import create_app
from app.models.catalog import HoldMode
from app.settings import Settings
from bench.checkout_storm import ADD, CONTACT, CREATE_CART, DELIVERY, PLACE, PLENTY, seed

T = TypeVar("T")


class Statements(logging.Handler):
    """Counts the SQL statements tortoise sends (its db_client logger sees each one)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage().lstrip()
        if message.upper().startswith(("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")):
            self.seen.append(message)


async def call(
    client: httpx.AsyncClient,
    mutation: str,
    query: str,
    variables: dict[str, Any],
    device: str,
) -> dict[str, Any]:
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers={"X-Device-Id": device}
    )
    body = response.json()
    payload: dict[str, Any] = body["data"][mutation]
    if payload["errors"]:
        raise RuntimeError(f"{mutation}: {payload['errors']}")
    return payload


async def profiled(profile: cProfile.Profile | None, work: Awaitable[T]) -> tuple[T, float]:
    """Await `work` with the profiler on (one buyer at a time: nothing else runs meanwhile);
    also the CPU seconds this process spent on it (server and client: they share it)."""
    cpu = time.process_time()
    if profile is not None:
        profile.enable()
    try:
        return await work, time.process_time() - cpu
    finally:
        if profile is not None:
            profile.disable()


async def counted(work: Awaitable[T]) -> tuple[T, list[str]]:
    logger = logging.getLogger("tortoise.db_client")
    counter, level, propagate = Statements(), logger.level, logger.propagate
    logger.setLevel(logging.DEBUG)
    logger.addHandler(counter)
    logger.propagate = False  # counted, not printed
    try:
        return await work, counter.seen
    finally:
        logger.removeHandler(counter)
        logger.setLevel(level)
        logger.propagate = propagate


async def buyers(client: httpx.AsyncClient, guid: str, n: int, args: argparse.Namespace) -> None:
    add_profile, place_profile = cProfile.Profile(), cProfile.Profile()
    cpu: dict[str, list[float]] = {"createCart": [], "addToCart": [], "placeOrder": []}
    for buyer in range(n + 1):
        device = str(uuid.uuid4())  # each buyer their own device (limits count by it)
        created, spent = await profiled(None, call(client, "createCart", CREATE_CART, {}, device))
        cpu["createCart"].append(spent)
        token = created["cart"]["token"]
        email = f"p{buyer}@bench.example.com"
        await call(client, "setCartContact", CONTACT, {"c": token, "e": email}, device)
        await call(client, "setCartDelivery", DELIVERY, {"c": token}, device)
        add = call(client, "addToCart", ADD, {"c": token, "v": guid}, device)
        place = call(client, "placeOrder", PLACE, {"c": token, "k": uuid.uuid4().hex}, device)
        if buyer == 0:  # warm-up, and the statement count
            _, add_sql = await counted(add)
            _, place_sql = await counted(place)
            continue
        on = buyer % 2 == 1  # every other buyer profiled; the others give the plain CPU time
        _, spent = await profiled(add_profile if on else None, add)
        if not on:
            cpu["addToCart"].append(spent)
        _, spent = await profiled(place_profile if on else None, place)
        if not on:
            cpu["placeOrder"].append(spent)
    for name, sql in (("addToCart", add_sql), ("placeOrder", place_sql)):
        print(f"\n{name}: {len(sql)} SQL statements")
        for statement in sql:
            print(f"    {statement[:150]}")
    for name, times in cpu.items():
        ms = sorted(t * 1000 for t in times)
        print(
            f"{name}: CPU of this process (app + in-process client), profiler off: "
            f"median {ms[len(ms) // 2]:.2f} ms, mean {sum(ms) / len(ms):.2f} ms over {len(ms)}"
        )
    for name, profile in (("addToCart", add_profile), ("placeOrder", place_profile)):
        out = io.StringIO()
        stats = pstats.Stats(profile, stream=out)
        calls = (n + 1) // 2
        print(
            f"\n=== {name}: {calls} profiled calls, "
            f"{stats.total_tt / calls * 1000:.2f} ms each (wall, profiler on) ==="  # type: ignore[attr-defined]
        )
        stats.sort_stats(args.sort).print_stats(args.top)
        print("\n".join(out.getvalue().splitlines()[6:]))


async def main() -> None:
    configure_logging(level="WARNING")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--buyers", "-n", type=int, default=300)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--sort", default="tottime", help="pstats order: tottime, cumulative")
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/6")
    args = parser.parse_args()
    database = f"vitrina_profile_{uuid.uuid4().hex[:8]}"
    dsn = f"{args.postgres}/{database}"
    admin = await asyncpg.connect(f"{args.postgres}/postgres")
    await admin.execute(f'CREATE DATABASE "{database}"')
    try:
        await run_migrations(dsn)
        await init_db(dsn)
        try:
            catalog = await seed(units=PLENTY, variants=5, hot_count=1, hold_mode=HoldMode.AT_ORDER)
            settings = Settings(
                database_url=dsn,
                environment="prod",
                trusted_documents="permissive",
                query_budget_per_second=0,
                throttle_create_cart_per_address=1_000_000,
                throttle_change_cart_per_address=1_000_000,
                throttle_place_order_per_address=1_000_000,
                throttle_create_cart_per_device=1_000_000,
                throttle_change_cart_per_device=1_000_000,
                throttle_place_order_per_device=1_000_000,
            )
            app = create_app(settings, redis_url=args.redis, manage_db=False)
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://b") as client:
                    await buyers(client, catalog.hot[0][1], args.buyers, args)
        finally:
            await close_db()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
