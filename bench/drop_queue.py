"""A drop behind its waiting room: 5,000 waiters in the pre-queue, 200 units over 20 variants.

Creates a throwaway PostgreSQL database (migrated; one online warehouse; a collection with
queueMode lottery released a few seconds after the pre-queue fills, hold at cart; 20 variants
of 10 units, written through the catalog services) on a redis database of its own (flushed),
then plays the drop in real time in this process:

  - every waiter joins before the release (`join_queue`, its own device), and polls
    `queue_status` when `pollAfter` says (a poll runs the admission tick when one is due, as
    in production: no other process drives the queue);
  - an admitted shopper checks out through the services with the pass: a cart, one unit of a
    variant with stock left (the next one when a size is gone, as a shopper picks another),
    contact, courier, placeOrder; `--abandon` of them never add anything (their pass runs out
    after `--pass-minutes` and admits the next waiter);
  - `--http` of the waiters do all of it over real HTTP against the app served by uvicorn on
    127.0.0.1 (joinQueue, queueStatus, addToCart/placeOrder with X-Queue-Pass);
  - `--subscribe` (a share) of the other waiters do not poll: they listen to the process's
    queue hub (what the `queueStatus` subscription streams: one loop per drop drives them all)
    and hear admission and sell-out pushed.

Figures: the draw's rank correlation with joining order (Spearman, all waiters, and the
admitted ones by admission order), admissions by phase, passes that ran out, orders placed,
units sold vs stock, admissions after the last unit was taken (must be 0), and how long after
the last unit was taken each waiter still in line heard SOLD_OUT (p50, p99, max; ≤ 5 s for all),
polls made and their latency; the books (buffer = Σ reservations). Usage:

    uv run python bench/drop_queue.py [--waiters 5000] [--variants 20] [--units 10]
        [--abandon 0.05] [--pass-minutes 1] [--http 20] [--subscribe 0.5] [--concurrency 64]
        [--redis redis://127.0.0.1:6379/7] [--postgres postgres://postgres@127.0.0.1:5432]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import asyncpg
import httpx
from redis.asyncio import Redis

from app.db import close_db, init_db, run_migrations
from app.devtools.simulators.server import LocalServer
from app.domain.checkout import device_key
from app.domain.errors import DomainError, ErrorCode
from app.domain.orders import DeliveryKind
from app.domain.waiting_room import WaiterState, open_ticket
from app.logging import configure_logging
from app.main import create_app
from app.models.catalog import Collection
from app.models.orders import Order
from app.services import waiting_room
from app.services.catalog import intake as catalog
from app.services.catalog.products import ProductData, VariantData
from app.services.checkout import carts, orders
from app.services.inventory.reservations import buffer_matches_reservations
from app.services.inventory.stock_snapshots import RawStockSnapshot, apply_stock_snapshots
from app.services.jobs import NoQueue
from app.services.waiting_room import QueueGate, RoomConfig, WaiterView
from app.services.waiting_room.hub import QueueHub, hub_for
from app.services.waiting_room.store import Keys, admission_numbers
from app.settings import Settings

T = TypeVar("T")
REDIS_URL = "redis://127.0.0.1:6379/7"
HTTP_ADDRESS = "127.0.0.1"  # the HTTP waiters' address: their device key counts it too
NOTICE = 5.0  # seconds: every waiter hears sold out within this of the last unit taken


def guid(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"vitrina-bench/drop-queue/{name}"))


WAREHOUSE, DROP = guid("warehouse/online"), guid("collection/drop")


@dataclass
class Waiter:
    number: int  # order of joining, 0..
    device_id: str
    over_http: bool
    abandons: bool
    device: str = ""
    token: str = ""
    admitted_at: float | None = None
    sold_out_heard: float | None = None
    bought_at: float | None = None
    expired: bool = False
    listens: bool = False  # pushed by the hub instead of polling


@dataclass
class Run:
    args: argparse.Namespace
    redis: Redis
    config: RoomConfig
    variants: list[str]
    http: httpx.AsyncClient | None
    gate: asyncio.Semaphore
    started: float = field(default_factory=time.monotonic)
    poll_ms: list[float] = field(default_factory=list)
    last_taken: float | None = None
    admitted_at_last_taken: int | None = None
    polls: int = 0
    refused: list[str] = field(default_factory=list)
    intervals: list[float] = field(default_factory=list)  # between a waiter's polls in line
    lag_ms: list[float] = field(default_factory=list)  # how late this process wakes up
    hub: QueueHub | None = None  # the process's queue hub (the app's stream-fed sources)

    async def limited(self, work: Callable[[], Awaitable[T]]) -> T:
        async with self.gate:
            return await work()


# --- the drop ------------------------------------------------------------------------------


async def seed(args: argparse.Namespace, release_at: datetime) -> list[str]:
    await catalog.upsert_warehouses(items=[catalog.WarehouseData(WAREHOUSE, "Online", "online")])
    data = catalog.CollectionData(
        DROP, "Drop", release_at.isoformat(), hold_mode="at_cart", queue_mode="lottery"
    )
    report = await catalog.upsert_collections(items=[data])
    assert not report.problems, report.problems
    variants = [guid(f"variant/{n}") for n in range(args.variants)]
    products = [
        ProductData(
            guid(f"product/{n}"),
            f"Tee {n}",
            [VariantData(variants[n], f"TEE-{n}", "M", "black", "4990.00")],
            collection_guid=DROP,
        )
        for n in range(args.variants)
    ]
    report = await catalog.upsert_products(items=products)
    assert not report.problems, report.problems
    rows = [
        RawStockSnapshot(v, WAREHOUSE, args.units, "2026-01-01T00:00:00+00:00") for v in variants
    ]
    await apply_stock_snapshots(rows=rows, max_rows=len(rows))
    return variants


# --- a waiter through the services ---------------------------------------------------------


async def join(run: Run, waiter: Waiter) -> WaiterView | dict[str, Any]:
    now = datetime.now(UTC)
    if waiter.over_http and run.http:
        return await http_call(run, waiter, JOIN, {"c": DROP}, "joinQueue")
    view = await waiting_room.join_queue(
        redis=run.redis, config=run.config, collection_guid=DROP, device=waiter.device, now=now
    )
    return view


async def ask(run: Run, waiter: Waiter) -> tuple[str, int, str | None]:
    """(state, pollAfter, pass) of one poll."""
    started = time.perf_counter()
    if waiter.over_http and run.http:
        status = await http_call(run, waiter, ASK, {"t": waiter.token}, "queueStatus")
        found = (status["state"].lower(), status["pollAfter"], status["queuePass"])
    else:
        view = await run.limited(
            lambda: waiting_room.queue_status(
                redis=run.redis,
                config=run.config,
                token=waiter.token,
                device=waiter.device,
                now=datetime.now(UTC),
                sources=run.hub.sources if run.hub else None,
            )
        )
        found = (view.state.value, view.poll_after, view.queue_pass)
    run.poll_ms.append((time.perf_counter() - started) * 1000)
    run.polls += 1
    return found


async def wait_in_line(run: Run, waiter: Waiter, first_poll_after: int) -> None:
    delay = first_poll_after + random.random()  # shoppers do not all ask at the same instant
    last: float | None = None
    while True:
        await asyncio.sleep(delay)
        state, poll_after, queue_pass = await ask(run, waiter)
        now = time.monotonic()
        if last is not None and state == WaiterState.WAITING.value:
            run.intervals.append(now - last)
        last = now
        if state == WaiterState.ADMITTED.value and queue_pass:
            waiter.admitted_at = time.monotonic()
            if not waiter.abandons:
                await checkout(run, waiter, queue_pass)
            return
        if state == WaiterState.SOLD_OUT.value and waiter.sold_out_heard is None:
            waiter.sold_out_heard = time.monotonic()
        if state == WaiterState.EXPIRED.value:
            waiter.expired = True
            return
        if run.last_taken and waiter.sold_out_heard and time.monotonic() > run.last_taken + 8:
            return  # heard it; the bench is over
        delay = poll_after


async def listen(run: Run, waiter: Waiter) -> None:
    """A subscriber: the hub pushes each change; nothing is asked."""
    assert run.hub is not None
    ticket = open_ticket(waiter.token, run.config.key)
    assert ticket is not None
    watch = run.hub.watch(ticket, waiter.token)
    try:
        async for view in watch:
            if view.state is WaiterState.ADMITTED and view.queue_pass:
                waiter.admitted_at = time.monotonic()
                if not waiter.abandons:
                    await checkout(run, waiter, view.queue_pass)
                return
            if view.state is WaiterState.SOLD_OUT:
                waiter.sold_out_heard = time.monotonic()
                return  # nothing free, nothing held that could come back
            if view.state is WaiterState.EXPIRED:
                waiter.expired = True
                return
    finally:
        await watch.aclose()


async def checkout(run: Run, waiter: Waiter, queue_pass: str) -> None:
    try:
        if waiter.over_http:
            await http_checkout(run, waiter, queue_pass)
        else:
            await service_checkout(run, waiter, queue_pass)
    except DomainError as error:
        run.refused.append(error.code.value)


async def service_checkout(run: Run, waiter: Waiter, queue_pass: str) -> None:
    gate = QueueGate(queue_pass, run.config.key, run.redis)
    now = datetime.now(UTC)
    cart = await carts.create_cart(device=waiter.device)
    for variant in random.sample(run.variants, len(run.variants)):
        try:
            await carts.add_to_line(
                cart_token=cart.token,
                variant_guid=variant,
                quantity=1,
                now=now,
                device=waiter.device,
                queue_gate=gate,
            )
            break
        except DomainError as error:
            if error.code is not ErrorCode.INSUFFICIENT_STOCK:
                raise
    else:
        return  # nothing left in any size
    await carts.set_contact(
        cart_token=cart.token,
        email=f"w{waiter.number}@example.com",
        phone=None,
        first_name="Анна",
        last_name="",
    )
    await carts.set_delivery(
        cart_token=cart.token, kind=DeliveryKind.COURIER, address="Москва", shop_guid=None, now=now
    )
    await orders.place_order(
        cart_token=cart.token,
        idempotency_key=f"bench-key-{waiter.number:06d}",
        now=datetime.now(UTC),
        payment_timeout=timedelta(minutes=15),
        jobs=NoQueue(),
        device=waiter.device,
        queue_gate=gate,
    )
    await taken(run, waiter)


async def taken(run: Run, waiter: Waiter) -> None:
    waiter.bought_at = time.monotonic()
    if await Order.all().count() >= run.args.variants * run.args.units:
        run.last_taken = waiter.bought_at
        meta = await run.redis.hget(Keys(await collection_id()).meta, "admitted")  # type: ignore[misc]
        run.admitted_at_last_taken = int(meta or 0)


# --- a waiter over HTTP --------------------------------------------------------------------

STATUS = "state token position pollAfter queuePass"
ERRORS = "errors { code path message }"
JOIN = f"mutation J($c: ID!) {{ joinQueue(collectionId: $c) {{ status {{ {STATUS} }} {ERRORS} }} }}"
ASK = f"query Q($t: String!) {{ queueStatus(token: $t) {{ status {{ {STATUS} }} {ERRORS} }} }}"
CREATE = f"mutation {{ createCart {{ cart {{ token }} {ERRORS} }} }}"
ADD = f"""mutation A($cart: String!, $v: ID!) {{ addToCart(cartToken: $cart, variantId: $v) {{
  cart {{ token }} {ERRORS} }} }}"""
CONTACT = f"""mutation C($cart: String!, $e: String!) {{ setCartContact(cartToken: $cart,
  contact: {{email: $e}}) {{ cart {{ token }} {ERRORS} }} }}"""
DELIVERY = f"""mutation D($cart: String!) {{ setCartDelivery(cartToken: $cart,
  delivery: {{method: COURIER, address: "Москва"}}) {{ cart {{ token }} {ERRORS} }} }}"""
PLACE = f"""mutation P($cart: String!, $k: String!) {{ placeOrder(cartToken: $cart,
  idempotencyKey: $k) {{ order {{ number }} {ERRORS} }} }}"""


async def http_call(
    run: Run,
    waiter: Waiter,
    document: str,
    variables: dict[str, Any],
    name: str,
    queue_pass: str | None = None,
) -> dict[str, Any]:
    assert run.http is not None
    headers = {"X-Device-Id": waiter.device_id}
    if queue_pass:
        headers["X-Queue-Pass"] = queue_pass
    response = await run.http.post(
        "/graphql", json={"query": document, "variables": variables}, headers=headers
    )
    body = response.json()
    answer: dict[str, Any] = body["data"][name]
    if answer["errors"]:
        first = answer["errors"][0]
        raise DomainError(ErrorCode(first["code"]), first["message"], tuple(first["path"]))
    key = "status" if name in {"joinQueue", "queueStatus"} else None
    return answer[key] if key else answer


async def http_checkout(run: Run, waiter: Waiter, queue_pass: str) -> None:
    cart = (await http_call(run, waiter, CREATE, {}, "createCart"))["cart"]["token"]
    for variant in random.sample(run.variants, len(run.variants)):
        try:
            await http_call(run, waiter, ADD, {"cart": cart, "v": variant}, "addToCart", queue_pass)
            break
        except DomainError as error:
            if error.code is not ErrorCode.INSUFFICIENT_STOCK:
                raise
    else:
        return
    email = f"w{waiter.number}@example.com"
    await http_call(run, waiter, CONTACT, {"cart": cart, "e": email}, "setCartContact")
    await http_call(run, waiter, DELIVERY, {"cart": cart}, "setCartDelivery")
    key = f"bench-http-{waiter.number:06d}"
    await http_call(run, waiter, PLACE, {"cart": cart, "k": key}, "placeOrder", queue_pass)
    await taken(run, waiter)


# --- figures -------------------------------------------------------------------------------

_COLLECTION: list[int] = []


async def collection_id() -> int:
    if not _COLLECTION:
        _COLLECTION.append((await Collection.get(guid=DROP)).id)
    return _COLLECTION[0]


def spearman(xs: list[int], ys: list[int]) -> float:
    """Rank correlation of two lists without ties (both are permutations of ranks)."""

    def ranks(values: list[int]) -> list[int]:
        order = sorted(range(len(values)), key=lambda i: values[i])
        found = [0] * len(values)
        for rank, i in enumerate(order):
            found[i] = rank
        return found

    rx, ry = ranks(xs), ranks(ys)
    n = len(xs)
    if n < 2:
        return float("nan")
    d2 = sum((a - b) ** 2 for a, b in zip(rx, ry, strict=True))
    return 1 - 6 * d2 / (n * (n * n - 1))


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def drawn_places(run: Run) -> dict[int, int]:
    """ticket → its place after the draw (admitted first, by admission number; then the line)."""
    keys = Keys(await collection_id())
    admitted = await admission_numbers(run.redis, keys)
    line = [int(t) for t in await run.redis.zrange(keys.line, 0, -1)]
    places = {t: n for t, n in admitted.items()}
    for rank, t in enumerate(line, start=len(admitted) + 1):
        places[t] = rank
    return places


async def report(run: Run, waiters: list[Waiter], draw: dict[int, int]) -> None:
    args = run.args
    stock = args.variants * args.units
    keys = Keys(await collection_id())
    admitted_total = int(await run.redis.hget(keys.meta, "admitted") or 0)  # type: ignore[misc]
    statuses = list((await run.redis.hgetall(keys.status)).values())  # type: ignore[misc]
    expired = statuses.count(b"x")
    numbers = await admission_numbers(run.redis, keys)
    placed = await Order.all().count()
    in_line = [w for w in waiters if w.admitted_at is None]
    heard = [
        w.sold_out_heard - run.last_taken
        for w in in_line
        if w.sold_out_heard is not None and run.last_taken is not None
    ]
    heard_pushed = [
        w.sold_out_heard - run.last_taken
        for w in in_line
        if w.listens and w.sold_out_heard is not None and run.last_taken is not None
    ]
    listening = sum(1 for w in in_line if w.listens)
    tickets = sorted(draw)
    print(
        f"waiters {len(waiters)} ({args.http} over HTTP), stock {stock} units over "
        f"{args.variants} variants, pass {args.pass_minutes} min, abandon {args.abandon:.0%}"
    )
    print(
        f"draw: Spearman(join order, place after the draw) over all {len(tickets)} = "
        f"{spearman(tickets, [draw[t] for t in tickets]):+.4f}"
    )
    by_admission = sorted(numbers, key=lambda t: numbers[t])
    print(
        f"admitted: Spearman(join order, admission order) over {len(by_admission)} = "
        f"{spearman(by_admission, list(range(len(by_admission)))):+.4f}"
    )
    print(
        f"admissions {admitted_total}; passes run out unused {expired}"
        f"; orders placed {placed}; units sold {placed} of {stock}; checkout refusals "
        f"{dict((c, run.refused.count(c)) for c in set(run.refused))}"
    )
    after = (admitted_total - run.admitted_at_last_taken) if run.admitted_at_last_taken else None
    print(f"admissions after the last unit was taken: {after}")
    reached = sum(1 for h in heard if h <= NOTICE)
    print(
        f"sold-out notice: {len(heard)} of {len(in_line)} waiters in line heard it; "
        f"within {NOTICE:g} s: {reached} ({reached / max(1, len(in_line)):.1%}); after the "
        f"last unit: p50 {pct(heard, 0.5):.2f} s, p99 {pct(heard, 0.99):.2f} s, "
        f"max {max(heard, default=float('nan')):.2f} s"
    )
    if listening:
        pushed = sum(1 for h in heard_pushed if h <= NOTICE)
        print(
            f"  of them subscribers (pushed, no polls): {len(heard_pushed)} of {listening} heard "
            f"it, within {NOTICE:g} s: {pushed}; p50 {pct(heard_pushed, 0.5):.2f} s, p99 "
            f"{pct(heard_pushed, 0.99):.2f} s, max {max(heard_pushed, default=float('nan')):.2f} s"
            f"; hub rounds {run.hub.rounds if run.hub else 0}"
        )
    print(
        f"polls {run.polls}, latency p50 {pct(run.poll_ms, 0.5):.1f} ms, p99 "
        f"{pct(run.poll_ms, 0.99):.1f} ms; run {time.monotonic() - run.started:.0f} s"
    )
    print(
        f"a waiter's polls in line came every p50 {pct(run.intervals, 0.5):.2f} s, p99 "
        f"{pct(run.intervals, 0.99):.2f} s (pollAfter 3 s); this process woke late by p50 "
        f"{pct(run.lag_ms, 0.5):.0f} ms, p99 {pct(run.lag_ms, 0.99):.0f} ms, max "
        f"{max(run.lag_ms, default=float('nan')):.0f} ms (the bench's own load)"
    )
    print(f"books balanced: {await buffer_matches_reservations() == []}")


# --- the run -------------------------------------------------------------------------------


async def play(url: str, args: argparse.Namespace) -> None:
    await run_migrations(url)
    await init_db(url)
    redis = Redis.from_url(args.redis, max_connections=args.concurrency * 2)
    await redis.flushdb()
    settings = Settings(
        environment="test",
        database_url=url,
        queue_pass_minutes=args.pass_minutes,
        queue_secret_key="bench-queue-key",
    )
    config = RoomConfig.of(settings)
    app = create_app(settings, redis_url=args.redis, manage_db=False)
    server = LocalServer(app)
    release_at = datetime.now(UTC) + timedelta(minutes=30)  # moved once the pre-queue is full
    variants = await seed(args, release_at)
    async with app.router.lifespan_context(app):
        await server.start()
        http = httpx.AsyncClient(base_url=server.url, timeout=30)
        run = Run(args, redis, config, variants, http, asyncio.Semaphore(args.concurrency))
        run.hub = hub_for(redis, config, app.state.stock_feed)  # as the app's resolvers use
        try:
            await _play(run, args)
            await poll_cost(app, run, args.cost_polls)
        finally:
            await http.aclose()
            await server.stop()
            await redis.aclose()
            await close_db()


async def _play(run: Run, args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    http_ids = set(rng.sample(range(args.waiters), min(args.http, args.waiters)))
    waiters = []
    for n in range(args.waiters):
        device_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        waiter = Waiter(n, device_id, n in http_ids, rng.random() < args.abandon)
        waiter.device = device_key(device_id, HTTP_ADDRESS)
        waiter.listens = not waiter.over_http and rng.random() < args.subscribe
        waiters.append(waiter)
    joined_at = time.perf_counter()
    for waiter in waiters:  # in order: the join order the lottery must not follow
        view = await join(run, waiter)
        waiter.token = (view.token if isinstance(view, WaiterView) else view["token"]) or ""
    print(f"{len(waiters)} joined the pre-queue in {time.perf_counter() - joined_at:.1f} s")
    release = datetime.now(UTC) + timedelta(seconds=2)
    await Collection.filter(guid=DROP).update(release_at=release)
    await run.redis.hset(
        Keys(await collection_id()).meta, "release_ms", str(int(release.timestamp() * 1000))
    )  # type: ignore[misc]
    run.started = time.monotonic()
    probe = asyncio.create_task(loop_lag(run))
    tasks = [
        asyncio.create_task(listen(run, w) if w.listens else wait_in_line(run, w, 2))
        for w in waiters
    ]
    draw: dict[int, int] = {}
    while not draw:
        await asyncio.sleep(0.5)
        if await run.redis.hget(Keys(await collection_id()).meta, "drawn") == b"1":  # type: ignore[misc]
            draw = await drawn_places(run)
    _, pending = await asyncio.wait(tasks, timeout=args.budget)
    probe.cancel()
    for task in pending:
        task.cancel()
    if pending:
        print(f"{len(pending)} waiters still polling after the budget of {args.budget:g} s")
    await report(run, waiters, draw)


async def poll_cost(app: Any, run: Run, polls: int) -> None:
    """CPU of one queueStatus through the whole app (GraphQL included), in this process, one
    poll at a time after the drop: what capacity planning multiplies by waiters / pollAfter."""
    device_id = str(uuid.uuid4())
    transport = httpx.ASGITransport(app=app, client=(HTTP_ADDRESS, 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        waiter = Waiter(-1, device_id, True, False)
        run.http, saved = client, run.http
        try:
            waiter.token = (await http_call(run, waiter, JOIN, {"c": DROP}, "joinQueue"))["token"]
            started, cpu = time.perf_counter(), time.process_time()
            for _ in range(polls):
                await http_call(run, waiter, ASK, {"t": waiter.token}, "queueStatus")
            cpu_ms = (time.process_time() - cpu) / polls * 1000
            wall_ms = (time.perf_counter() - started) / polls * 1000
        finally:
            run.http = saved
    print(
        f"one queueStatus through the app: {cpu_ms:.2f} ms CPU, {wall_ms:.2f} ms wall "
        f"({polls} in a row, in-process ASGI); 5,000 waiters polling every 3 s need "
        f"{5000 / 3 * cpu_ms / 1000:.1f} cores of API processes"
    )


async def loop_lag(run: Run) -> None:
    """How late this process's event loop wakes a 50 ms sleep: the bench's own overload."""
    while True:
        started = time.perf_counter()
        await asyncio.sleep(0.05)
        run.lag_ms.append((time.perf_counter() - started - 0.05) * 1000)


async def main() -> None:
    configure_logging(level="ERROR")
    parser = argparse.ArgumentParser()
    parser.add_argument("--waiters", type=int, default=5000)
    parser.add_argument("--variants", type=int, default=20)
    parser.add_argument("--units", type=int, default=10, help="per variant")
    parser.add_argument("--abandon", type=float, default=0.05, help="admitted who never buy")
    parser.add_argument("--pass-minutes", type=int, default=1)
    parser.add_argument("--http", type=int, default=20, help="waiters over real HTTP")
    parser.add_argument("--concurrency", type=int, default=64, help="service calls at once")
    parser.add_argument("--budget", type=float, default=300, help="seconds at most")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--subscribe", type=float, default=0.5, help="share of service waiters that listen"
    )
    parser.add_argument("--cost-polls", type=int, default=500, help="polls timed for CPU")
    parser.add_argument("--redis", default=REDIS_URL)
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432")
    args = parser.parse_args()
    name = f"vitrina_bench_{uuid.uuid4().hex[:8]}"
    admin: Any = await asyncpg.connect(f"{args.postgres}/postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        await play(f"{args.postgres}/{name}?maxsize=20", args)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
