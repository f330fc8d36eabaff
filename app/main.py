"""The ASGI application: GraphQL, health checks, request ids."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import structlog
from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from app.db import close_db, connection, init_db
from app.integrations.payments.registry import PaymentProviders, build_providers
from app.middleware import RequestIdMiddleware
from app.schema import build_schema
from app.schema.context import Context
from app.services.jobs import JobQueue
from app.settings import Settings
from app.webhooks import yookassa_notifications
from app.workers.queue import ArqQueue

log = structlog.get_logger("app")


Clock = Callable[[], datetime]


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
    ) -> None:
        super().__init__(
            build_schema(settings),
            graphql_ide="graphiql" if settings.graphiql_enabled else None,
            allow_queries_via_get=False,
        )
        self.settings = settings
        self.clock = clock
        self.jobs = jobs
        self.payments = payments
        self.redis = redis

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

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        if manage_db:
            await init_db(settings.resolved_database_url)
        try:
            yield
        finally:
            await redis.aclose()
            await jobs.aclose()
            await providers.aclose()
            if manage_db:
                await close_db()

    graphql: Any = VitrinaGraphQL(settings, clock, jobs, providers, redis)
    notifications: Any = yookassa_notifications(
        providers, jobs, clock, settings.yookassa_notification_ips
    )
    return Starlette(
        routes=[
            Route("/health/live", live),
            Route("/health/ready", ready),
            Route("/graphql", graphql, methods=["GET", "POST"]),
            Route("/integrations/payments/yookassa", notifications, methods=["POST"]),
        ],
        middleware=[Middleware(RequestIdMiddleware)],
        lifespan=lifespan,
    )


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
