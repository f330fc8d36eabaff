"""Shop confirmation in Slack on a compressed clock: 500 shop-served orders, shop staff who
confirm, decline or stay silent, and every request final in time (issue 12).

Creates a throwaway PostgreSQL database (migrated), loads the demo brand «Лён и Лес» (an online
warehouse and three shops with Slack channels) and gives a seeded set of its variants new
figures through the 1C intake: none online, units in all three shops, in two or in one, so
orders are served from shops and a decline has somewhere to go, or nowhere. Starts the Slack
simulator and the app (uvicorn: the real `/integrations/slack/actions`) on 127.0.0.1, and the
worker group in this process with a real arq queue (1C and RetailCRM are not configured, so
their delivery workers are left out: bench/sync_drain.py measures them).

One clock runs `--speed` times faster than the wall clock (default 40: the 20-minute window
lasts 30 s, and the checks' minute 1.5 s, above arq's 0.5 s poll and a busy machine's stalls;
at 60 a 1 s stall already makes a request late). The app, the workers
(`build_workers(clock=...)`: deadline and reminder jobs, sweeps, outbox, the Slack sender's
pace) and the services called here all read it; Slack's limit of 1 message/s per channel is
compressed alike. Then:

- shoppers: `--orders` orders arrive over `--minutes` compressed minutes, each placed and paid
  (dummy provider) through the services; 1 or 2 units of one variant, some for pickup; a
  sold-out variant is refused at checkout and the shopper picks another. Halfway, 1C reports
  a delivery to the online warehouse for a few variants (offered no more), so some declined
  lines move online.
- staff: for each posted line, seeded: confirm after a random delay, decline with a random
  reason, or stay silent (some of the silent click Confirm after the deadline, which must
  change nothing); each click is the simulator's signed block_actions POST to the app.
- the bench plays the payment poller's refund step for the dummy provider (its payments live
  in this process, so the workers' poller leaves them alone): refunds for missing units go out.

Shoppers, app and workers share this process (IN_FLIGHT shoppers at once, a pool of POOL
connections): on a busy machine a wall second is a compressed minute, so the figures say how
much CPU the run had and the load average.

Checks, each PASS/FAIL: every request CLOSED, each by its deadline (or, never posted, the post
timeout) + 1 compressed minute; no decision after a deadline; 0 oversold (sampled through the
run and at the end); buffer balanced (`buffer_matches_reservations`); refunds = price ×
unavailable units, issued; orders READY_FOR_SHIPPING / CANCELLED as their lines say. Then the
figures. Usage:

    uv run python bench/shop_confirmation.py [--orders 500] [--speed 40] [--minutes 45]
        [--seed 1] [--budget SECONDS] [--redis redis://127.0.0.1:6379/4]
        [--postgres postgres://postgres@127.0.0.1:5432] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
from redis.asyncio import Redis
from tortoise.expressions import F

from app.db import close_db, init_db, run_migrations
from app.devtools.demo_catalogue import COLLECTIONS, WAREHOUSES
from app.devtools.demo_data import demo_guid, demo_products, load_demo_data
from app.devtools.simulators.server import LocalServer
from app.devtools.simulators.slack import SlackSimulator
from app.domain.errors import DomainError, ErrorCode
from app.domain.orders import DeliveryKind, OrderStatus
from app.domain.outbox import EventState, Target
from app.domain.payments import RefundStatus
from app.domain.reservations import SERVING_ORDER, ShopConfirmation
from app.domain.shop_confirmation import (
    DeclineReason,
    LineState,
    RequestState,
    nothing_to_ship,
    order_settled,
)
from app.integrations.payments.dummy import SUCCEEDS, DummyProvider
from app.logging import configure_logging
from app.main import create_app
from app.models.catalog import WarehouseKind
from app.models.orders import Order, OrderLine, Payment, Refund
from app.models.outbox import OutboxEvent
from app.models.shops import ShopRequest, ShopRequestLine
from app.models.stock import Reservation, StockLevel
from app.services.checkout import carts
from app.services.checkout.orders import PlacedOrder, place_order
from app.services.inventory.reservations import buffer_matches_reservations
from app.services.inventory.stock_snapshots import RawStockSnapshot, apply_stock_snapshots
from app.services.jobs import JobQueue
from app.services.outbox.record import delivery_queue
from app.services.payments.apply import issue_refund
from app.services.payments.start import pay_order
from app.services.shops.moving import MOVED_ON
from app.services.shops.progress import MISSING_UNITS, line_states
from app.settings import Settings
from app.slack_actions import SLACK_ACTIONS_PATH
from app.workers.clock import WorkerClock
from app.workers.queue import ArqQueue
from app.workers.settings import WorkerGroup, build_workers

TOKEN, SECRET = "xoxb-bench-token", "bench-signing-secret"
SHOPS = [w for w in WAREHOUSES if w.kind == "shop"]
ONLINE = demo_guid("warehouse", next(w.key for w in WAREHOUSES if w.kind == "online"))
CONFIRM, DECLINE, LATE = 0.6, 0.2, 0.3  # of lines; the rest silent; of the silent, late clickers
TWO_UNITS, PICKUP = 0.15, 0.1  # of orders
VARIANTS, RESTOCKED, DELIVERED = 60, 6, 3  # variants re-stocked; of them 1C delivers online
IN_FLIGHT, POOL = 8, 20  # shoppers checking out at once; database connections of this process
POLL = 0.05  # wall seconds between looks at the simulator and the database


# --- the catalogue ---------------------------------------------------------------------------


@dataclass
class Offer:
    """What shoppers may buy: variant guid → shop guids holding it; refused ones drop out."""

    shops: dict[str, list[str]]
    restocked: list[str]

    def pick(self, rng: random.Random) -> str:
        return rng.choice(sorted(self.shops))


def shop_guids() -> list[str]:
    return [demo_guid("warehouse", w.key) for w in SHOPS]


def one_c_now() -> str:
    """1C's clock for its stock figures: the wall clock (only ours is compressed), which 1C's
    intake checks `asOf` against."""
    return datetime.now(UTC).isoformat()


async def seed(rng: random.Random) -> Offer:
    """The demo brand, then new 1C figures for VARIANTS released variants: shops only."""
    await load_demo_data(now=datetime.now(UTC))
    released = {demo_guid("collection", c.key) for c in COLLECTIONS if c.days_from_now < 0}
    variants = [
        v
        for p in demo_products()
        if p.collection_guid is None or p.collection_guid in released
        for v in p.variants
    ]
    chosen = rng.sample(variants, VARIANTS)
    rows, holding, as_of = [], {}, one_c_now()
    for index, variant in enumerate(chosen):
        spread = 3 if index < VARIANTS * 0.6 else 2 if index < VARIANTS * 0.85 else 1
        holding[variant.guid] = rng.sample(shop_guids(), spread)
        rows.append(RawStockSnapshot(variant.guid, ONLINE, 0, as_of))
        for shop in shop_guids():
            units = rng.randint(3, 8) if shop in holding[variant.guid] else 0
            rows.append(RawStockSnapshot(variant.guid, shop, units, as_of))
    report = await apply_stock_snapshots(rows=rows, max_rows=len(rows))
    assert not report.problems, report.problems
    return Offer(holding, [v.guid for v in chosen[:RESTOCKED]])


async def deliver_online(offer: Offer) -> None:
    """1C: a delivery reached the online warehouse; those variants are offered no more (new
    orders would be served online), but declined lines of them now move there."""
    rows = [RawStockSnapshot(g, ONLINE, DELIVERED, one_c_now()) for g in offer.restocked]
    report = await apply_stock_snapshots(rows=rows, max_rows=len(rows))
    assert not report.problems, report.problems
    for guid in offer.restocked:
        offer.shops.pop(guid, None)


# --- shoppers --------------------------------------------------------------------------------


@dataclass
class Shoppers:
    clock: WorkerClock
    jobs: JobQueue
    provider: DummyProvider
    offer: Offer
    rng: random.Random
    placed: list[int] = field(default_factory=list)  # order ids
    refused: int = 0  # sold out at checkout: the shopper chose another variant
    pickups: int = 0
    two_units: int = 0
    online_only: int = 0  # served without any shop: not a shop-served order
    started: float = 0.0
    finished: float = 0.0

    async def run(self, orders: int, minutes: float) -> None:
        """`orders` shoppers arrive at seeded instants over `minutes` compressed minutes; at
        most IN_FLIGHT of them are checking out at once."""
        self.started = time.monotonic()
        span = self.clock.wall_seconds(minutes * 60)
        arrivals = sorted(self.rng.uniform(0, span) for _ in range(orders))
        gate, shoppers = asyncio.Semaphore(IN_FLIGHT), []
        for n, at in enumerate(arrivals):
            await asyncio.sleep(max(0.0, self.started + at - time.monotonic()))
            if n == orders // 2:
                await self.between_shoppers(gate, deliver_online(self.offer))
            shopper = random.Random(self.rng.random())  # the same choices whatever the timing
            shoppers.append(asyncio.create_task(self.shop(n, shopper, gate)))
        await asyncio.gather(*shoppers)
        self.finished = time.monotonic()

    @staticmethod
    async def between_shoppers(gate: asyncio.Semaphore, work: Awaitable[None]) -> None:
        """Do `work` while nobody is checking out (a shopper who chose before it must not be
        served by what it changed)."""
        for _ in range(IN_FLIGHT):
            await gate.acquire()
        try:
            await work
        finally:
            for _ in range(IN_FLIGHT):
                gate.release()

    async def shop(self, n: int, rng: random.Random, gate: asyncio.Semaphore) -> None:
        """One shopper: tries variants until one is in stock, places and pays the order."""
        quantity = 2 if rng.random() < TWO_UNITS else 1
        async with gate:
            while self.offer.shops:
                guid = self.offer.pick(rng)
                pickup = rng.choice(self.offer.shops[guid]) if rng.random() < PICKUP else None
                placed = await self.place(n, guid, quantity, pickup)
                if placed is None and pickup is not None:
                    placed = await self.place(n, guid, quantity, None)  # not there: a courier
                if placed is not None:
                    await self.pay(placed, pickup is not None, quantity)
                    return
                self.refused += 1
                self.offer.shops.pop(guid, None)

    async def place(self, n: int, guid: str, quantity: int, pickup: str | None) -> Order | None:
        try:
            return (await self._place(n, guid, quantity, pickup)).order
        except DomainError as error:
            if error.code is not ErrorCode.INSUFFICIENT_STOCK:
                raise
            return None

    async def _place(self, n: int, guid: str, quantity: int, pickup: str | None) -> PlacedOrder:
        cart = await carts.create_cart()
        now = self.clock.now()
        await carts.set_line(cart_token=cart.token, variant_guid=guid, quantity=quantity, now=now)
        await carts.set_contact(
            cart_token=cart.token,
            email=f"buyer{n}@example.com",
            phone=None,
            first_name="Анна",
            last_name="",
        )
        await carts.set_delivery(
            cart_token=cart.token,
            kind=DeliveryKind.PICKUP if pickup else DeliveryKind.COURIER,
            address="" if pickup else "Москва, Тверская, 7",
            shop_guid=pickup,
            now=now,
        )
        return await place_order(
            cart_token=cart.token,
            idempotency_key=f"bench-order-{uuid.uuid4().hex}",
            now=self.clock.now(),
            payment_timeout=timedelta(minutes=15),
            jobs=self.jobs,
        )

    async def pay(self, order: Order, pickup: bool, quantity: int) -> None:
        await pay_order(
            order_token=order.token,
            idempotency_key="pay-attempt-1",
            provider=self.provider,
            card_number=SUCCEEDS,
            return_url="https://shop.example/",
            now=self.clock.now(),
            jobs=self.jobs,
        )
        self.placed.append(order.id)
        self.pickups += pickup
        self.two_units += quantity == 2
        shop_lines = Reservation.filter(
            order_line__order_id=order.id, shop_confirmation=ShopConfirmation.REQUESTED
        )
        self.online_only += not await shop_lines.exists()


# --- shop staff ------------------------------------------------------------------------------


@dataclass
class Staff:
    """People in the shop channels: each posted line gets one seeded fate."""

    sim: SlackSimulator
    clock: WorkerClock
    window: timedelta
    seed: int
    cursor: Counter[str] = field(default_factory=Counter)  # messages looked at, per channel
    intents: Counter[str] = field(default_factory=Counter)
    late: Counter[str] = field(default_factory=Counter)  # after the deadline: what came back
    statuses: Counter[int | str | None] = field(default_factory=Counter)  # answers to clicks
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def watch(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            for channel, messages in list(self.sim.messages.items()):
                fresh = messages[self.cursor[channel] :]  # messages are only ever appended
                self.cursor[channel] += len(fresh)
                for message in fresh:
                    if message.thread_ts is None:  # not a reminder in a thread
                        self.plan(channel, message.ts, message.blocks)
            await asyncio.sleep(POLL)

    def plan(self, channel: str, ts: str, blocks: list[dict[str, Any]]) -> None:
        seen_at = self.clock.now()
        for block in blocks:
            block_id = str(block.get("block_id", ""))
            if block.get("type") != "actions" or not block_id.startswith("act:"):
                continue  # not a line's buttons
            rng = random.Random(f"{self.seed}:{block_id}")
            intent, action, wait, late = fate(rng)
            self.intents[intent] += 1
            if action is not None:
                at = seen_at + (self.window if late else timedelta()) + wait
                user = f"U0STAFF{rng.randint(1, 4)}"
                press = Press(channel, ts, block_id, action, user, at, late)
                task = asyncio.create_task(self.press(press))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)

    async def press(self, press: Press) -> None:
        wait = (press.at - self.clock.now()).total_seconds()
        await asyncio.sleep(max(0.0, self.clock.wall_seconds(wait)))
        try:
            record = await self.sim.press(
                press.channel, press.ts, press.action, user=press.user, block_id=press.block_id
            )
        except LookupError:  # the message was updated meanwhile: no button left to press
            self.late["the buttons were gone" if press.late else "no button (settled)"] += 1
            return
        except httpx.HTTPError as error:  # Slack shows the person an error after 3 s
            self.statuses[type(error).__name__] += 1
            return
        self.statuses[record.status] += 1
        if press.late:
            self.late[f"clicked, HTTP {record.status}"] += 1


@dataclass(frozen=True)
class Press:
    channel: str
    ts: str
    block_id: str
    action: str  # the button's action_id
    user: str
    at: datetime  # on the compressed clock
    late: bool  # after the deadline


def fate(rng: random.Random) -> tuple[str, str | None, timedelta, bool]:
    """What a person does with one line: (intent, button or None, after how long (from the
    message, or from its deadline if late), late)."""
    draw = rng.random()
    if draw < CONFIRM:
        return "confirm", "confirm", timedelta(minutes=rng.uniform(0.3, 18)), False
    if draw < CONFIRM + DECLINE:
        action = f"decline:{rng.choice(list(DeclineReason)).value}"
        return action, action, timedelta(minutes=rng.uniform(0.3, 18)), False
    if rng.random() < LATE:
        wait = timedelta(minutes=rng.uniform(0.2, 2))
        return "silent, then Confirm after the deadline", "confirm", wait, True
    return "silent", None, timedelta(), False


# --- watching --------------------------------------------------------------------------------


@dataclass
class Books:
    samples: int = 0
    oversold_max: int = 0  # positions with buffer > on_hand in the worst sample

    async def watch(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            over = await StockLevel.filter(buffer__gt=F("on_hand")).count()
            self.samples += 1
            self.oversold_max = max(self.oversold_max, over)
            await asyncio.sleep(0.5)


async def refunds_pass(provider: DummyProvider, clock: WorkerClock) -> None:
    """The payment poller's refund step for a provider it can reach: issue pending refunds.

    Not the whole poll: its "no answer for an hour" step compares a payment's `created_at` (the
    database's wall clock) with our compressed `now`, and would cancel payments in flight."""
    pending = Refund.filter(status=RefundStatus.PENDING, payment__provider=provider.name)
    for refund in await pending.prefetch_related("payment"):
        await issue_refund(
            refund=refund, payment=refund.payment, provider=provider, now=clock.now()
        )


