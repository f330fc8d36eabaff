"""How fast the outbox reaches 1C and RetailCRM: steady delivery, then a 1C outage's backlog.

Creates a throwaway PostgreSQL database (migrated, one warehouse, one variant with plenty of
stock, written through the catalog services), starts the 1C and RetailCRM simulators on
127.0.0.1 and the worker group (housekeeping + one delivery worker per system) in this process,
then places orders through the services, with a real arq queue so the after-commit wake-up runs:

    A. steady   N orders (every 3rd paid) while both systems are up: events/s per system and
                the delay from an event's creation (≈ its commit) to its `delivered_at`
    B. backlog  1C's server is stopped, N more orders are placed, 1C comes back: how long
                until no 1C event is pending, and at what rate it drained

Then checks: no dead letters, nothing pending, each 1C event applied exactly once, RetailCRM
and 1C hold every order. RetailCRM's client is held to `--crm-rps` (the real API allows 10/s
per key); at 10 or less the simulator also enforces 10/s and answers 503 past it, as the real
API does. Placing and waiting share `--budget` seconds (the default keeps the run under 3
minutes); whatever is still pending then is printed as such, with the checks it fails. Usage:

    uv run python bench/sync_drain.py [--orders 300] [--crm-rps 10] [--budget 165]
        [--postgres postgres://postgres@127.0.0.1:5432]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from redis.asyncio import Redis

from app.db import close_db, init_db, run_migrations
from app.devtools.simulators.base import Simulator
from app.devtools.simulators.onec import OneCSimulator
from app.devtools.simulators.retailcrm import RetailCrmSimulator
from app.devtools.simulators.server import LocalServer
from app.domain.orders import DeliveryKind
from app.domain.outbox import EventState, Target
from app.integrations.payments.dummy import SUCCEEDS, DummyProvider
from app.logging import configure_logging
from app.models.outbox import OutboxEvent
from app.services.catalog import intake as catalog
from app.services.catalog.products import ProductData, VariantData
from app.services.checkout import carts
from app.services.checkout.orders import PlacedOrder, place_order
from app.services.inventory.stock_snapshots import RawStockSnapshot, apply_stock_snapshots
from app.services.jobs import JobQueue
from app.services.outbox.delivery import due_aggregates
from app.services.outbox.record import delivery_queue
from app.services.payments.start import pay_order
from app.settings import Settings
from app.workers.queue import ArqQueue
from app.workers.settings import WorkerGroup, build_workers

REDIS_URL = "redis://127.0.0.1:6379/13"
CRM_API_LIMIT = 10  # calls per second per API key, RetailCRM's own limit
PAY_EVERY = 3
POLL = 0.05


def guid(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"vitrina-bench/{name}"))


WAREHOUSE, PRODUCT, VARIANT = guid("warehouse/online"), guid("product/dress"), guid("variant/m")


# --- setup -----------------------------------------------------------------------------------


async def seed(units: int) -> None:
    """One online warehouse, one product with one variant, `units` of it in stock."""
    report = await catalog.upsert_warehouses(
        items=[catalog.WarehouseData(WAREHOUSE, "Online", "online", priority=10)]
    )
    assert not report.problems, report.problems
    variant = VariantData(VARIANT, "BENCH-DRESS-M", "M", "black", "4990.00")
    report = await catalog.upsert_products(items=[ProductData(PRODUCT, "Dress", [variant])])
    assert not report.problems, report.problems
    stock = await apply_stock_snapshots(
        rows=[RawStockSnapshot(VARIANT, WAREHOUSE, units, datetime.now(UTC).isoformat())],
        max_rows=1,
    )
    assert not stock.problems, stock.problems


def stack_settings(url: str, onec: LocalServer, crm: LocalServer, crm_rps: float) -> Settings:
    """Production defaults (lanes, retry policy) pointed at the simulators."""
    return Settings(database_url=url, environment="test").model_copy(
        update={
            "onec_url": f"{onec.url}/hs/vitrina",
            "onec_username": "vitrina",
            "onec_password": "secret",
            "retailcrm_url": f"{crm.url}/api/v5",
            "retailcrm_api_key": "test-key",
            "retailcrm_site": "vitrina",
            "retailcrm_max_rps": crm_rps,
        }
    )


async def flush_redis() -> None:
    redis = Redis.from_url(REDIS_URL)
    try:
        await redis.flushdb()
    finally:
        await redis.aclose()


# --- placing orders --------------------------------------------------------------------------


@dataclass
class Placed:
    orders: int
    seconds: float
    first_event: int  # outbox ids of this batch: first_event <= id <= last_event
    last_event: int


async def last_event_id() -> int:
    last = await OutboxEvent.all().order_by("-id").first()
    return last.id if last is not None else 0


async def place_one(
    n: int, jobs: JobQueue, payment_timeout: timedelta = timedelta(minutes=15)
) -> PlacedOrder:
    """Shopper `n`: cart with one dress, contact, courier, order (awaiting payment)."""
    now = datetime.now(UTC)
    cart = await carts.create_cart()
    await carts.set_line(cart_token=cart.token, variant_guid=VARIANT, quantity=1, now=now)
    await carts.set_contact(
        cart_token=cart.token,
        email=f"buyer{n}@example.com",
        phone=None,
        first_name="Анна",
        last_name="",
    )
    await carts.set_delivery(
        cart_token=cart.token,
        kind=DeliveryKind.COURIER,
        address="Москва, Тверская, 7",
        shop_guid=None,
        now=now,
    )
    return await place_order(
        cart_token=cart.token,
        idempotency_key=f"bench-order-{n:06d}",
        now=datetime.now(UTC),  # the outbox rows' created_at: the commit follows at once
        payment_timeout=payment_timeout,
        jobs=jobs,
    )


async def place_orders(start: int, count: int, jobs: ArqQueue) -> Placed:
    """`count` shoppers, one after another: cart, contact, courier, order; every 3rd pays."""
    provider, before, started = DummyProvider(), await last_event_id(), time.perf_counter()
    for n in range(start, start + count):
        placed = await place_one(n, jobs)
        if n % PAY_EVERY == 0:
            await pay_order(
                order_token=placed.order.token,
                idempotency_key="pay-attempt-1",
                provider=provider,
                card_number=SUCCEEDS,
                return_url="https://shop.example/",
                now=datetime.now(UTC),
                jobs=jobs,
            )
    return Placed(count, time.perf_counter() - started, before + 1, await last_event_id())


# --- waiting and measuring -------------------------------------------------------------------


async def wait_for(condition: Callable[[], Awaitable[bool]], deadline: float) -> tuple[bool, float]:
    """Poll until `condition` holds or the monotonic `deadline` passes: (held, seconds)."""
    started = time.monotonic()
    while not await condition():
        if time.monotonic() > deadline:
            return False, time.monotonic() - started
        await asyncio.sleep(POLL)
    return True, time.monotonic() - started


def nothing_pending(*targets: Target) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        query = OutboxEvent.filter(state=EventState.PENDING, target__in=list(targets))
        return not await query.exists()

    return check


@dataclass(frozen=True)
class Row:
    target: Target
    state: EventState
    attempts: int
    created_at: datetime
    delivered_at: datetime | None


async def rows_of(batch: Placed, target: Target) -> list[Row]:
    values = await OutboxEvent.filter(
        id__gte=batch.first_event, id__lte=batch.last_event, target=target
    ).values_list("state", "attempts", "created_at", "delivered_at")
    return [Row(target, EventState(s), a, c, d) for s, a, c, d in values]


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(p * len(ordered)) - 1))]


def delivery_line(target: Target, rows: list[Row]) -> str:
    done = [r for r in rows if r.delivered_at is not None]
    head = f"  {target.value:9} {len(done):5}/{len(rows):<5} delivered"
    if not done:
        return head
    delays = [(r.delivered_at - r.created_at).total_seconds() for r in done if r.delivered_at]
    first = min(r.created_at for r in rows)
    last = max(r.delivered_at for r in done if r.delivered_at)
    span = (last - first).total_seconds()
    per_second = Counter(int(r.delivered_at.timestamp()) for r in done if r.delivered_at)
    return (
        f"{head} in {span:6.1f} s = {len(done) / span:6.1f} ev/s "
        f"(peak {max(per_second.values())} in one second); created→delivered "
        f"p50 {pct(delays, 0.5):6.2f} s  p99 {pct(delays, 0.99):6.2f} s  "
        f"max {max(delays):6.2f} s"
    )


def calls_line(name: str, sim: Simulator, orders: int) -> str:
    statuses = Counter(r.status for r in sim.requests)
    by_status = ", ".join(f"{s}: {n}" for s, n in sorted(statuses.items(), key=str))
    return (
        f"  {name:9} {len(sim.requests):5} calls = {len(sim.requests) / orders:4.2f} per order "
        f"({by_status})"
    )


def crm_endpoints(crm: RetailCrmSimulator) -> str:
    """RetailCRM calls per endpoint (ids left out) and answer status."""
    calls = Counter(
        "/".join(p for p in r.path.removeprefix("/api/v5/").split("/") if len(p) < 30)
        + f" {r.status}"
        for r in crm.requests
    )
    return ", ".join(f"{name}: {n}" for name, n in sorted(calls.items()))


# --- the run ---------------------------------------------------------------------------------


@dataclass
class Stack:
    onec: OneCSimulator
    crm: RetailCrmSimulator
    onec_server: LocalServer
    jobs: ArqQueue
    workers: WorkerGroup
    deadline: float  # time.monotonic() when waiting stops

    def jobs_run(self, target: Target) -> int:
        """Delivery jobs the system's worker has finished so far."""
        queue = delivery_queue(target)
        return sum(
            w.jobs_complete + w.jobs_failed for w in self.workers.workers if w.queue_name == queue
        )


