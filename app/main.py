"""The ASGI application: GraphQL, health checks, request ids."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLRequestData
from strawberry.http.base import BaseRequestProtocol
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult, SubscriptionExecutionResult

from app.db import close_db, connection, init_db
from app.domain.checkout import parse_device_id
from app.integrations.payments.registry import PaymentProviders, build_providers
from app.integrations.slack.socket_mode import SocketModeListener
from app.limits import BodyCap, BodyLimitMiddleware, graphql_too_large
from app.middleware import RequestIdMiddleware
from app.schema import build_schema, documents
from app.schema.checkout.fast import FastMutations
from app.schema.context import Context
from app.schema.documents import DocumentRefused, TrustedDocuments
from app.schema.live.server import LiveRoute, LiveServer
from app.schema.live.sse import wants_event_stream
from app.services.instashop.store import IMMUTABLE, media_root
from app.services.jobs import JobQueue
from app.services.response_cache.cache import ResponseCache
from app.services.stock_stream import StockFeed, StockPublisher
from app.services.tokens import authenticate_token
from app.settings import Settings
from app.slack_actions import SLACK_ACTIONS_PATH, on_socket_payload, slack_actions
from app.webhooks import yookassa_notifications
from app.workers.queue import ArqQueue

log = structlog.get_logger("app")


Clock = Callable[[], datetime]

GRAPHQL_PATH = "/graphql"
YOOKASSA_PATH = "/integrations/payments/yookassa"


def utc_now() -> datetime:
    return datetime.now(UTC)


class VitrinaGraphQL(GraphQL[Context, None]):
    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        jobs: JobQueue,
        payments: PaymentProviders,
        redis: Redis,
        stock_feed: StockFeed | None = None,
    ) -> None:
        schema = build_schema(settings)
        super().__init__(
            schema,
            graphql_ide="graphiql" if settings.graphiql_enabled else None,
            allow_queries_via_get=True,  # queries only: documents.py answers mutations 405
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            connection_init_wait_timeout=timedelta(seconds=settings.ws_init_timeout_seconds),
            max_subscriptions_per_connection=settings.max_subscriptions_per_connection,
        )
        self.stock_feed = stock_feed
        self.documents = TrustedDocuments(settings)
        self.cache = ResponseCache(  # anonymous catalog reads (app/services/response_cache/)
            settings,
            documents={key: document.text for key, document in self.documents.documents.items()},
            schema=schema,
            redis=redis,
            clock=clock,
            encode=self.encode_json_bytes,
            public=self.documents.public,
            private=documents.PRIVATE,
            feed=stock_feed,
        )
        self.fast = FastMutations(schema, settings, self.documents)
        self.settings = settings
        self.clock = clock
        self.jobs = jobs
        # websockets and SSE streams: shared upstream per subscription (app/schema/live/)
        self.live = LiveServer(self, settings)
        self.payments = payments
        self.redis = redis

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        if wants_event_stream(scope):  # GraphQL over SSE
            await self.live.serve_sse(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            response = await self.cache.serve(request, self._miss)
        except HTTPException as error:
            response = _refusal(error)
        except DocumentRefused as error:
            response = documents.refusal(error)
        await documents.finish(request, response)(scope, receive, send)

    async def _miss(self, request: Request) -> Response:
        """What no cache entry answers: the checkout mutations a drop repeats from a plan
        (app/schema/checkout/fast.py; None: it takes the general way), the rest through
        strawberry. After the cache, so a cache hit never pays for the plan's checks."""
        fast = await self.fast.answer(request, self) if request.method == "POST" else None
        return fast or await self.run(request)

    def should_render_graphql_ide(self, request: BaseRequestProtocol) -> bool:
        named = documents.names_a_document(request.query_params)
        return not named and super().should_render_graphql_ide(request)

    async def execute_operation(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        request_data: GraphQLRequestData | list[GraphQLRequestData],
        context: Context,
        root_value: None,
        sub_response: Response,
    ) -> ExecutionResult | list[ExecutionResult] | SubscriptionExecutionResult:
        if isinstance(request_data, list):  # batching is off: strawberry refused it already
            raise HTTPException(400, "Batching is not enabled")
        method = request_adapter.method
        asked = None
        if request_data.query is None:  # the id matters only to a request without a query
            asked = documents.requested_id(method, request.query_params, await request.body())
        needs_trust = self.documents.needs_trust(request_data)
        trusted = needs_trust and await context.integration() is not None
        admitted = self.documents.admit(method, request_data, asked, trusted)
        result = await super().execute_operation(
            request, request_adapter, admitted.data, context, root_value, sub_response
        )
        self.cache.capture(request, context, result)
        policy = self.documents.cache_control(method, admitted, context.authorization, result)
        sub_response.headers["cache-control"] = policy
        return result

    def encode_json_bytes(self, data: object) -> bytes:
        encoded = self.encode_json(data)
        return encoded if isinstance(encoded, bytes) else encoded.encode()

    def parse_json(self, data: str | bytes) -> dict[str, object] | list[object]:
        """The body as an operation (or a batch of them), or HTTP 400: never a crash on `null`,
        a scalar, bytes that are not UTF-8 or nesting deeper than Python's recursion limit."""
        try:
            value = json.loads(data)
        except (ValueError, RecursionError) as error:
            raise HTTPException(400, "Unable to parse request body as JSON") from error
        if isinstance(value, dict):
            return value
        if isinstance(value, list) and all(isinstance(item, dict) for item in value):
            return value  # a batch: refused by strawberry while batching is off
        raise HTTPException(400, "The request body must be a JSON object")

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        data = await super().parse_http_body(request)
        if isinstance(data, GraphQLRequestData) and not isinstance(data.operation_name, str | None):
            raise HTTPException(400, "The GraphQL operation's `operationName` must be a string")
        return data

    def shared_context(self) -> Context:
        """An anonymous context, for a subscription shared by every subscriber."""
        return Context(
            settings=self.settings,
            authorization=None,
            now=self.clock(),
            jobs=self.jobs,
            payments=self.payments.current,
            providers=self.payments,
            redis=self.redis,
            stock_feed=self.stock_feed,
        )

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        return Context(
            settings=self.settings,
            authorization=request.headers.get("authorization"),
            request_id=request.scope.get("state", {}).get("request_id"),
            now=self.clock(),
            jobs=self.jobs,
            payments=self.payments.current,
            providers=self.payments,
            redis=self.redis,
            client_ip=request.client.host if request.client else "",
            user_agent=request.headers.get("user-agent", "")[:200],
            device_id=parse_device_id(request.headers.get("x-device-id")),
            queue_pass=request.headers.get("x-queue-pass"),  # a queued drop's pass
            stock_feed=self.stock_feed,
            stock_reads=self.cache.reads_for(request) if isinstance(request, Request) else None,
        )