async def play_poller(provider: DummyProvider, clock: WorkerClock, stop: asyncio.Event) -> None:
    while not stop.is_set():
        await refunds_pass(provider, clock)
        await asyncio.sleep(1.0)


async def settled() -> bool:
    """Every request closed and no Slack call pending (the orders are checked after)."""
    waiting = ShopRequest.exclude(state=RequestState.CLOSED)
    slack = OutboxEvent.filter(target=Target.SLACK, state=EventState.PENDING)
    return not await waiting.exists() and not await slack.exists()


async def wait_for(condition: Callable[[], Any], deadline: float) -> bool:
    while not await condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.25)
    return True


# --- checks ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Req:
    id: int
    state: RequestState
    created_at: datetime
    posted_at: datetime | None
    deadline: datetime | None
    closed_at: datetime | None


async def requests() -> list[Req]:
    rows = await ShopRequest.all().values_list(
        "id", "state", "created_at", "posted_at", "deadline", "closed_at"
    )
    return [Req(i, RequestState(s), c, p, d, x) for i, s, c, p, d, x in rows]


def limit_of(request: Req, post_timeout: timedelta) -> datetime:
    """When the request had to be final: its deadline (or, never posted, the post timeout)
    plus one minute."""
    due = request.deadline or request.created_at + post_timeout
    return due + timedelta(minutes=1)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


