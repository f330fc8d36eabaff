"""Partners' webhooks under load: one healthy, one slow and one dead receiver, and 1C beside them.

Creates a throwaway PostgreSQL database (migrated, one warehouse, one variant with plenty of
stock, written through the catalog services), starts the 1C simulator and three partner
receivers on 127.0.0.1 (app/devtools/simulators/partner.py: they check every signature), and
in this process the 1C delivery worker and the partners' worker, with a real arq queue so the
after-commit wake-up runs. Then, orders placed through the services (every 3rd paid):

    A. baseline  N orders, no partner subscribed: 1C's commit→delivery delay
    B. partners  N more orders with three subscriptions to every order event:
                 healthy (answers at once), slow (2 s per answer), dead (its port closed)

Reports for B: the healthy receiver's delay from each event's creation to its arrival (p50,
p99, max; the issue asks p99 ≤ 1 s) and whether it got every event exactly once, signed;
how far the slow one got and that it never had more than its 4 requests in flight; what the
dead one cost (requests tried, the subscription's state); and 1C's delay beside A's.
RetailCRM is not configured (bench/sync_drain.py measures it): its events wait, pending.

    uv run python bench/partner_webhooks.py [--orders 1000] [--budget 120]
        [--postgres postgres://postgres@127.0.0.1:5432] [--redis redis://127.0.0.1:6379/8]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
from redis.asyncio import Redis

from app.db import close_db, init_db, run_migrations
from app.devtools.simulators.onec import OneCSimulator
from app.devtools.simulators.partner import PartnerReceiver
from app.devtools.simulators.server import LocalServer
from app.domain.access import Scope
from app.domain.orders import DeliveryKind
from app.domain.outbox import EventKind, EventState, Target
from app.integrations.payments.dummy import SUCCEEDS, DummyProvider
from app.logging import configure_logging
from app.models.outbox import OutboxEvent
from app.models.partners import WebhookSubscription
from app.services.catalog import intake as catalog
from app.services.catalog.products import ProductData, VariantData
from app.services.checkout import carts
from app.services.checkout.orders import place_order
from app.services.inventory.stock_snapshots import RawStockSnapshot, apply_stock_snapshots
from app.services.partners.apps import create_partner
from app.services.partners.subscriptions import UrlRules, create_subscription
from app.services.payments.start import pay_order
from app.settings import Settings
from app.workers.partners import build_partner_worker
from app.workers.queue import ArqQueue
from app.workers.settings import WorkerGroup, build_delivery_worker

PAY_EVERY = 3
SLOW_SECONDS = 2.0
ORDER_EVENTS = [EventKind.ORDER_PLACED, EventKind.ORDER_STATUS_CHANGED, EventKind.ORDER_PAID]


def guid(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"vitrina-bench-partners/{name}"))


WAREHOUSE, PRODUCT, VARIANT = guid("warehouse"), guid("product"), guid("variant")


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


async def place_orders(start: int, count: int, jobs: ArqQueue) -> float:
    """`count` shoppers one after another (cart, contact, courier, order; every 3rd pays)."""
    started, provider = time.perf_counter(), DummyProvider()
    for n in range(start, start + count):
        cart = await carts.create_cart()
        now = datetime.now(UTC)
        await carts.set_line(cart_token=cart.token, variant_guid=VARIANT, quantity=1, now=now)
        await carts.set_contact(
            cart_token=cart.token,
            email=f"b{n}@example.com",
            phone=None,
            first_name="А",
            last_name="",
        )
        await carts.set_delivery(
            cart_token=cart.token,
            kind=DeliveryKind.COURIER,
            address="Москва",
            shop_guid=None,
            now=now,
        )
        placed = await place_order(
            cart_token=cart.token,
            idempotency_key=f"bench-partners-{n:06d}",
            now=datetime.now(UTC),
            payment_timeout=timedelta(minutes=15),
            jobs=jobs,
        )
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
    return time.perf_counter() - started


@dataclass
class Receiver:
    name: str
    simulator: PartnerReceiver
    server: LocalServer
    subscription_id: int = 0


async def subscribe(receivers: list[Receiver]) -> None:
    rules = UrlRules(require_https=False, allow_loopback=True)
    key = Settings(environment="test").resolved_partner_secret_key
    for r in receivers:
        partner = await create_partner(
            name=r.name, contact_email=f"{r.name}@partner.example", now=datetime.now(UTC)
        )
        made = await create_subscription(
            partner_id=partner.id,
            url=f"{r.server.url}/{r.name}",
            events=ORDER_EVENTS,
            collection_guid=None,
            scopes=frozenset({Scope.ADMIN}),
            rules=rules,
            key=key,
            now=datetime.now(UTC),
        )
        r.simulator.secret, r.subscription_id = made.secret, made.subscription.id


def quantiles(values: list[float]) -> str:
    if not values:
        return "none"
    ordered = sorted(values)
    p = (
        statistics.quantiles(ordered, n=100, method="inclusive")
        if len(ordered) > 1
        else ordered * 99
    )
    return f"p50 {p[49]:.3f} s, p99 {p[98]:.3f} s, max {ordered[-1]:.3f} s ({len(values)} events)"


async def onec_delays(since_id: int, until_id: int) -> list[float]:
    rows = await OutboxEvent.filter(
        target=Target.ONEC, id__gt=since_id, id__lte=until_id, state=EventState.DELIVERED
    ).values_list("created_at", "delivered_at")
    return [(d - c).total_seconds() for c, d in rows]


async def wait(condition: Callable[[], Awaitable[bool]], budget: float) -> bool:
    deadline = time.monotonic() + budget
    while time.monotonic() < deadline:
        if await condition():
            return True
        await asyncio.sleep(0.2)
    return False


async def onec_done(since_id: int) -> bool:
    return not await OutboxEvent.filter(
        target=Target.ONEC, id__gt=since_id, state=EventState.PENDING
    ).exists()


async def last_id() -> int:
    row = await OutboxEvent.all().order_by("-id").first()
    return row.id if row else 0


async def run(args: argparse.Namespace) -> None:
    admin = await asyncpg.connect(f"{args.postgres}/postgres")
    name = f"vitrina_bench_partners_{uuid.uuid4().hex[:8]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = f"{args.postgres}/{name}"
    redis = Redis.from_url(args.redis)
    await redis.flushdb()
    await redis.aclose()
    try:
        await run_migrations(url)
        await init_db(url)
        try:
            await seed(args.orders * 4)
            await measure(args, url)
        finally:
            await close_db()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def measure(args: argparse.Namespace, url: str) -> None:
    onec = OneCSimulator()
    async with LocalServer(onec.app) as onec_server:
        receivers = []
        for label in ("healthy", "slow", "dead"):
            simulator = PartnerReceiver()
            server = LocalServer(simulator.app)
            await server.start()
            receivers.append(Receiver(label, simulator, server))
        receivers[1].simulator.slow(SLOW_SECONDS)
        settings = Settings(database_url=url, environment="test").model_copy(
            update={
                "onec_url": f"{onec_server.url}/hs/vitrina",
                "onec_username": "vitrina",
                "onec_password": "secret",
            }
        )
        workers = WorkerGroup(
            [
                build_delivery_worker(settings, Target.ONEC, redis_url=args.redis),
                build_partner_worker(settings, redis_url=args.redis),
            ]
        )
        workers.start()
        jobs = ArqQueue(args.redis)
        try:
            await phases(args, receivers, jobs)
        finally:
            await workers.close(grace=1)
            await jobs.aclose()
            await asyncio.sleep(SLOW_SECONDS)  # the slow receiver finishes what it was given
            for r in receivers:
                await r.server.stop()


async def phases(args: argparse.Namespace, receivers: list[Receiver], jobs: ArqQueue) -> None:
    n: int = args.orders
    before_a = await last_id()
    seconds = await place_orders(0, n, jobs)
    await wait(lambda: onec_done(before_a), args.budget)
    after_a = await last_id()
    baseline = await onec_delays(before_a, after_a)
    print(f"A. {n} orders in {seconds:.1f} s ({n / seconds:.0f}/s), no partners")
    print(f"   1C: {quantiles(baseline)}")

    await subscribe(receivers)
    healthy, slow, dead = receivers
    await dead.server.stop()  # connections refused from now on
    paid = sum(1 for k in range(n, 2 * n) if k % PAY_EVERY == 0)
    expected = n + 2 * paid  # order.placed each; order.status_changed and order.paid per payment
    seconds = await place_orders(n, n, jobs)
    started = time.monotonic()

    async def all_healthy() -> bool:
        return len(healthy.simulator.events) >= expected

    got_all = await wait(all_healthy, args.budget)
    drained = time.monotonic() - started
    await wait(lambda: onec_done(after_a), args.budget)
    after_b = await last_id()
    await report(n, seconds, expected, got_all, drained, receivers, after_a, after_b, baseline)


async def report(
    n: int,
    seconds: float,
    expected: int,
    got_all: bool,
    drained: float,
    receivers: list[Receiver],
    after_a: int,
    after_b: int,
    baseline: list[float],
) -> None:
    healthy, slow, dead = receivers
    events = healthy.simulator.events
    rows = await OutboxEvent.filter(
        target=Target.PARTNER, aggregate__startswith=f"partner:{healthy.subscription_id}:"
    ).values_list("event_id", flat=True)
    once = sorted(e.id for e in events) == sorted(str(r) for r in rows)
    print(f"B. {n} orders in {seconds:.1f} s ({n / seconds:.0f}/s), three partner subscriptions")
    print(
        f"   healthy: {len(events)}/{expected} events"
        f"{'' if got_all else ' (budget ran out)'}, drained {drained:.1f} s after the last order; "
        f"each exactly once: {once and not healthy.simulator.repeats}; "
        f"bad signatures: {healthy.simulator.bad_signatures}"
    )
    print(f"            creation → arrival: {quantiles([e.latency for e in events])}")
    print(
        f"   slow ({SLOW_SECONDS:g} s an answer): {len(slow.simulator.events)} events received, "
        f"most requests in flight at once: {slow.simulator.max_in_flight}"
    )
    dead_row = await WebhookSubscription.get(id=dead.subscription_id)
    tried = await OutboxEvent.filter(
        target=Target.PARTNER,
        aggregate__startswith=f"partner:{dead.subscription_id}:",
        attempts__gt=0,
    ).count()
    print(
        f"   dead (port closed): {tried} events tried, failure streak {dead_row.failure_streak}, "
        f"state {dead_row.state.value} (it would be paused after 24 h of failing)"
    )
    print(f"   1C beside them: {quantiles(await onec_delays(after_a, after_b))}")
    print(f"   1C without them (A): {quantiles(baseline)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--budget", type=float, default=120, help="seconds to wait per phase")
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/8")
    configure_logging(level="WARNING", json=False)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
