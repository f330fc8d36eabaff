"""`vitrina`: run, migrate, seed and administer the service."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import uvicorn

from app.db import close_db, init_db, run_migrations
from app.domain.access import parse_scopes
from app.domain.outbox import EventState, Target
from app.logging import configure_logging
from app.redis_setup import start_embedded_redis
from app.settings import Settings

# On the way out the workers stop taking jobs and let those in flight (a delivery, a payment
# re-read) finish this long before cutting them off; a cut-off job is run again later.
SHUTDOWN_GRACE_SECONDS = 10.0


@asynccontextmanager
async def redis_url_for(settings: Settings) -> AsyncIterator[str]:
    """REDIS_URL if set; otherwise an embedded redis-server for as long as the command runs."""
    if settings.redis_url:
        yield settings.redis_url
        return
    embedded = await start_embedded_redis(settings.data_dir / "redis")
    print(f"embedded redis-server on {embedded.url} (set REDIS_URL to use your own)", flush=True)
    try:
        yield embedded.url
    finally:
        embedded.stop()


async def _serve(settings: Settings, redis_url: str, *, manage_db: bool = True) -> None:
    from app.main import create_app

    app = create_app(settings, redis_url=redis_url, manage_db=manage_db)
    config = uvicorn.Config(
        app, host=settings.host, port=settings.port, log_config=None, access_log=False
    )
    await uvicorn.Server(config).serve()


async def cmd_dev(settings: Settings) -> None:
    """Migrate, seed on first run, then run redis, the workers and the API in one process."""
    from app.workers.settings import build_workers

    await run_migrations(settings.resolved_database_url)
    await init_db(settings.resolved_database_url)
    try:
        await _seed(settings)
        async with redis_url_for(settings) as redis_url, simulated_systems(settings) as wired:
            workers = build_workers(wired, redis_url=redis_url)
            base = f"http://{settings.host}:{settings.port}"
            print(f"GraphiQL: {base}/graphql   health: {base}/health/ready", flush=True)
            workers.start()
            try:
                await _serve(wired, redis_url, manage_db=False)
            finally:
                await workers.close(grace=SHUTDOWN_GRACE_SECONDS)
    finally:
        await close_db()


@asynccontextmanager
async def simulated_systems(settings: Settings) -> AsyncIterator[Settings]:
    """Local 1C, RetailCRM and YooKassa simulators for the systems not configured (development
    only; PAYMENT_PROVIDER=dummy keeps payments offline)."""
    from app.devtools.simulators.onec import OneCSimulator
    from app.devtools.simulators.retailcrm import RetailCrmSimulator
    from app.devtools.simulators.server import LocalServer
    from app.devtools.simulators.yookassa import YooKassaSimulator

    servers: list[LocalServer] = []
    payments: YooKassaSimulator | None = None
    update: dict[str, object] = {}
    if not settings.onec_url:
        onec = LocalServer(
            OneCSimulator(
                settings.onec_username or "vitrina", settings.onec_password or "secret"
            ).app
        )
        await onec.start()
        servers.append(onec)
        update |= {
            "onec_url": f"{onec.url}/hs/vitrina",
            "onec_username": "vitrina",
            "onec_password": "secret",
        }
    if not settings.retailcrm_url:
        crm = LocalServer(RetailCrmSimulator(api_key="dev-key", site=settings.retailcrm_site).app)
        await crm.start()
        servers.append(crm)
        update |= {"retailcrm_url": f"{crm.url}/api/v5", "retailcrm_api_key": "dev-key"}
    if not settings.yookassa_url and settings.payment_provider != "dummy":
        webhook = f"http://{settings.host}:{settings.port}/integrations/payments/yookassa"
        payments = YooKassaSimulator(webhook_url=webhook)
        yookassa = LocalServer(payments.app)
        await yookassa.start()
        servers.append(yookassa)
        update |= {
            "yookassa_url": f"{yookassa.url}/v3/",
            "yookassa_shop_id": payments.shop_id,
            "yookassa_secret_key": payments.secret_key,
        }
    for name, url in update.items():
        if name.endswith("_url"):
            print(f"simulated {name.removesuffix('_url')}: {url}", flush=True)
    try:
        yield settings.model_copy(update=update)
    finally:
        for server in servers:
            await server.stop()
        if payments is not None:
            await payments.aclose()


async def _seed(settings: Settings) -> None:
    from app.devtools.demo_data import load_demo_data
    from app.services.tokens import create_token

    if await load_demo_data(now=datetime.now(UTC)):
        token = await create_token(name="demo 1C", scopes=list(parse_scopes(["admin"])))
        token_file = settings.data_dir / "demo-token.txt"
        token_file.write_text(token + "\n")
        print(f"demo data loaded; an admin integration token is in {token_file}", flush=True)


async def cmd_serve(settings: Settings) -> None:
    async with redis_url_for(settings) as redis_url:
        await _serve(settings, redis_url)


def serve_processes(settings: Settings, workers: int) -> None:
    """Several API processes behind one port (uvicorn's supervisor, in the main thread)."""
    embedded = None
    if not settings.redis_url:
        embedded = asyncio.run(start_embedded_redis(settings.data_dir / "redis"))
        os.environ["REDIS_URL"] = embedded.url
    # Worker processes are stateless; each builds its app from the environment.
    os.environ.setdefault("DATABASE_URL", settings.resolved_database_url)
    try:
        uvicorn.run(
            "app.main:app_from_environment",
            factory=True,
            workers=workers,
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=False,
        )
    finally:
        if embedded is not None:
            embedded.stop()


async def cmd_worker(settings: Settings) -> None:
    """The housekeeping worker and one delivery worker per system, in this process."""
    from app.workers.settings import build_workers

    await init_db(settings.resolved_database_url)
    try:
        async with redis_url_for(settings) as redis_url:
            workers = build_workers(settings, redis_url=redis_url)
            running = asyncio.ensure_future(workers.run())
            # A stop (SIGTERM from systemd, docker, k8s) or Ctrl-C ends the loops that take
            # jobs; the jobs in flight get their grace below.
            loop = asyncio.get_running_loop()
            for stop in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(stop, running.cancel)
            try:
                await running
            except asyncio.CancelledError:
                if not running.cancelled():
                    raise
            finally:
                for stop in (signal.SIGTERM, signal.SIGINT):
                    loop.remove_signal_handler(stop)
                await workers.close(grace=SHUTDOWN_GRACE_SECONDS)
    finally:
        await close_db()


async def cmd_migrate(settings: Settings) -> None:
    await run_migrations(settings.resolved_database_url)
    print("migrations applied", flush=True)


async def cmd_demo_data(settings: Settings) -> None:
    await init_db(settings.resolved_database_url)
    try:
        await _seed(settings)
    finally:
        await close_db()


async def cmd_create_token(settings: Settings, name: str, scopes: list[str]) -> None:
    from app.services.tokens import create_token

    parsed = parse_scopes(scopes)
    await init_db(settings.resolved_database_url)
    try:
        print(await create_token(name=name, scopes=sorted(parsed)))
    finally:
        await close_db()


async def cmd_outbox(settings: Settings, args: argparse.Namespace) -> None:
    """`outbox list`: counts and events; `outbox replay`: dead letters become pending again."""
    from app.domain.errors import DomainError
    from app.services.outbox import admin as outbox_admin

    await init_db(settings.resolved_database_url)
    try:
        if args.action == "replay":
            ids = args.event_ids or None
            n = await outbox_admin.replay_dead_letters(
                event_ids=ids, replay_all=args.all, now=datetime.now(UTC)
            )
            print(f"replayed {n} dead event(s); the delivery workers send them within seconds")
            return
        print(outbox_admin.counts_table(await outbox_admin.count_grid()), end="\n\n")
        state, target = EventState(args.state), Target(args.target) if args.target else None
        page = await outbox_admin.list_events(
            state=state, target=target, first=args.limit, after=None
        )
        if not page.events:
            print(f"no {state.value} events")
            return
        print(f"{state.value} events, newest first:")
        print(outbox_admin.events_table(page.events))
    except DomainError as error:
        sys.exit(f"vitrina: {error.message}")
    finally:
        await close_db()


def cmd_export_schema(path: Path | None) -> None:
    from app.schema import contract_schema

    sdl = str(contract_schema()) + "\n"
    if path is None:
        sys.stdout.write(sdl)
    else:
        path.write_text(sdl)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vitrina", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("dev", help="migrate, load demo data, run redis + worker + API (one process)")
    serve = sub.add_parser("serve", help="run the API (uvicorn)")
    serve.add_argument("--workers", type=int, default=1, help="API processes (default 1)")
    sub.add_parser("worker", help="run the arq worker")
    sub.add_parser("migrate", help="apply database migrations")
    sub.add_parser("demo-data", help="load the demo brand if the catalog is empty")
    token = sub.add_parser("create-token", help="print a new integration token")
    token.add_argument("--name", required=True)
    token.add_argument(
        "--scope",
        action="append",
        required=True,
        dest="scopes",
        help="catalog:write, stock:write or admin; repeat for several",
    )
    export = sub.add_parser("export-schema", help="print the GraphQL SDL (or write it to a file)")
    export.add_argument("--output", type=Path)
    outbox = sub.add_parser("outbox", help="inspect the outbox, replay dead letters")
    outbox_sub = outbox.add_subparsers(dest="action", required=True)
    listing = outbox_sub.add_parser("list", help="counts per system and state, then events")
    listing.add_argument("--state", choices=[s.value for s in EventState], default="dead")
    listing.add_argument("--target", choices=[t.value for t in Target])
    listing.add_argument("--limit", type=int, default=50, help="events to show (1..200)")
    replay = outbox_sub.add_parser("replay", help="send dead letters again")
    replay.add_argument("event_ids", nargs="*", metavar="EVENT_ID")
    replay.add_argument("--all", action="store_true", help="every dead letter")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    if args.command == "create-token":
        try:
            parse_scopes(args.scopes)
        except ValueError as error:
            sys.exit(f"vitrina: {error}")
    settings = Settings()
    configure_logging(level=settings.log_level, json=settings.log_json)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    commands = {
        "dev": lambda: cmd_dev(settings),
        "serve": lambda: cmd_serve(settings),
        "worker": lambda: cmd_worker(settings),
        "migrate": lambda: cmd_migrate(settings),
        "demo-data": lambda: cmd_demo_data(settings),
        "create-token": lambda: cmd_create_token(settings, args.name, args.scopes),
        "outbox": lambda: cmd_outbox(settings, args),
    }
    if args.command == "export-schema":
        cmd_export_schema(args.output)
        return
    if args.command == "serve" and args.workers > 1:
        serve_processes(settings, args.workers)
        return
    try:
        asyncio.run(commands[args.command]())
    except KeyboardInterrupt:
        pass
