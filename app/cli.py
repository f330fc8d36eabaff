"""`vitrina`: run, migrate, seed and administer the service."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import uvicorn

from app.db import close_db, init_db, run_migrations
from app.domain.access import Scope, parse_scopes
from app.domain.outbox import EventState, Target
from app.gc_tuning import tune_for_serving
from app.logging import configure_logging
from app.partners_cli import add_partner_commands, cmd_partners
from app.redis_setup import start_embedded_redis
from app.settings import Settings
from app.shutdown import ApiServer, serve_until, sigterm_is_ctrl_c, stop_requested, wait_until

if TYPE_CHECKING:
    from starlette.applications import Starlette

# On the way out (SIGTERM or Ctrl-C) the API finishes the requests in flight and the workers
# stop taking jobs and let those in flight (a delivery, a payment re-read) finish, each this
# long before cutting them off; a cut-off job is run again later.
SHUTDOWN_GRACE_SECONDS = 10
MAX_TOKEN_DAYS = 3650
MAX_TOKEN_NAME = 200  # IntegrationToken.name
LEAN_WS = "app.ws_protocol:LeanWebSocketProtocol"  # uvicorn's websockets protocol, leaner
DOCUMENTS_FILE = Path(__file__).resolve().parents[1] / "frontend-contract/persisted-documents.json"


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


async def _serve(
    settings: Settings, redis_url: str, stop: asyncio.Event, *, manage_db: bool = True
) -> None:
    from app.main import create_app

    app = create_app(settings, redis_url=redis_url, manage_db=manage_db)
    tune_for_serving()
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS,
        ws_per_message_deflate=False,  # ~40 KiB of zlib state per socket, for 150-byte frames
        ws=LEAN_WS,  # forgets the handshake once answered (app/ws_protocol.py)
        ws_max_size=settings.max_body_bytes,  # a websocket message, as an HTTP body (not 16 MiB)
    )
    await serve_until(stop, ApiServer(config))


async def cmd_dev(settings: Settings, stop: asyncio.Event) -> None:
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
                await _serve(wired, redis_url, stop, manage_db=False)
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
    slack = None
    if not settings.slack_bot_token:
        slack, server, update_slack = await _simulated_slack(settings)
        servers.append(server)
        update |= update_slack
    if not settings.instagram_access_token:
        server, update_instagram = await _simulated_instagram()
        servers.append(server)
        update |= update_instagram
    for name, url in update.items():
        if name.endswith("_url"):
            print(f"simulated {name.removesuffix('_url')}: {url}", flush=True)
    try:
        yield settings.model_copy(update=update)
    finally:
        for server in servers:
            await server.stop()
        for simulator in (payments, slack):
            if simulator is not None:
                await simulator.aclose()


async def _simulated_slack(settings: Settings) -> tuple[Any, Any, dict[str, object]]:
    """A local Slack with a channel per shop (its page at `/` has working buttons), posting
    signed clicks to this service."""
    from app.devtools.simulators.server import LocalServer
    from app.devtools.simulators.slack import SlackSimulator
    from app.models.catalog import Warehouse, WarehouseKind

    actions = f"http://{settings.host}:{settings.port}/integrations/slack/actions"
    slack = SlackSimulator(
        token="xoxb-dev", signing_secret="dev-signing-secret", interactivity_url=actions
    )
    for n, shop in enumerate(await Warehouse.filter(kind=WarehouseKind.SHOP).order_by("id")):
        if shop.slack_channel:
            slack.add_channel(f"C0DEV{n:04d}", shop.slack_channel.lstrip("#"))
    server = LocalServer(slack.app)
    await server.start()
    print(f"simulated Slack, with a page to click on: {server.url}/", flush=True)
    update: dict[str, object] = {
        "slack_url": f"{server.url}/api/",
        "slack_bot_token": "xoxb-dev",
        "slack_signing_secret": "dev-signing-secret",
    }
    return slack, server, update


async def _simulated_instagram() -> tuple[Any, dict[str, object]]:
    """A local Instagram account with the demo brand's feed (14 posts naming its SKUs), so the
    site has an Instashop without internet."""
    from app.devtools.demo_data import demo_instagram_articles
    from app.devtools.simulators.instagram import InstagramSimulator, demo_feed
    from app.devtools.simulators.server import LocalServer

    instagram = InstagramSimulator("IGAA-dev-token")
    demo_feed(instagram, demo_instagram_articles(), now=datetime.now(UTC))
    server = LocalServer(instagram.app)
    await server.start()
    update: dict[str, object] = {
        "instagram_url": server.url,
        "instagram_access_token": "IGAA-dev-token",
        "instashop_auto_link": "sku",  # the demo's looks come linked, so there is something to buy
    }
    return server, update


async def _seed(settings: Settings) -> None:
    from app.devtools.demo_data import load_demo_data
    from app.services.tokens import create_token

    if await load_demo_data(now=datetime.now(UTC)):
        token = await create_token(name="demo 1C", scopes=list(parse_scopes(["admin"])))
        token_file = settings.data_dir / "demo-token.txt"
        token_file.write_text(token + "\n")
        print(f"demo data loaded; an admin integration token is in {token_file}", flush=True)


async def cmd_serve(settings: Settings, stop: asyncio.Event) -> None:
    async with redis_url_for(settings) as redis_url:
        await _serve(settings, redis_url, stop)


def api_process_app() -> Starlette:
    """The app of one process of `serve --workers N`: a fresh interpreter, so it configures
    its logging before building the app from the environment."""
    from app.main import app_from_environment

    settings = Settings()
    configure_logging(level=settings.log_level, json=settings.log_json)
    app = app_from_environment()
    tune_for_serving()
    return app


def serve_processes(settings: Settings, workers: int) -> None:
    """Several API processes behind one port (uvicorn's supervisor, in the main thread).

    On SIGTERM or SIGINT the supervisor stops its processes (each finishes its requests in
    flight) and returns; then the embedded redis-server is stopped."""
    embedded = None
    try:
        if not settings.redis_url:
            embedded = asyncio.run(start_embedded_redis(settings.data_dir / "redis"))
            os.environ["REDIS_URL"] = embedded.url
        # Worker processes are stateless; each builds its app from the environment.
        os.environ.setdefault("DATABASE_URL", settings.resolved_database_url)
        uvicorn.run(
            "app.cli:api_process_app",
            factory=True,
            workers=workers,
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS,
            ws_per_message_deflate=False,  # as in `_serve`
            ws=LEAN_WS,
            ws_max_size=settings.max_body_bytes,
        )
    finally:
        if embedded is not None:
            embedded.stop()


async def cmd_worker(settings: Settings, stop: asyncio.Event) -> None:
    """The housekeeping worker and one delivery worker per system, in this process."""
    from app.workers.settings import build_workers

    await init_db(settings.resolved_database_url)
    try:
        async with redis_url_for(settings) as redis_url:
            workers = build_workers(settings, redis_url=redis_url)
            workers.start()
            try:
                await wait_until(stop, workers.tasks)
            finally:
                # the loops stop taking jobs; the jobs in flight get their grace
                await workers.close(grace=SHUTDOWN_GRACE_SECONDS)
    finally:
        await close_db()


async def _until_stopped(
    command: Callable[[Settings, asyncio.Event], Awaitable[None]], settings: Settings
) -> None:
    with stop_requested() as stop:
        await command(settings, stop)


async def cmd_migrate(settings: Settings) -> None:
    await run_migrations(settings.resolved_database_url)
    print("migrations applied", flush=True)


async def cmd_demo_data(settings: Settings) -> None:
    await init_db(settings.resolved_database_url)
    try:
        await _seed(settings)
    finally:
        await close_db()


async def cmd_create_token(
    settings: Settings, name: str, scopes: list[str], expires_in_days: int | None
) -> None:
    from app.services.tokens import create_token

    parsed = parse_scopes(scopes)
    expires_at = None
    if expires_in_days is not None:
        expires_at = datetime.now(UTC) + timedelta(days=expires_in_days)
    await init_db(settings.resolved_database_url)
    try:
        print(await create_token(name=name, scopes=sorted(parsed), expires_at=expires_at))
    finally:
        await close_db()
    if expires_at is not None:  # stdout holds the token alone, for scripts that capture it
        print(f"expires {expires_at:%Y-%m-%d %H:%M} UTC", file=sys.stderr)


async def cmd_tokens(settings: Settings, args: argparse.Namespace) -> None:
    """`tokens list`: every token and its state; `tokens revoke NAME|ID`: it stops at once."""
    from app.domain.errors import DomainError
    from app.services import tokens

    now = datetime.now(UTC)
    await init_db(settings.resolved_database_url)
    try:
        if args.action == "revoke":
            ref = args.token.strip()
            if ref.isascii() and ref.isdecimal():
                token = await tokens.revoke_token(token_id=ref, now=now)
            else:
                token = await tokens.revoke_token_named(name=args.token, now=now)
            revoked = token.revoked_at or now
            print(f"token {token.id} ({token.name}) is revoked since {revoked:%Y-%m-%d %H:%M} UTC")
            return
        listed = await tokens.list_tokens()
        print(tokens.tokens_table(listed, now) if listed else "no integration tokens")
    except DomainError as error:
        sys.exit(f"vitrina: {error.message}")
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


async def cmd_shop_requests(settings: Settings, args: argparse.Namespace) -> None:
    """`shop-requests`: each shop's answers over the period, then its requests, newest first."""
    from app.domain.errors import DomainError
    from app.domain.shop_confirmation import RequestState
    from app.services.shops import reporting

    now = datetime.now(UTC)
    since = now - args.since
    state = None if args.state == "all" else RequestState(args.state)
    await init_db(settings.resolved_database_url)
    try:
        stats = await reporting.shop_stats(since=since, until=now, warehouse=args.shop)
        print(f"shops, requests made since {since:%Y-%m-%d %H:%M} UTC:")
        print(reporting.stats_table(stats), end="\n\n")
        page = await reporting.list_requests(
            warehouse=args.shop, state=state, since=since, first=args.limit, after=None
        )
        which = "" if state is None else f"{state.value} "
        if not page.requests:
            print(f"no {which}requests")
            return
        print(f"{which}requests, newest first:")
        print(reporting.requests_table(page))
        if page.has_next_page:
            print(f"… and older ones (--limit up to {reporting.MAX_PAGE}, or a shorter --since)")
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


def cmd_export_documents(path: Path) -> None:
    """Write the storefront's operations as trusted documents (documentId → name, text)."""
    from app.schema.documents import build_manifest, manifest_json

    manifest = build_manifest()
    path.write_text(manifest_json(manifest))
    print(f"{len(manifest)} documents written to {path}")


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
    token.add_argument("--name", required=True, type=_token_name)
    token.add_argument(
        "--scope",
        action="append",
        required=True,
        dest="scopes",
        help=f"one of {', '.join(s.value for s in Scope)}; repeat for several",
    )
    token.add_argument(
        "--expires-in-days",
        type=_days,
        metavar="N",
        help=f"refuse the token N days from now (1..{MAX_TOKEN_DAYS}); default: never",
    )
    tokens = sub.add_parser("tokens", help="list and revoke integration tokens")
    tokens_sub = tokens.add_subparsers(dest="action", required=True)
    tokens_sub.add_parser("list", help="every token: state, scopes, created, expiry, last use")
    revoke = tokens_sub.add_parser("revoke", help="revoke a token: it stops working at once")
    revoke.add_argument("token", metavar="NAME|ID", help="a token id, or the name of one token")
    export = sub.add_parser("export-schema", help="print the GraphQL SDL (or write it to a file)")
    export.add_argument("--output", type=Path)
    documents = sub.add_parser(
        "export-documents", help="write frontend-contract/persisted-documents.json"
    )
    documents.add_argument("--output", type=Path, default=DOCUMENTS_FILE)
    outbox = sub.add_parser("outbox", help="inspect the outbox, replay dead letters")
    outbox_sub = outbox.add_subparsers(dest="action", required=True)
    listing = outbox_sub.add_parser("list", help="counts per system and state, then events")
    listing.add_argument("--state", choices=[s.value for s in EventState], default="dead")
    listing.add_argument("--target", choices=[t.value for t in Target])
    listing.add_argument("--limit", type=int, default=50, help="events to show (1..200)")
    replay = outbox_sub.add_parser("replay", help="send dead letters again")
    replay.add_argument("event_ids", nargs="*", metavar="EVENT_ID")
    replay.add_argument("--all", action="store_true", help="every dead letter")
    shops = sub.add_parser(
        "shop-requests", help="shop confirmations: each shop's answers, then its requests"
    )
    shops.add_argument("--shop", metavar="CODE", help="one warehouse, by its 1C GUID")
    shops.add_argument("--state", choices=["open", "closed", "posting", "all"], default="all")
    shops.add_argument(
        "--since",
        type=_period,
        default=timedelta(days=7),
        metavar="PERIOD",
        help="requests made in the last PERIOD: 7d, 12h or 30m (default 7d)",
    )
    shops.add_argument("--limit", type=int, default=50, help="requests to show (1..200)")
    add_partner_commands(sub)
    return parser


def _token_name(text: str) -> str:
    if not text.strip() or len(text) > MAX_TOKEN_NAME:
        raise argparse.ArgumentTypeError(f"1..{MAX_TOKEN_NAME} characters, not blank")
    return text


def _days(text: str) -> int:
    if not (text.isascii() and text.isdecimal()) or not 1 <= int(text) <= MAX_TOKEN_DAYS:
        raise argparse.ArgumentTypeError(f"a whole number of days, 1..{MAX_TOKEN_DAYS}")
    return int(text)


_PERIOD_UNITS = {"d": "days", "h": "hours", "m": "minutes"}
MAX_PERIOD = timedelta(days=3650)


def _period(text: str) -> timedelta:
    amount, unit = text[:-1], text[-1:]
    digits = amount.isascii() and amount.isdecimal() and len(amount) <= 9  # timedelta's range
    if unit not in _PERIOD_UNITS or not digits:
        raise argparse.ArgumentTypeError("a number and d, h or m, e.g. 7d")
    period = timedelta(**{_PERIOD_UNITS[unit]: int(amount)})
    if not timedelta(0) < period <= MAX_PERIOD:
        raise argparse.ArgumentTypeError(f"more than nothing and at most {MAX_PERIOD.days}d")
    return period


def main(argv: list[str] | None = None) -> None:
    sigterm_is_ctrl_c()
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
        "dev": lambda: _until_stopped(cmd_dev, settings),
        "serve": lambda: _until_stopped(cmd_serve, settings),
        "worker": lambda: _until_stopped(cmd_worker, settings),
        "migrate": lambda: cmd_migrate(settings),
        "demo-data": lambda: cmd_demo_data(settings),
        "create-token": lambda: cmd_create_token(
            settings, args.name, args.scopes, args.expires_in_days
        ),
        "tokens": lambda: cmd_tokens(settings, args),
        "outbox": lambda: cmd_outbox(settings, args),
        "partners": lambda: cmd_partners(settings, args),
        "shop-requests": lambda: cmd_shop_requests(settings, args),
    }
    if args.command == "export-schema":
        cmd_export_schema(args.output)
        return
    if args.command == "export-documents":
        cmd_export_documents(args.output)
        return
    try:
        if args.command == "serve" and args.workers > 1:
            serve_processes(settings, args.workers)
        else:
            asyncio.run(commands[args.command]())
    except KeyboardInterrupt:  # Ctrl-C, or SIGTERM, before the command took the signals
        pass
