"""The identity graph on 50,000 synthetic customers with known ground truth.

Every person gets one record in one source; 10% of them get a second record in another
source, of three kinds: a site account with a verified phone and the till's spelling of that
phone (must link), a till loyalty card and the 1C counterparty holding that card (must link),
and a till and a RetailCRM record sharing a phone nobody verified (must NOT link: a suggestion
for staff). On top, 20 shops' own numbers typed at the till for 30 different people each (and
one shop employee's site account verified with that number): shared, so nothing links by them.
Records go through `observe_customers` (the batched path 1C's receipt intake uses), in
transactions of 500, on a fresh SQLite file (or PostgreSQL with --postgres); `--path one`
observes them one by one with `observe_customer` instead, and `--path both` (the default)
measures both on fresh databases in one run.

Prints: records/s observed; wrong links (two people in one profile: must be 0, precision
100%); recall over the true duplicate pairs (the unverified-only kind cannot be recalled by
design, so recall is below 100% by exactly that share); the time of three segment queries
over 50,000 customers' purchases. Usage:

    uv run python bench/identity.py [--customers 50000] [--postgres postgres://postgres@127.0.0.1:5432]
                                 [--skip-sqlite] [--path both|batch|one]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from tortoise.transactions import in_transaction

from app.db import close_db, init_db, run_migrations
from app.domain.identity import Channel, CustomerSource, SuggestionState
from app.domain.segments import Bought, Lapsed, Segment, SpendBand
from app.logging import configure_logging
from app.models.catalog import Category, Product, Variant
from app.models.identity import (
    ChannelPurchase,
    ChannelPurchaseLine,
    IdentityRecord,
    IdentitySuggestion,
)
from app.services.identity.batch import Sighting as Observed
from app.services.identity.batch import observe_customers
from app.services.identity.observe import observe_customer
from app.services.identity.segments import segment_profiles

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
SHARED_SHOPS, SHARED_PEOPLE = 20, 30
BATCH = 500


@dataclass(frozen=True)
class Sighting:
    person: int
    source: CustomerSource
    key: str
    phone: str | None = None
    phone_verified: bool = False
    card: str | None = None
    onec_guid: str | None = None


def phone_of(n: int) -> str:
    return f"+7916{n:07d}"


def till_spelling(phone: str) -> str:
    national = phone[2:]
    return f"8 ({national[:3]}) {national[3:6]}-{national[6:8]}-{national[8:]}"


def sightings(customers: int, rng: random.Random) -> tuple[list[Sighting], int, int]:
    """The records, shuffled; the true duplicate pairs, and those only by unverified data."""
    out: list[Sighting] = []
    dup_pairs = unverified_pairs = 0
    for p in range(customers):
        kind = rng.random()
        is_dup = rng.random() < 0.10
        phone = phone_of(p + 1_000_000)
        if is_dup and kind < 0.6:
            out.append(Sighting(p, CustomerSource.SITE, f"site-{p}", phone, True))
            out.append(
                Sighting(
                    p, CustomerSource.SHOP_TILL, f"card-{p}", till_spelling(phone), card=f"C{p:08d}"
                )
            )
            dup_pairs += 1
        elif is_dup and kind < 0.8:
            out.append(Sighting(p, CustomerSource.SHOP_TILL, f"card-{p}", card=f"C{p:08d}"))
            out.append(
                Sighting(p, CustomerSource.ONEC, f"cp-{p}", card=f"C{p:08d}", onec_guid=f"cp-{p}")
            )
            dup_pairs += 1
        elif is_dup:
            out.append(Sighting(p, CustomerSource.SHOP_TILL, f"card-{p}", phone, card=f"C{p:08d}"))
            out.append(Sighting(p, CustomerSource.RETAILCRM, f"crm-{p}", till_spelling(phone)))
            dup_pairs += 1
            unverified_pairs += 1
        else:
            source = rng.choice(
                [CustomerSource.SITE, CustomerSource.SHOP_TILL, CustomerSource.RETAILCRM]
            )
            out.append(
                Sighting(p, source, f"{source.value}-{p}", phone, source is CustomerSource.SITE)
            )
    person = customers
    for shop in range(SHARED_SHOPS):
        shop_phone = phone_of(9_000_000 + shop)
        out.append(Sighting(person, CustomerSource.SITE, f"staff-{shop}", shop_phone, True))
        person += 1
        for _ in range(SHARED_PEOPLE):
            out.append(
                Sighting(
                    person,
                    CustomerSource.SHOP_TILL,
                    f"card-x{person}",
                    till_spelling(shop_phone),
                    card=f"X{person:08d}",
                )
            )
            person += 1
    rng.shuffle(out)
    return out, dup_pairs, unverified_pairs


async def observe_all(items: list[Sighting], batched: bool) -> dict[int, int]:
    """record id -> person."""
    if batched:
        return await observe_batches(items)
    owner: dict[int, int] = {}
    for start in range(0, len(items), BATCH):
        async with in_transaction() as conn:
            for s in items[start : start + BATCH]:
                record = await observe_customer(
                    conn,
                    source=s.source,
                    external_id=s.key,
                    now=NOW,
                    actor="bench",
                    phone=s.phone,
                    phone_verified=s.phone_verified,
                    loyalty_card=s.card,
                    onec_guid=s.onec_guid,
                )
                owner[record] = s.person
    return owner


async def observe_batches(items: list[Sighting]) -> dict[int, int]:
    owner: dict[int, int] = {}
    for start in range(0, len(items), BATCH):
        chunk = items[start : start + BATCH]
        observed = [
            Observed(
                source=s.source,
                external_id=s.key,
                phone=s.phone,
                phone_verified=s.phone_verified,
                loyalty_card=s.card,
                onec_guid=s.onec_guid,
            )
            for s in chunk
        ]
        async with in_transaction() as conn:
            records = await observe_customers(conn, observed, now=NOW, actor="bench")
        owner.update((r, s.person) for r, s in zip(records, chunk, strict=True))
    return owner


async def seed_purchases(records: list[int], rng: random.Random) -> None:
    """One to three purchases a record, in bulk (not what is measured)."""
    clothes = await Category.create(guid=str(uuid.uuid4()), name="Clothes", slug="clothes")
    shoes = await Category.create(guid=str(uuid.uuid4()), name="Shoes", slug="shoes")
    variants = []
    for n, category in enumerate((clothes, shoes)):
        product = await Product.create(
            guid=str(uuid.uuid4()),
            name=f"P{n}",
            slug=f"p{n}",
            sort_date=NOW,
            category_id=category.id,
        )
        variants.append(
            await Variant.create(
                guid=str(uuid.uuid4()),
                product_id=product.id,
                sku=f"S{n}",
                size="M",
                colour="black",
                price=100_000,
            )
        )
    purchases, lines = [], []
    ref = 0
    for record in records:
        for _ in range(rng.randint(1, 3)):
            ref += 1
            channel = rng.choice([Channel.SHOP, Channel.SHOP, Channel.PHONE, Channel.INSTAGRAM])
            amount = rng.randint(1, 30) * 100_000
            at = NOW - timedelta(days=rng.randint(0, 400))
            purchases.append(
                ChannelPurchase(
                    record_id=record,
                    channel=channel,
                    external_ref=f"r{ref}",
                    at=at,
                    amount_kopecks=amount,
                    created_at=at,
                )
            )
    await ChannelPurchase.bulk_create(purchases, batch_size=2000)
    ids = await ChannelPurchase.all().order_by("id").values_list("id", "amount_kopecks")
    for pid, amount in ids:
        lines.append(
            ChannelPurchaseLine(
                purchase_id=pid,
                variant_id=rng.choice(variants).id,
                quantity=1,
                amount_kopecks=amount,
            )
        )
    await ChannelPurchaseLine.bulk_create(lines, batch_size=2000)


async def run(url: str, customers: int, batched: bool = True) -> None:
    await run_migrations(url)
    await init_db(url)
    rng = random.Random(15)
    items, dup_pairs, unverified = sightings(customers, rng)
    started = time.perf_counter()
    owner = await observe_all(items, batched)
    observed = time.perf_counter() - started
    people_with_two = {p for p, n in _count(owner).items() if n == 2}
    rows = await IdentityRecord.all().values_list("id", "profile_id")
    profile_of = {int(i): int(p) for i, p in rows}
    by_profile: dict[int, set[int]] = defaultdict(set)
    for record, person in owner.items():
        by_profile[profile_of[record]].add(person)
    wrong = sum(len(people) - 1 for people in by_profile.values())
    linked = _linked(owner, profile_of, people_with_two)
    print(
        f"{url.split(':')[0]} {'batched' if batched else 'one by one'}:"
        f" {len(items)} records ({customers} customers) observed in"
        f" {observed:.1f} s"
        f" = {len(items) / observed:.0f} records/s"
    )
    print(f"  wrong links: {wrong} (precision {'100%' if wrong == 0 else 'BELOW 100%'})")
    print(
        f"  recall: {linked}/{dup_pairs} true duplicate pairs linked = {linked / dup_pairs:.1%}"
        f" ({unverified} pairs share only unverified data: suggestions by design,"
        f" so the most a safe rule reaches is {(dup_pairs - unverified) / dup_pairs:.1%})"
    )
    suggestions = await IdentitySuggestion.filter(state=SuggestionState.OPEN).count()
    print(f"  open suggestions for staff: {suggestions}")
    if not batched:
        await close_db()
        return
    await seed_purchases(list(owner), rng)
    segments = {
        "clothes by phone/Instagram, shoes only in shops": Segment(
            (
                Bought(channels=(Channel.PHONE, Channel.INSTAGRAM), category="clothes"),
                Bought(channels=(Channel.SHOP,), category="shoes"),
                Bought(
                    channels=(Channel.SITE, Channel.PHONE, Channel.INSTAGRAM, Channel.OTHER),
                    category="shoes",
                    negate=True,
                ),
            )
        ),
        "lapsed 180 days": Segment((Lapsed(180),)),
        "spend 10,000-50,000 roubles": Segment((SpendBand(1_000_000, 5_000_000),)),
    }
    async with in_transaction() as conn:
        for name, segment in segments.items():
            started = time.perf_counter()
            found = await segment_profiles(conn, segment, NOW)
            print(
                f"  segment '{name}': {len(found)} profiles"
                f" in {time.perf_counter() - started:.2f} s"
            )
    await close_db()


def _count(owner: dict[int, int]) -> dict[int, int]:
    counts: dict[int, int] = defaultdict(int)
    for person in owner.values():
        counts[person] += 1
    return counts


def _linked(owner: dict[int, int], profile_of: dict[int, int], people: set[int]) -> int:
    seen: dict[int, set[int]] = defaultdict(set)
    for record, person in owner.items():
        if person in people:
            seen[person].add(profile_of[record])
    return sum(1 for p in people if len(seen[p]) == 1)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--postgres", default=None, help="also run on a fresh PostgreSQL database")
    parser.add_argument("--skip-sqlite", action="store_true", help="PostgreSQL only")
    parser.add_argument(
        "--path", choices=["both", "batch", "one"], default="both", help="how records go in"
    )
    args = parser.parse_args()
    configure_logging(level="WARNING")
    paths = {"both": [False, True], "batch": [True], "one": [False]}[args.path]
    for batched in paths if not args.skip_sqlite else []:
        with tempfile.TemporaryDirectory() as tmp:
            await run(f"sqlite://{Path(tmp) / 'bench.sqlite3'}", args.customers, batched)
    for batched in paths if args.postgres else []:
        name = f"vitrina_bench_{uuid.uuid4().hex[:8]}"
        admin = await asyncpg.connect(f"{args.postgres}/postgres")
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            await run(f"{args.postgres}/{name}", args.customers, batched)
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