async def steady_phase(stack: Stack, orders: int) -> Placed:
    placed = await place_orders(0, orders, stack.jobs)
    drained, waited = await wait_for(nothing_pending(Target.ONEC), stack.deadline)
    print(
        f"A steady: {orders} orders placed in {placed.seconds:.1f} s = "
        f"{orders / placed.seconds:.1f} orders/s "
        f"({placed.last_event - placed.first_event + 1} outbox events); 1C "
        f"{'drained' if drained else 'NOT drained'} {waited:.1f} s after the last order"
    )
    return placed


async def backlog_phase(stack: Stack, orders: int) -> Placed:
    await stack.onec_server.stop()
    jobs_before = stack.jobs_run(Target.ONEC)
    placed = await place_orders(orders, orders, stack.jobs)
    outage_jobs = stack.jobs_run(Target.ONEC) - jobs_before
    await stack.onec_server.start()
    restarted = datetime.now(UTC)
    queued = len(await rows_of(placed, Target.ONEC))
    pending = {
        t: await OutboxEvent.filter(state=EventState.PENDING, target=t).count() for t in Target
    }
    woken = Counter({t: len(await due_aggregates(now=restarted, target=t)) for t in Target})
    drained, took = await wait_for(nothing_pending(Target.ONEC), stack.deadline)
    rows = await rows_of(placed, Target.ONEC)
    delivered = sorted(r.delivered_at for r in rows if r.delivered_at is not None)
    failed = sum(r.attempts for r in rows) - len(delivered)
    print(
        f"B backlog: 1C down for {placed.seconds:.1f} s while {orders} orders were placed "
        f"({orders / placed.seconds:.1f} orders/s); {queued} 1C events queued, "
        f"{failed} failed 1C attempts, {outage_jobs} 1C delivery jobs run meanwhile"
    )
    print(
        f"  at restart: pending 1C {pending[Target.ONEC]}, RetailCRM "
        f"{pending[Target.RETAILCRM]}; the sweep's next batch would wake "
        f"{woken[Target.ONEC]} 1C and {woken[Target.RETAILCRM]} RetailCRM aggregates"
    )
    state = "drained" if drained else "NOT drained"
    print(
        f"  1C {state} in {took:.1f} s after restart: {len(delivered)} events = "
        f"{len(delivered) / took:.1f} ev/s"
    )
    if delivered:
        first, last = delivered[0], delivered[-1]
        flowing = max((last - first).total_seconds(), 1e-3)
        print(
            f"  first 1C delivery {(first - restarted).total_seconds():.1f} s after restart, "
            f"then {len(delivered)} events in {flowing:.1f} s = {len(delivered) / flowing:.1f} ev/s"
        )
    return placed