async def check_requests(reqs: list[Req], post_timeout: timedelta) -> list[bool]:
    open_ = [r for r in reqs if r.state is not RequestState.CLOSED or r.closed_at is None]
    late = [r for r in reqs if r.closed_at and r.closed_at > limit_of(r, post_timeout)]
    deadlines = {r.id: r.deadline for r in reqs}
    after = [
        line
        for line in await ShopRequestLine.filter(decided_by__not_isnull=True)
        if line.decided_at and (d := deadlines[line.request_id]) and line.decided_at > d
    ]
    print(
        f"  every request final (CLOSED): {len(reqs) - len(open_)}/{len(reqs)}  "
        f"{verdict(not open_)}"
    )
    print(f"  each by its deadline + 1 min: {len(late)} late  {verdict(not late)}")
    print(f"  no click decided after its deadline: {len(after)}  {verdict(not after)}")
    return [not open_, not late, not after]


async def check_books(books: Books) -> list[bool]:
    over = await StockLevel.filter(buffer__gt=F("on_hand")).count()
    wrong = await buffer_matches_reservations()
    print(
        f"  0 oversold: worst of {books.samples} samples {books.oversold_max}, at the end "
        f"{over}  {verdict(books.oversold_max == 0 and over == 0)}"
    )
    print(
        f"  buffer balanced (buffer_matches_reservations): {len(wrong)} positions off  "
        f"{verdict(not wrong)}"
    )
    return [books.oversold_max == 0 and over == 0, not wrong]


