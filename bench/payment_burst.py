"""Drop day at the till: a burst of YooKassa payments, their notifications, and the poller.

Creates a throwaway PostgreSQL database (migrated, one variant with plenty of stock), starts the
YooKassa simulator and the real API behind uvicorn on 127.0.0.1 (the simulator posts its
notifications to our webhook over HTTP), places N orders through the services, then:

    A. payOrder   N shoppers start paying at once (concurrency C) through GraphQL: each call
                  writes the payment row and creates the YooKassa payment (one HTTP round trip)
    B. notify     all N payers press Pay at once (concurrency C): each press makes the simulator
                  POST `payment.succeeded` to our webhook, which re-reads the payment with GET and
                  marks the order paid; timed from the press to the webhook's answer
    C. poll       M more orders are paid with their notifications dropped; one poller pass
                  re-reads every unfinished payment and pays them

Checks: every order paid exactly once, one status change per order, no refund. Usage:

    uv run python bench/payment_burst.py [--orders 500] [--concurrency 50] [--lost 200]
        [--postgres postgres://postgres@127.0.0.1:5432]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx

from app.db import close_db, init_db, run_migrations
from app.devtools.simulators.server import LocalServer
from app.devtools.simulators.yookassa import YooKassaSimulator
from app.domain.orders import OrderStatus
from app.integrations.payments.registry import build_providers
from app.logging import configure_logging
from app.main import create_app
from app.models.orders import Order, OrderStatusChange, Refund
from app.services.jobs import NoQueue
from app.services.payments import watch as payment_watch
from app.settings import Settings
from bench.sync_drain import REDIS_URL, flush_redis, place_one, seed

PAY = """mutation Pay($order: String!, $key: String!) { payOrder(orderToken: $order,
  idempotencyKey: $key) { payment { confirmationUrl } errors { code } } }"""


async def place(count: int, offset: int) -> list[Order]:
    """`count` orders of one unit each, awaiting payment (an hour to pay)."""
    return [
        (await place_one(n, NoQueue(), timedelta(hours=1))).order
        for n in range(offset, offset + count)
    ]


async def timed(
    items: list[Any], work: Callable[[Any], Awaitable[None]], concurrency: int
) -> tuple[float, list[float]]:
    """Run `work` for every item, `concurrency` at a time: (wall seconds, seconds per item)."""
    gate, latencies = asyncio.Semaphore(concurrency), []

    async def one(item: Any) -> None:
        async with gate:
            started = time.perf_counter()
            await work(item)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*[one(i) for i in items])
    return time.perf_counter() - started, latencies


def report(name: str, wall: float, latencies: list[float]) -> None:
    q = statistics.quantiles(latencies, n=100)
    print(
        f"{name:9} {len(latencies):5} in {wall:6.2f} s = {len(latencies) / wall:6.1f}/s"
        f"   p50 {q[49] * 1000:6.0f} ms   p99 {q[98] * 1000:6.0f} ms"
    )


async def run(url: str, orders: int, concurrency: int, lost: int) -> None:
    await run_migrations(url)
    await init_db(url)
    await flush_redis()
    sim = YooKassaSimulator()
    try:
        await seed(orders + lost + 10)
        async with LocalServer(sim.app) as yookassa:
            settings = Settings(database_url=url, environment="test").model_copy(
                update={
                    "yookassa_url": f"{yookassa.url}/v3/",
                    "yookassa_shop_id": sim.shop_id,
                    "yookassa_secret_key": sim.secret_key,
                    "payment_poll_seconds": 0,
                }
            )
            app = create_app(settings, redis_url=REDIS_URL, manage_db=False)
            async with app.router.lifespan_context(app), LocalServer(app) as api:
                sim.webhook_url = f"{api.url}/integrations/payments/yookassa"
                await measure(settings, api.url, sim, orders, concurrency, lost)
    finally:
        await sim.aclose()
        await close_db()


async def measure(
    settings: Settings, api: str, sim: YooKassaSimulator, orders: int, concurrency: int, lost: int
) -> None:
    burst = await place(orders, 0)
    urls: dict[int, str] = {}
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=api, limits=limits, timeout=60) as client:

        async def pay(order: Order) -> None:
            body = (
                await client.post(
                    "/graphql",
                    json={
                        "query": PAY,
                        "variables": {"order": order.token, "key": f"pay-{order.guid}"},
                    },
                )
            ).json()
            urls[order.id] = body["data"]["payOrder"]["payment"]["confirmationUrl"]

        report("payOrder", *await timed(burst, pay, concurrency))
        by_url = {url.rsplit("/", 1)[1]: oid for oid, url in urls.items()}

        async def press(payment_id: str) -> None:
            await sim.pay(payment_id)  # returns once our webhook has answered

        report("notify", *await timed(list(by_url), press, concurrency))

        quiet = await place(lost, orders)
        for order in quiet:
            await pay(order)
        for order in quiet:
            sim.drop_next_notification()
            await sim.pay(urls[order.id].rsplit("/", 1)[1])
    providers = build_providers(settings)
    started = time.perf_counter()
    changed = await payment_watch.poll(
        providers=providers.polled(), now=datetime.now(UTC), every=timedelta(0), jobs=NoQueue()
    )
    seconds = time.perf_counter() - started
    await providers.aclose()
    print(f"poll      {changed:5} paid in {seconds:6.2f} s = {changed / seconds:6.1f}/s")
    paid = await Order.filter(status=OrderStatus.PAID).count()
    changes = await OrderStatusChange.filter(to_status=OrderStatus.PAID).count()
    refunds = await Refund.all().count()
    ok = paid == changes == orders + lost and refunds == 0
    verdict = "ok" if ok else "FAIL"
    print(f"check     paid {paid}, paid changes {changes}, refunds {refunds}: {verdict}")


async def main() -> None:
    configure_logging(level="WARNING")
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--lost", type=int, default=200)
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432")
    args = parser.parse_args()
    name = f"vitrina_bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(f"{args.postgres}/postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        await run(f"{args.postgres}/{name}", args.orders, args.concurrency, args.lost)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