async def run(url: str, orders: int, crm_rps: float, budget: float) -> None:
    await run_migrations(url)
    await init_db(url)
    await flush_redis()
    onec = OneCSimulator()
    crm = RetailCrmSimulator(rps_limit=CRM_API_LIMIT if crm_rps <= CRM_API_LIMIT else None)
    onec_server, crm_server = LocalServer(onec.app), LocalServer(crm.app)
    jobs = ArqQueue(REDIS_URL)
    workers: WorkerGroup | None = None
    try:
        await seed(units=10 * orders + 100)
        await onec_server.start()
        await crm_server.start()
        settings = stack_settings(url, onec_server, crm_server, crm_rps)
        print(
            f"{orders} orders per phase, every {PAY_EVERY}rd paid; 1C lanes "
            f"{settings.onec_lanes}; RetailCRM lanes {settings.retailcrm_lanes} at "
            f"{crm_rps:g} calls/s (simulator limit: {crm.rps_limit or 'none'}); retries from "
            f"{settings.outbox_backoff_base_seconds:g} s up to "
            f"{settings.outbox_backoff_cap_seconds:g} s; waiting budget {budget:g} s"
        )
        workers = build_workers(settings, redis_url=REDIS_URL)
        workers.start()
        stack = Stack(onec, crm, onec_server, jobs, workers, time.monotonic() + budget)
        steady = await steady_phase(stack, orders)
        backlog = await backlog_phase(stack, orders)
        done, waited = await wait_for(nothing_pending(*Target), stack.deadline)
        print(f"  everything {'delivered' if done else 'NOT delivered'} {waited:.1f} s later")
        for title, batch in [("A steady", steady), ("B backlog", backlog)]:
            print(f"{title}, per system (event created → delivered_at):")
            for target in Target:
                print(delivery_line(target, await rows_of(batch, target)))
        await check(onec, crm, 2 * orders, crm_rps)
    finally:
        if workers is not None:
            await workers.close(grace=10.0)
        await jobs.aclose()
        await onec_server.stop()
        await crm_server.stop()
        await close_db()
        await flush_redis()