def create_app(
    settings: Settings,
    *,
    redis_url: str,
    manage_db: bool = True,
    clock: Clock = utc_now,
    payments: PaymentProviders | None = None,
) -> Starlette:
    """Build the app. With `manage_db` the app opens and closes the database itself."""
    redis = Redis.from_url(redis_url)
    jobs = ArqQueue(redis_url)
    stock_feed = StockFeed(redis, settings, clock=clock)  # the stock-change stream's consumer
    stock_publisher = StockPublisher(redis, settings, clock=clock)  # and this process's writes
    providers = payments or build_providers(settings)

    async def live(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def ready(_: Request) -> Response:
        checks = {"database": await _check_database(), "redis": await _check_redis(redis)}
        healthy = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ok" if healthy else "unavailable", "checks": checks},
            status_code=200 if healthy else 503,
        )

    socket = _socket_mode(settings, clock)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        if manage_db:
            await init_db(settings.resolved_database_url)
        try:
            if socket is not None:
                await socket.start()
            await stock_publisher.start()
            await stock_feed.start()
            await graphql.cache.start()
            yield
        finally:
            if socket is not None:
                await socket.close()
            await graphql.cache.close()
            await graphql.live.close()
            await stock_feed.close()
            await stock_publisher.close()
            await redis.aclose()
            await jobs.aclose()
            await providers.aclose()
            if manage_db:
                await close_db()

    graphql: Any = VitrinaGraphQL(settings, clock, jobs, providers, redis, stock_feed)
    notifications: Any = yookassa_notifications(
        providers, jobs, clock, settings.yookassa_notification_ips
    )
    app = Starlette(
        routes=[
            Route("/health/live", live),
            Route("/health/ready", ready),
            Route(GRAPHQL_PATH, graphql, methods=["GET", "POST"]),
            Route(YOOKASSA_PATH, notifications, methods=["POST"]),
            Route(SLACK_ACTIONS_PATH, slack_actions(settings, clock), methods=["POST"]),
            *_media_route(settings),
        ],
        middleware=[
            # websockets on /graphql (graphql-transport-ws): straight to the live server
            Middleware(LiveRoute, path=GRAPHQL_PATH, live=graphql.live),
            Middleware(RequestIdMiddleware),
            _body_limits(settings, clock),
        ],
        lifespan=lifespan,
    )
    app.state.stock_feed = stock_feed  # tests and the bench look at its watchers
    app.state.live = graphql.live  # and at its channels and counters
    return app