async def check_money(order_ids: list[int]) -> list[bool]:
    due: Counter[int] = Counter()
    for order_id, price, quantity, missing in await OrderLine.filter(
        order_id__in=order_ids
    ).values_list("order_id", "unit_price", "quantity", "unavailable"):
        due[order_id] += price * min(missing, quantity)
    refunds = (
        await Refund.filter(requested_by=MISSING_UNITS)
        .exclude(status=RefundStatus.CANCELLED)
        .prefetch_related("payment")
    )
    written: Counter[int] = Counter()
    for refund in refunds:
        written[refund.payment.order_id] += refund.amount
    paid_back = dict(
        await Payment.filter(order_id__in=order_ids).values_list("order_id", "refunded")
    )
    wrong = [o for o in order_ids if due[o] != written[o]]
    unissued = [r for r in refunds if r.status is not RefundStatus.SUCCEEDED]
    short = [o for o in order_ids if paid_back.get(o, 0) != due[o]]
    owed = sum(due.values())
    print(
        f"  refunds = price × unavailable units: {sum(written.values()) / 100:.2f} of "
        f"{owed / 100:.2f} ₽ in {len(refunds)} refunds, {len(wrong)} orders off  "
        f"{verdict(not wrong)}"
    )
    print(
        f"  refunds issued (provider said succeeded; payments show them): {len(unissued)} "
        f"not issued, {len(short)} payments off  {verdict(not unissued and not short)}"
    )
    return [not wrong, not unissued and not short]