async def check(onec: OneCSimulator, crm: RetailCrmSimulator, placed: int, rps: float) -> None:
    dead = await OutboxEvent.filter(state=EventState.DEAD).count()
    pending = {
        t.value: await OutboxEvent.filter(state=EventState.PENDING, target=t).count()
        for t in Target
    }
    onec_events = await OutboxEvent.filter(target=Target.ONEC).count()
    applied = onec.state.applied
    everywhere = len(crm.state.orders) == len(onec.state.orders) == placed
    print("checks:")
    print(f"  dead letters {dead}  {ok(dead == 0)}")
    print(f"  pending left {pending}  {ok(sum(pending.values()) == 0)}")
    print(
        f"  1C applied {len(applied)} events, {len(set(applied))} distinct  "
        f"{ok(len(applied) == len(set(applied)))}; of {onec_events} 1C events  "
        f"{ok(len(set(applied)) == onec_events)}"
    )
    print(
        f"  orders placed {placed}: in 1C {len(onec.state.orders)}, in RetailCRM "
        f"{len(crm.state.orders)}  {ok(everywhere)}"
    )
    print("calls the simulators received:")
    print(calls_line("1C", onec, placed))
    print(calls_line("RetailCRM", crm, placed))
    print(f"  RetailCRM by endpoint: {crm_endpoints(crm)}")
    left = pending[Target.RETAILCRM.value]
    if left:
        sent = await OutboxEvent.filter(target=Target.RETAILCRM, state=EventState.DELIVERED).count()
        per_event = len(crm.requests) / max(1, sent)
        print(
            f"  RetailCRM needs ~{left * per_event / rps:.0f} s more at {rps:g} calls/s for "
            f"{left} events (~{per_event:.2f} calls each so far)"
        )


def ok(condition: bool) -> str:
    return "ok" if condition else "WRONG"


async def main() -> None:
    configure_logging(level="WARNING")
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=300, help="orders per phase")
    parser.add_argument("--crm-rps", type=float, default=CRM_API_LIMIT)
    parser.add_argument("--budget", type=float, default=165, help="seconds of placing and waiting")
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432")
    args = parser.parse_args()
    name = f"vitrina_bench_{uuid.uuid4().hex[:8]}"
    admin: Any = await asyncpg.connect(f"{args.postgres}/postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    started = time.perf_counter()
    try:
        await run(f"{args.postgres}/{name}", args.orders, args.crm_rps, args.budget)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
        print(f"run took {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    asyncio.run(main())
