"""RetailCRM calls and budget seconds of one segment export, before and after batches.

Seeds N site accounts subscribed to e-mail marketing (a fresh SQLite file), writes one export
of all of them as the outbox holds it (batches of 50), and delivers it through the outbox's
RetailCRM pass against the RetailCRM simulator in process, with a budget that counts calls
instead of pacing them (RetailCRM allows 10 a second per API key, shared with order pushes:
budget seconds = calls / 10). Three cases: RetailCRM has none of the members; has all of them
and a delivered upsert of ours says so; has all of them and nothing of ours says so (each
upload is refused, then the members are edited). "Before" is the per-member path (one
`segment.member_exported` event and one customers/{key}/edit per member), measured on a
sample and scaled. Usage:

    uv run python bench/segment_export.py [--members 20000] [--before-sample 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx

from app.db import close_db, init_db, run_migrations
from app.devtools.simulators.retailcrm import RetailCrmSimulator
from app.domain.consents import MarketingChannel, SegmentMemberRecord, SystemIds, to_plain
from app.domain.identity import CustomerSource
from app.domain.outbox import EventKind, EventState, RetryPolicy, Target
from app.domain.segment_export import batch_aggregate, batch_to_plain, batches
from app.integrations.retailcrm.client import RetailCrmClient
from app.logging import configure_logging
from app.models.customers import Customer
from app.models.identity import ConsentEvent, IdentityRecord
from app.models.outbox import OutboxEvent
from app.services.outbox.delivery import Senders
from app.services.outbox.retailcrm_batches import deliver_retailcrm

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
RPS = 10  # RetailCRM's limit per API key
EMAIL = MarketingChannel.EMAIL


class CountingBudget:
    """Takes a turn per call without waiting: counts them."""

    def __init__(self) -> None:
        self.calls = 0

    async def acquire(self) -> None:
        self.calls += 1


async def seed(n: int) -> list[str]:
    """N consenting site accounts (record id = profile id = customer id); their GUIDs."""
    guids = [str(uuid.uuid4()) for _ in range(n)]
    await Customer.bulk_create(
        [Customer(id=i + 1, guid=g, email=f"m{i}@mail.ru") for i, g in enumerate(guids)],
        batch_size=1000,
    )
    await IdentityRecord.bulk_create(
        [
            IdentityRecord(
                id=i + 1,
                source=CustomerSource.SITE,
                external_id=g,
                customer_id=i + 1,
                profile_id=i + 1,
                email=f"m{i}@mail.ru",
                email_verified=True,
                actor="bench",
                created_at=NOW,
                updated_at=NOW,
            )
            for i, g in enumerate(guids)
        ],
        batch_size=1000,
    )
    consents = [
        ConsentEvent(
            record_id=i + 1,
            purpose=purpose,
            channel=channel,
            granted=True,
            text_version="v1",
            source="site",
            actor="bench",
            at=NOW,
        )
        for i in range(n)
        for purpose, channel in (("personal_data", None), ("marketing", "email"))
    ]
    await ConsentEvent.bulk_create(consents, batch_size=1000)
    return guids


def event(aggregate: str, kind: EventKind, payload: dict[str, object]) -> OutboxEvent:
    return OutboxEvent(
        event_id=str(uuid.uuid4()),
        target=Target.RETAILCRM,
        aggregate=aggregate,
        kind=kind,
        payload=payload,
        next_attempt_at=NOW,
        created_at=NOW,
    )


async def export_in_batches(profiles: list[int]) -> None:
    cut = batches(str(uuid.uuid4()), "winter", EMAIL, profiles)
    rows = [
        event(batch_aggregate(b.export_guid, b.number), EventKind.SEGMENT_BATCH, batch_to_plain(b))
        for b in cut
    ]
    await OutboxEvent.bulk_create(rows, batch_size=500)


async def export_per_member(guids: list[str]) -> None:
    """As before batches: one event, and one call, per member."""
    export = str(uuid.uuid4())
    rows = [
        event(
            f"segment:{export}:{n}",
            EventKind.SEGMENT_EXPORTED,
            to_plain(SegmentMemberRecord(export, "winter", EMAIL, SystemIds(g), f"m{n}@mail.ru")),
        )
        for n, g in enumerate(guids)
    ]
    await OutboxEvent.bulk_create(rows, batch_size=500)


async def known_to_retailcrm(guids: list[str]) -> None:
    rows = [event(f"customer:{g}", EventKind.CUSTOMER_UPSERTED, {}) for g in guids]
    for row in rows:
        row.state = EventState.DELIVERED
    await OutboxEvent.bulk_create(rows, batch_size=500)


async def deliver(sim: RetailCrmSimulator) -> tuple[int, float]:
    """Deliver every pending RetailCRM event: (calls, wall seconds)."""
    budget = CountingBudget()
    transport = httpx.ASGITransport(app=sim.app)
    crm = RetailCrmClient(
        "http://crm" + sim.base_path, "k", "s", budget=budget, transport=transport
    )
    senders, policy = Senders(retailcrm=crm), RetryPolicy()
    started = time.perf_counter()
    async with crm:
        while await OutboxEvent.filter(state=EventState.PENDING).exists():
            await deliver_retailcrm(senders=senders, policy=policy, clock=lambda: NOW)
    return budget.calls, time.perf_counter() - started


async def case(n: int, name: str, has: bool, known: bool, before: int) -> None:
    url = f"sqlite://{Path(tempfile.mkdtemp(prefix='vitrina-seg-')) / 'bench.sqlite3'}"
    await run_migrations(url)
    await init_db(url)
    try:
        guids = await seed(n)
        sim = RetailCrmSimulator(api_key="k", site="s")
        if has:
            for i, g in enumerate(guids):
                sim.state.customers[g] = {"externalId": g, "id": 10_000_000 + i}
        if known:
            await known_to_retailcrm(guids)
        if before:
            await export_per_member(guids[:before])
            calls, wall = await deliver(sim)
            scaled = calls * n / before
            print(
                f"  before ({name}): {calls} calls for {before} members -> {scaled:,.0f} calls,"
                f" {scaled / RPS:,.0f} s of budget for {n:,} (delivery {wall:.1f} s wall)"
            )
            return
        await export_in_batches(list(range(1, n + 1)))
        calls, wall = await deliver(sim)
        marked = sum(1 for c in sim.state.customers.values() if c.get("customFields"))
        dead = await OutboxEvent.filter(state=EventState.DEAD).count()
        print(
            f"  after  ({name}): {calls:,} calls, {calls / RPS:,.0f} s of budget for {n:,}"
            f" members; {marked:,} marked, {dead} dead (delivery {wall:.1f} s wall)"
        )
    finally:
        await close_db()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=20_000)
    parser.add_argument("--before-sample", type=int, default=1_000)
    args = parser.parse_args()
    configure_logging(level="WARNING")
    n, sample = args.members, min(args.before_sample, args.members)
    print(f"segment export of {n:,} consenting members, RetailCRM at {RPS} calls/s:")
    await case(n, "RetailCRM has none", has=False, known=False, before=sample)
    for name, has, known in (
        ("RetailCRM has none", False, False),
        ("RetailCRM has all, known to us", True, True),
        ("RetailCRM has all, unknown to us", True, False),
    ):
        await case(n, name, has=has, known=known, before=0)


if __name__ == "__main__":
    asyncio.run(main())