async def check_orders(order_ids: list[int]) -> list[bool]:
    states = await line_states(order_ids)
    status = dict(await Order.filter(id__in=order_ids).values_list("id", "status"))
    requests_of = ShopRequest.filter(order_id__in=order_ids)
    asked = {int(order_id) for (order_id,) in await requests_of.values_list("order_id")}
    waiting = [o for o in order_ids if not order_settled(states[o].values())]
    expected = {o: expected_status(states[o].values(), o in asked) for o in order_ids}
    wrong = [o for o in order_ids if OrderStatus(status[o]) is not expected[o]]
    counts = Counter(OrderStatus(s).value for s in status.values())
    print(
        f"  orders as their lines say: {dict(sorted(counts.items()))}; {len(wrong)} off, "
        f"{len(waiting)} still waiting  {verdict(not wrong and not waiting)}"
    )
    for order_id in sorted(set(wrong) | set(waiting))[:3]:
        await describe(order_id, states[order_id])
    return [not wrong and not waiting]


def expected_status(lines: Iterable[LineState], asked: bool) -> OrderStatus:
    """What an order's lines say it is: nothing left → cancelled; all settled → ready for
    shipping if shops were asked (an online-only order stays paid); else still paid."""
    states = list(lines)
    if nothing_to_ship(states):
        return OrderStatus.CANCELLED
    if order_settled(states) and asked:
        return OrderStatus.READY_FOR_SHIPPING
    return OrderStatus.PAID


