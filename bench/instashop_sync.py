"""How fast the Instagram feed becomes looks: 1,000 posts at 25 a page through the simulator.

A first sync of an account with 1,000 posts (every fifth a carousel of three, every tenth a
video) over real HTTP on 127.0.0.1, into a fresh SQLite file (or PostgreSQL) and the filesystem
store: every image downloaded, made into four renditions (card and full, JPEG and WebP) with
Pillow and written; videos copied. Then a second sync of the unchanged feed (what every
5-minute run costs). Prints posts synced/s and images re-hosted/s. Usage:

    uv run python bench/instashop_sync.py [--posts 1000] [--postgres postgres://…:5432]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from cryptography.fernet import Fernet

from app.db import close_db, init_db, run_migrations
from app.devtools.simulators.instagram import InstagramSimulator, draw_image
from app.devtools.simulators.server import LocalServer
from app.integrations.instagram.client import InstagramClient
from app.models.instashop import Look, LookSlide
from app.services.instashop.account import InstashopConfig
from app.services.instashop.store import FileStore
from app.services.instashop.sync import SyncReport, sync_feed

TOKEN = "IGAA-bench"
DISTINCT_IMAGES = 24  # drawn once up front: the simulator's drawing is not what is measured


def feed(posts: int, size: tuple[int, int]) -> InstagramSimulator:
    sim = InstagramSimulator(TOKEN, image_size=size, distinct_images=DISTINCT_IMAGES)
    start = datetime.now(UTC) - timedelta(days=posts)
    for n in range(posts):
        posted = start + timedelta(days=n)
        if n % 5 == 0:
            sim.add_post(
                f"LL-{n:04d}", media_type="CAROUSEL_ALBUM", slides=["IMAGE"] * 3, posted_at=posted
            )
        elif n % 10 == 5:
            sim.add_post(f"LL-{n:04d}", media_type="VIDEO", posted_at=posted)
        else:
            sim.add_post(f"LL-{n:04d} #look", posted_at=posted)
    for seed in range(DISTINCT_IMAGES):
        draw_image(str(seed), size)
    return sim


async def run(database_url: str, posts: int, size: tuple[int, int]) -> None:
    await run_migrations(database_url)
    await init_db(database_url)
    sim = feed(posts, size)
    try:
        with tempfile.TemporaryDirectory() as media:
            async with LocalServer(sim.app) as server, InstagramClient(server.url) as client:
                store = FileStore(Path(media))
                config = InstashopConfig(
                    user_id="me", initial_token=TOKEN, token_key=Fernet.generate_key().decode()
                )
                first, took = await timed(client, store, config)
                print_first(first, took, await LookSlide.filter(ready=True).count())
                again, took_again = await timed(client, store, config, minutes=5)
                print(
                    f"  unchanged feed again: {again.posts} posts in {took_again:.2f} s "
                    f"({again.posts / took_again:,.0f} posts/s, {again.pages} pages, "
                    f"{again.slides_stored} files fetched)"
                )
                assert await Look.all().count() == posts
    finally:
        await close_db()


async def timed(
    client: InstagramClient, store: FileStore, config: InstashopConfig, minutes: int = 0
) -> tuple[SyncReport, float]:
    started = time.perf_counter()
    now = datetime.now(UTC) + timedelta(minutes=minutes)
    report = await sync_feed(client=client, store=store, config=config, now=now)
    return report, time.perf_counter() - started


def print_first(report: SyncReport, took: float, ready: int) -> None:
    print(
        f"  first sync: {report.posts} posts, {report.pages} pages, {ready} slides stored "
        f"({report.slides_failed} failed) in {took:.1f} s"
    )
    print(f"  posts synced/s:     {report.posts / took:,.1f}")
    print(f"  images re-hosted/s: {report.images / took:,.1f}  (4 renditions each)")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--posts", type=int, default=1000)
    parser.add_argument("--width", type=int, default=1080, help="source images, 1080 × 1350")
    parser.add_argument("--postgres", help="postgres://user@host:port (a database is made)")
    args = parser.parse_args()
    size = (args.width, args.width * 5 // 4)
    if args.postgres:
        name = f"vitrina_bench_{uuid.uuid4().hex[:8]}"
        admin = await asyncpg.connect(f"{args.postgres}/postgres")
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            print(f"PostgreSQL, {args.posts} posts of {size[0]}×{size[1]}:")
            await run(f"{args.postgres}/{name}", args.posts, size)
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()
        return
    with tempfile.TemporaryDirectory() as data:
        print(f"SQLite, {args.posts} posts of {size[0]}×{size[1]}:")
        await run(f"sqlite://{Path(data) / 'bench.sqlite3'}", args.posts, size)


if __name__ == "__main__":
    asyncio.run(main())
