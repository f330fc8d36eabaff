"""How fast a drop's orders reach RetailCRM and 1C through the outbox: a burst, then outages.

Creates a throwaway PostgreSQL database (migrated, one warehouse, one variant with plenty of
stock, written through the catalog services), starts the 1C and RetailCRM simulators on
127.0.0.1 and the worker group (housekeeping + one delivery worker per system) in this process,
then places orders through the services, one shopper after another as fast as the bench can
(every third paid), with a real arq queue so the after-commit wake-up runs. Phases:

    burst       N orders while both systems are up
    crm-outage  RetailCRM's server is stopped; N orders are placed; it comes back `--outage`
                seconds after it stopped: how long until no RetailCRM event is pending
    onec-outage the same for 1C (its server stopped while N orders are placed)

Per phase and system: events delivered, commit (an event's creation) → delivered_at p50, p99
and max. Then checks: dead letters, pending, 1C applied each event once, RetailCRM holds each
order, customer and payment once (duplicates), paid orders paid and the others not, and the
order per aggregate (the simulator refuses an order before its customer and a payment before
its order: `order_violations` counts those refusals); RetailCRM calls per order, by endpoint.

RetailCRM's client is held to `--crm-rps` (production's default, 9); the simulator enforces
RetailCRM's real 10 requests/s and answers 503 past it. Placing and waiting share `--budget`
seconds; whatever is still pending then is printed as such, with the checks it fails. Usage:

    uv run python bench/sync_drain.py [--orders 1000] [--phases burst,crm-outage]
        [--outage 60] [--crm-rps 9] [--budget 600] [--redis redis://127.0.0.1:6379/13]
        [--postgres postgres://postgres@127.0.0.1:5432]

A shorter run: `--orders 300 --outage 30`.
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
from app.services.payments.start import pay_order
from app.settings import Settings
from app.workers.queue import ArqQueue
from app.workers.settings import WorkerGroup, build_workers

REDIS_URL = "redis://127.0.0.1:6379/13"  # the default (bench/payment_burst.py uses it too)
CRM_API_LIMIT = 10  # calls per second per API key, RetailCRM's own limit
PAY_EVERY = 3
POLL = 0.05
SYSTEMS = (Target.ONEC, Target.RETAILCRM)
PHASES = ("burst", "crm-outage", "onec-outage")


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


async def flush_redis(url: str = REDIS_URL) -> None:
    redis = Redis.from_url(url)
    try:
        await redis.flushdb()
    finally:
        await redis.aclose()


# --- placing orders --------------------------------------------------------------------------


@dataclass
class Placed:
    orders: int
    paid: int
    seconds: float
    first_event: int  # outbox ids of this phase: first_event <= id <= last_event
    last_event: int
    crm_calls: int = 0  # RetailCRM calls from the phase's start to its end (drained)


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


async def place_orders(start: int, count: int, jobs: ArqQueue, paid: set[str]) -> Placed:
    """`count` shoppers, one after another: cart, contact, courier, order; every 3rd pays."""
    provider, before, started = DummyProvider(), await last_event_id(), time.perf_counter()
    paying = 0
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
            paid.add(placed.order.guid)
            paying += 1
    seconds = time.perf_counter() - started
    return Placed(count, paying, seconds, before + 1, await last_event_id())


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
    state: EventState
    attempts: int
    created_at: datetime
    delivered_at: datetime | None


async def rows_of(batch: Placed, target: Target) -> list[Row]:
    values = await OutboxEvent.filter(
        id__gte=batch.first_event, id__lte=batch.last_event, target=target
    ).values_list("state", "attempts", "created_at", "delivered_at")
    return [Row(EventState(s), a, c, d) for s, a, c, d in values]


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
    span = max((last - first).total_seconds(), 1e-3)
    return (
        f"{head} in {span:6.1f} s = {len(done) / span:6.1f} ev/s; commit→delivered "
        f"p50 {pct(delays, 0.5):6.2f} s  p99 {pct(delays, 0.99):6.2f} s  "
        f"max {max(delays):6.2f} s"
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
    servers: dict[Target, LocalServer]
    jobs: ArqQueue
    deadline: float  # time.monotonic() when waiting stops
    outage: float
    paid: set[str]
    placed: int = 0

    async def place(self, count: int) -> Placed:
        batch = await place_orders(self.placed, count, self.jobs, self.paid)
        self.placed += count
        return batch


async def burst_phase(stack: Stack, orders: int) -> Placed:
    calls = len(stack.crm.requests)
    placed = await stack.place(orders)
    drained, waited = await wait_for(nothing_pending(*SYSTEMS), stack.deadline)
    placed.crm_calls = len(stack.crm.requests) - calls
    print(
        f"burst: {orders} orders ({placed.paid} paid) placed in {placed.seconds:.1f} s = "
        f"{orders / placed.seconds:.1f} orders/s, {placed.last_event - placed.first_event + 1} "
        f"outbox events; {'drained' if drained else 'NOT drained'} {waited:.1f} s after the "
        "last order"
    )
    return placed


async def outage_phase(stack: Stack, orders: int, system: Target) -> Placed:
    server = stack.servers[system]
    calls = len(stack.crm.requests)
    await server.stop()
    stopped = time.monotonic()
    placed = await stack.place(orders)
    queued = len(await rows_of(placed, system))
    await asyncio.sleep(max(0.0, stack.outage - (time.monotonic() - stopped)))
    await server.start()
    down = time.monotonic() - stopped
    pending = await OutboxEvent.filter(state=EventState.PENDING, target=system).count()
    drained, took = await wait_for(nothing_pending(system), stack.deadline)
    placed.crm_calls = len(stack.crm.requests) - calls
    rows = await rows_of(placed, system)
    failed = sum(r.attempts for r in rows) - sum(r.delivered_at is not None for r in rows)
    print(
        f"{system.value} outage: down {down:.1f} s; {orders} orders ({placed.paid} paid) placed "
        f"meanwhile in {placed.seconds:.1f} s, {queued} {system.value} events queued, "
        f"{pending} pending at restart; {'drained' if drained else 'NOT drained'} {took:.1f} s "
        f"after it came back; {failed} failed attempts charged to events"
    )
    return placed


async def run(url: str, args: argparse.Namespace) -> None:
    await run_migrations(url)
    await init_db(url)
    await flush_redis(args.redis)
    onec = OneCSimulator()
    crm = RetailCrmSimulator(rps_limit=CRM_API_LIMIT)
    onec_server, crm_server = LocalServer(onec.app), LocalServer(crm.app)
    jobs = ArqQueue(args.redis)
    workers: WorkerGroup | None = None
    phases = [p for p in args.phases.split(",") if p]
    try:
        await seed(units=(len(phases) + 1) * args.orders + 100)
        await onec_server.start()
        await crm_server.start()
        settings = stack_settings(url, onec_server, crm_server, args.crm_rps)
        print(
            f"{args.orders} orders per phase ({', '.join(phases)}), every {PAY_EVERY}rd paid; "
            f"RetailCRM client at {args.crm_rps:g} calls/s, simulator limit {CRM_API_LIMIT}/s; "
            f"outages {args.outage:g} s; waiting budget {args.budget:g} s"
        )
        workers = build_workers(settings, redis_url=args.redis)
        workers.start()
        servers = {Target.ONEC: onec_server, Target.RETAILCRM: crm_server}
        stack = Stack(onec, crm, servers, jobs, time.monotonic() + args.budget, args.outage, set())
        done: list[tuple[str, Placed]] = []
        for phase in phases:
            if phase == "burst":
                done.append((phase, await burst_phase(stack, args.orders)))
            else:
                system = Target.RETAILCRM if phase == "crm-outage" else Target.ONEC
                done.append((phase, await outage_phase(stack, args.orders, system)))
        finished, waited = await wait_for(nothing_pending(*SYSTEMS), stack.deadline)
        print(f"everything {'delivered' if finished else 'NOT delivered'} {waited:.1f} s later")
        for title, batch in done:
            calls = batch.crm_calls / batch.orders
            print(
                f"{title}, per system ({batch.crm_calls} RetailCRM calls = {calls:.2f} an order):"
            )
            for target in SYSTEMS:
                print(delivery_line(target, await rows_of(batch, target)))
        await check(stack)
    finally:
        if workers is not None:
            await workers.close(grace=10.0)
        await jobs.aclose()
        await onec_server.stop()
        await crm_server.stop()
        await close_db()
        await flush_redis(args.redis)


async def check(stack: Stack) -> None:
    onec, crm, placed = stack.onec, stack.crm, stack.placed
    dead = await OutboxEvent.filter(state=EventState.DEAD).count()
    pending = {
        t.value: await OutboxEvent.filter(state=EventState.PENDING, target=t).count()
        for t in SYSTEMS
    }
    onec_events = await OutboxEvent.filter(target=Target.ONEC).count()
    applied = onec.state.applied
    print("checks:")
    print(f"  dead letters {dead}  {ok(dead == 0)}")
    print(f"  pending left {pending}  {ok(sum(pending.values()) == 0)}")
    print(
        f"  1C applied {len(applied)} events, {len(set(applied))} distinct  "
        f"{ok(len(applied) == len(set(applied)))}; of {onec_events} 1C events  "
        f"{ok(len(set(applied)) == onec_events)}; 1C holds {len(onec.state.orders)} of "
        f"{placed} orders  {ok(len(onec.state.orders) == placed)}"
    )
    crm_check(stack)
    print("calls the simulators received:")
    for name, sim in (("1C", onec), ("RetailCRM", crm)):
        print(calls_line(name, sim, placed))
    print(f"  RetailCRM by endpoint: {crm_endpoints(crm)}")


def crm_check(stack: Stack) -> None:
    crm, placed, paid = stack.crm, stack.placed, stack.paid
    orders, payments = crm.state.orders, crm.state.payments
    paid_orders = {p["order"]["externalId"] for p in payments.values() if p["status"] == "paid"}
    prepayed = {g for g, o in orders.items() if o.get("status") == "prepayed"}
    unpaid_new = all(o.get("status") == "new" for g, o in orders.items() if g not in paid)
    print(
        f"  RetailCRM holds {len(orders)} of {placed} orders, {len(crm.state.customers)} "
        f"customers, {len(payments)} payments of {len(paid)} paid orders (no duplicates: each "
        f"externalId once)  {ok(len(orders) == placed == len(crm.state.customers))} "
        f"{ok(len(payments) == len(paid))}"
    )
    print(
        f"  paid orders prepayed with their payment paid  {ok(prepayed == paid == paid_orders)}"
        f"; the others new  {ok(unpaid_new)}"
    )
    violations = getattr(crm, "order_violations", None)
    shown = "not recorded" if violations is None else len(violations)
    print(
        f"  per-aggregate order: refusals for order (order before customer, payment before "
        f"order) {shown}  {ok(violations == [])}"
    )


def calls_line(name: str, sim: Simulator, orders: int) -> str:
    statuses = Counter(r.status for r in sim.requests)
    by_status = ", ".join(f"{s}: {n}" for s, n in sorted(statuses.items(), key=str))
    return (
        f"  {name:9} {len(sim.requests):5} calls = {len(sim.requests) / orders:4.2f} per order "
        f"({by_status})"
    )


def ok(condition: bool) -> str:
    return "ok" if condition else "WRONG"


async def main() -> None:
    configure_logging(level="WARNING")
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=1000, help="orders per phase")
    parser.add_argument("--phases", default="burst,crm-outage", help=f"of {', '.join(PHASES)}")
    parser.add_argument("--outage", type=float, default=60, help="seconds a system is down")
    parser.add_argument("--crm-rps", type=float, default=Settings().retailcrm_max_rps)
    parser.add_argument("--budget", type=float, default=600, help="seconds of placing and waiting")
    parser.add_argument("--redis", default=REDIS_URL)
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432")
    args = parser.parse_args()
    unknown = set(args.phases.split(",")) - set(PHASES)
    if unknown:
        parser.error(f"unknown phases {sorted(unknown)}; choose from {', '.join(PHASES)}")
    name = f"vitrina_bench_{uuid.uuid4().hex[:8]}"
    admin: Any = await asyncpg.connect(f"{args.postgres}/postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    started = time.perf_counter()
    try:
        await run(f"{args.postgres}/{name}", args)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
        print(f"run took {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    asyncio.run(main())