async def describe(order_id: int, states: dict[int, LineState]) -> None:
    """One order the checks found off: what it, its payments, requests and units say."""
    order = await Order.get(id=order_id)
    payments = await Payment.filter(order_id=order_id).values_list(
        "status", "provider_payment_id", "amount", "refunded"
    )
    reqs = await ShopRequest.filter(order_id=order_id).values_list("warehouse_id", "state")
    units = await Reservation.filter(order_line__order_id=order_id).values_list(
        "warehouse_id", "state", "shop_confirmation", "quantity"
    )
    events = await OutboxEvent.filter(
        target=Target.ONEC, aggregate=f"order:{order.guid}"
    ).values_list("kind", "payload")
    told = [
        f"{kind} {payload.get('status', '')} {payload.get('reason', '')}"
        for kind, payload in events
    ]
    print(
        f"    {order.number}: {order.status.value}; lines {states}; payments {payments}; "
        f"requests {reqs}; reservations {units}; told 1C {told}"
    )


# --- figures ---------------------------------------------------------------------------------


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile (nan for no values)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(p * len(ordered)) - 1))]


def spread(values: list[float], unit: str) -> str:
    return (
        f"p50 {pct(values, 0.5):.1f} {unit}, p99 {pct(values, 0.99):.1f} {unit}, "
        f"max {max(values, default=math.nan):.1f} {unit} (n={len(values)})"
    )


def figures_of_machine(cpu: float) -> None:
    """How much of the machine this run had: its CPU time, and everyone's load."""
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"machine: this process used {cpu:.0f} s of CPU; load average now {load} "
        f"on {os.cpu_count()} cores"
    )


def figures_of_orders(shoppers: Shoppers, clock: WorkerClock) -> None:
    wall = shoppers.finished - shoppers.started
    n = len(shoppers.placed)
    print(
        f"orders: {n} placed and paid over {wall:.1f} s ({wall * clock.speed / 60:.0f} "
        f"compressed min, {n / max(wall, 1e-9):.1f}/s), {n - shoppers.online_only} served from "
        f"shops; {shoppers.two_units} of 2 units, {shoppers.pickups} pickups; "
        f"{shoppers.refused} refused at checkout (sold out: the shopper chose again)"
    )


async def figures_of_requests(reqs: list[Req], clock: WorkerClock) -> None:
    posted = [r for r in reqs if r.posted_at]
    per_shop = Counter(w for (w,) in await ShopRequest.all().values_list("warehouse__name"))
    print(
        f"requests: {len(reqs)} asked, {len(posted)} posted in Slack, "
        f"{len(reqs) - len(posted)} never posted; by shop {dict(per_shop)}"
    )
    lines = await ShopRequestLine.all().values_list("state", "reason")
    outcome = Counter(ShopConfirmation(s).value for s, _ in lines)
    reasons = Counter(DeclineReason(r).value for s, r in lines if r)
    print(f"  line outcomes: {dict(outcome)}; decline reasons {dict(reasons)}")
    lag = [(r.posted_at - r.created_at).total_seconds() for r in posted if r.posted_at]
    final = [
        (r.closed_at - r.posted_at).total_seconds() / 60
        for r in posted
        if r.closed_at and r.posted_at
    ]
    over = [
        (r.closed_at - r.deadline).total_seconds()
        for r in posted
        if r.closed_at and r.deadline and r.closed_at >= r.deadline
    ]
    print(f"  asked → posted (compressed): {spread(lag, 's')}")
    print(f"  posted → final (compressed): {spread(final, 'min')}")
    print(
        f"  timed out: final after the deadline by (compressed) {spread(over, 's')}; in wall "
        f"time p99 {clock.wall_seconds(pct(over, 0.99)):.2f} s"
    )