class MediaFiles(StaticFiles):
    """Instashop's re-hosted files: content-addressed, so cached for a year (StaticFiles
    refuses paths that leave its directory)."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = IMMUTABLE
        return response


def _media_route(settings: Settings) -> list[Mount]:
    """`/media/…` from DATA_DIR/media, when the files are stored there (not in S3)."""
    if settings.media_store != "filesystem":
        return []
    files = MediaFiles(directory=media_root(settings), check_dir=False)
    return [Mount("/media", app=files, name="media")]


def _socket_mode(settings: Settings, clock: Clock) -> SocketModeListener | None:
    """With SLACK_SOCKET_MODE, clicks come over Slack's socket instead of a public URL."""
    if not settings.slack_socket_mode:
        return None

    async def handler(payload: dict[str, Any]) -> None:
        await on_socket_payload(payload, settings, clock)

    return SocketModeListener(settings.slack_app_token, handler, base_url=settings.slack_url)


def _body_limits(settings: Settings, clock: Clock) -> Middleware:
    async def is_integration(token: str) -> bool:
        return await authenticate_token(raw=token, now=clock()) is not None

    graphql = BodyCap(
        settings.max_body_bytes, settings.max_integration_body_bytes, graphql_too_large
    )
    return Middleware(
        BodyLimitMiddleware,
        caps={GRAPHQL_PATH: graphql, SLACK_ACTIONS_PATH: BodyCap(settings.max_slack_body_bytes)},
        default=BodyCap(settings.max_webhook_body_bytes),  # the webhook and every other path
        is_integration=is_integration,
    )


def _refusal(error: HTTPException) -> Response:
    """A request strawberry refused before running it: 400s as typed GraphQL errors."""
    if error.status_code != 400:
        return PlainTextResponse(error.reason, status_code=error.status_code)
    body = {"errors": [{"message": error.reason, "extensions": {"code": "BAD_REQUEST"}}]}
    return JSONResponse(body, status_code=400)


async def _check_database() -> str:
    try:
        await connection().execute_query("SELECT 1")
    except Exception as error:  # any failure means "not ready"; the reason goes to the log
        log.warning("readiness.database", error=repr(error))
        return "unavailable"
    return "ok"


async def _check_redis(redis: Redis) -> str:
    try:
        await redis.ping()
    except Exception as error:
        log.warning("readiness.redis", error=repr(error))
        return "unavailable"
    return "ok"


def app_from_environment() -> Starlette:
    """The app as `uvicorn --factory app.main:app_from_environment` (one per worker process)."""
    settings = Settings()
    if not settings.redis_url:
        raise RuntimeError("REDIS_URL must be set for multi-process serving")
    return create_app(settings, redis_url=settings.redis_url)