async def figures_of_lines(order_ids: list[int]) -> None:
    moves: Counter[int] = Counter(
        line
        for (line,) in await ShopRequestLine.filter(
            order_line__order_id__in=order_ids, state__in=list(MOVED_ON)
        ).values_list("order_line_id")
    )
    lines = await OrderLine.filter(order_id__in=order_ids).values_list(
        "id", "quantity", "unavailable"
    )
    per_line = Counter(moves[line_id] for line_id, _, _ in lines)
    served: Counter[str] = Counter()
    for kind, confirmation, quantity in await Reservation.filter(
        order_line__order_id__in=order_ids, state__in=list(SERVING_ORDER)
    ).values_list("warehouse__kind", "shop_confirmation", "quantity"):
        where = "online" if WarehouseKind(kind) is WarehouseKind.ONLINE else "shop"
        served[f"{where} {ShopConfirmation(confirmation).value}"] += quantity
    missing = sum(u for _, _, u in lines)
    units = sum(q for _, q, _ in lines)
    print(f"order lines: {len(lines)}; moves per line {dict(sorted(per_line.items()))}")
    print(f"  units: {units}; served {dict(served)}; unavailable {missing}")


def figures_of_staff(staff: Staff) -> None:
    print(f"staff: lines seen {sum(staff.intents.values())}: {dict(staff.intents)}")
    print(
        f"  click answers {dict(staff.statuses)}; after a deadline or an update: {dict(staff.late)}"
    )


async def figures_of_slack(sim: SlackSimulator, reqs: list[Req]) -> None:
    calls = Counter(f"{r.path.removeprefix('/api/')} {r.status}" for r in sim.requests)
    limited = sum(1 for r in sim.requests if r.status == 429)
    replies = sum(1 for ms in sim.messages.values() for m in ms if m.thread_ts)
    shown = sum(1 for ms in sim.messages.values() for m in ms if not m.thread_ts)
    again = shown - sum(1 for r in reqs if r.posted_at)  # Slack took it, its answer was lost
    events = Counter(
        f"{k} {s}"
        for k, s in await OutboxEvent.filter(target=Target.SLACK).values_list("kind", "state")
    )
    print(f"Slack: {len(sim.requests)} calls {dict(sorted(calls.items()))}; 429s met: {limited}")
    print(f"  request messages in the channels {shown}, of them posted again: {again}")
    print(
        f"  reminders in threads {replies}, ephemeral notes {len(sim.ephemerals)}; "
        f"outbox {dict(sorted(events.items()))}"
    )


def figures_of_workers(workers: WorkerGroup) -> None:
    """Jobs each worker ran; a failed one is mostly a delivery cut off at arq's job timeout."""
    done = {
        w.queue_name.removeprefix("vitrina:deliver:"): (w.jobs_complete, w.jobs_failed)
        for w in workers.workers
    }
    shown = ", ".join(f"{q} {ok} done/{failed} failed" for q, (ok, failed) in done.items())
    print(f"worker jobs: {shown}")


# --- the run ---------------------------------------------------------------------------------


def channel_id(key: str) -> str:
    return f"C0{key.upper()}"


def bench_settings(url: str, slack: LocalServer) -> Settings:
    """Production defaults (20-minute window, 3 hops) with Slack pointed at the simulator."""
    return Settings(database_url=url, environment="test").model_copy(
        update={
            "slack_bot_token": TOKEN,
            "slack_signing_secret": SECRET,
            "slack_url": f"{slack.url}/api/",
        }
    )


def default_budget(settings: Settings, clock: WorkerClock) -> float:
    """Wall seconds after the last order: every hop's window once more, and 15 s."""
    rules = settings.shop_rules
    return clock.wall_seconds(((rules.max_hops + 1) * rules.window).total_seconds()) + 15


def shop_workers(settings: Settings, redis_url: str, clock: WorkerClock) -> WorkerGroup:
    """The worker group without 1C's and RetailCRM's delivery (not configured here)."""
    group = build_workers(settings, redis_url=redis_url, clock=clock)
    unconfigured = {delivery_queue(Target.ONEC), delivery_queue(Target.RETAILCRM)}
    return WorkerGroup([w for w in group.workers if w.queue_name not in unconfigured])


async def flush(redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    try:
        await redis.flushdb()
    finally:
        await redis.aclose()


@dataclass
class Stand:
    clock: WorkerClock
    sim: SlackSimulator
    settings: Settings
    jobs: ArqQueue
    provider: DummyProvider = field(default_factory=DummyProvider)


async def exercise(stand: Stand, args: argparse.Namespace, rng: random.Random) -> None:
    """Seed, run shoppers, staff and workers until everything is settled, then check."""
    clock, sim = stand.clock, stand.sim
    offer = await seed(rng)
    shoppers = Shoppers(clock, clock.queue(stand.jobs), stand.provider, offer, rng)
    staff = Staff(sim, clock, stand.settings.shop_rules.window, args.seed)
    books, stop = Books(), asyncio.Event()
    workers = shop_workers(stand.settings, args.redis, clock)
    workers.start()
    watchers = [
        asyncio.create_task(staff.watch(stop)),
        asyncio.create_task(books.watch(stop)),
        asyncio.create_task(play_poller(stand.provider, clock, stop)),
    ]
    started = time.monotonic()
    try:
        await shoppers.run(args.orders, args.minutes)

        async def done() -> bool:
            return not staff.tasks and await settled()

        budget = args.budget or default_budget(stand.settings, clock)
        finished = await wait_for(done, time.monotonic() + budget)
        print(
            f"settled {'in' if finished else 'NOT within'} {time.monotonic() - started:.1f} s "
            f"of wall time ({(time.monotonic() - started) * clock.speed / 60:.0f} compressed "
            f"min; {budget:.0f} s allowed after the last order)"
        )
    finally:
        stop.set()
        await asyncio.gather(*watchers, return_exceptions=True)
        for task in list(staff.tasks):
            task.cancel()
        await workers.close(grace=5.0)
    await refunds_pass(stand.provider, clock)
    await report(stand, shoppers, staff, books)
    figures_of_workers(workers)


async def report(stand: Stand, shoppers: Shoppers, staff: Staff, books: Books) -> None:
    reqs, orders = await requests(), shoppers.placed
    print("checks:")
    results = await check_requests(reqs, stand.settings.shop_rules.post_timeout)
    results += await check_books(books)
    results += await check_money(orders)
    results += await check_orders(orders)
    print(f"  => {sum(results)}/{len(results)} checks pass")
    print("figures:")
    figures_of_machine(time.process_time())
    figures_of_orders(shoppers, stand.clock)
    await figures_of_requests(reqs, stand.clock)
    await figures_of_lines(orders)
    figures_of_staff(staff)
    await figures_of_slack(stand.sim, reqs)


async def run(url: str, args: argparse.Namespace) -> None:
    await run_migrations(url)
    # the app, the workers and the shoppers share this process: a pool as large as theirs
    url = f"{url}?maxsize={POOL}"
    await init_db(url)
    await flush(args.redis)
    clock = WorkerClock(speed=args.speed)
    sim = SlackSimulator(token=TOKEN, signing_secret=SECRET, per_second=args.speed)
    for shop in SHOPS:
        sim.add_channel(channel_id(shop.key), shop.slack_channel)
    slack, jobs = LocalServer(sim.app), ArqQueue(args.redis)
    try:
        await slack.start()
        settings = bench_settings(url, slack)
        app = create_app(settings, redis_url=args.redis, manage_db=False, clock=clock.now)
        async with app.router.lifespan_context(app), LocalServer(app) as ours:
            sim.interactivity_url = ours.url + SLACK_ACTIONS_PATH
            print(
                f"{args.orders} orders over {args.minutes:g} compressed min; clock ×{args.speed:g}"
                f" (window {settings.shop_confirmation_minutes} min = "
                f"{settings.shop_rules.window.total_seconds() / args.speed:.1f} s); staff: "
                f"confirm {CONFIRM:.0%}, decline {DECLINE:.0%}, silent {1 - CONFIRM - DECLINE:.0%}"
                f" ({LATE:.0%} of them click late); seed {args.seed}; load average "
                f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
            )
            await exercise(Stand(clock, sim, settings, jobs), args, random.Random(args.seed))
    finally:
        await jobs.aclose()
        await sim.aclose()
        await slack.stop()
        await close_db()
        await flush(args.redis)


async def main() -> None:
    configure_logging(level="WARNING")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=500)
    parser.add_argument("--speed", type=float, default=40, help="compressed clock: × wall")
    parser.add_argument("--minutes", type=float, default=45, help="compressed minutes of arrivals")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--budget",
        type=float,
        help="wall seconds to settle after the last order (default: "
        "every hop's window once more, + 15 s)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database to look into")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/4")
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432")
    args = parser.parse_args()
    name = f"vitrina_shops_{uuid.uuid4().hex[:8]}"
    admin: Any = await asyncpg.connect(f"{args.postgres}/postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    started = time.perf_counter()
    try:
        await run(f"{args.postgres}/{name}", args)
    finally:
        if args.keep:
            print(f"database kept: {args.postgres}/{name}")
        else:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
        print(f"wall time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    asyncio.run(main())
