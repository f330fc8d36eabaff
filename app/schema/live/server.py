"""The process's live operations: the hub, the timer, and the two transports' entry points."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from graphql import GraphQLError
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.http import GraphQLRequestData
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from app.schema.documents import DocumentRefused, TrustedDocuments
from app.schema.live.clock import LiveClock
from app.schema.live.hub import LiveHub
from app.schema.live.socket import LiveSocket
from app.schema.live.sse import serve_sse
from app.settings import Settings

if TYPE_CHECKING:
    from app.main import VitrinaGraphQL

CONTEXT_HEADERS = frozenset({b"authorization", b"user-agent", b"x-device-id", b"x-queue-pass"})
Admitted = tuple[str | None, dict[str, Any] | None, str | None]  # query, variables, name


class LiveServer:
    """Everything live connections share in one process (one per app)."""

    def __init__(self, view: VitrinaGraphQL, settings: Settings) -> None:
        self.view = view
        self.settings = settings
        self.hub = LiveHub(view.schema, view.shared_context, self.encode)
        self.clock = LiveClock(settings.ws_init_timeout_seconds, settings.ws_ping_seconds)
        self.max_per_connection = settings.max_subscriptions_per_connection
        self.max_per_process = settings.max_subscriptions_per_process
        self.sse_streams: dict[str, int] = {}  # client address -> open SSE streams

    def encode(self, data: object) -> str:
        encoded = self.view.encode_json(data)
        return encoded.decode() if isinstance(encoded, bytes) else encoded

    async def close(self) -> None:
        await self.hub.close()

    async def admit(
        self, method: str, payload: dict[str, Any], context: Callable[[], Awaitable[Any]]
    ) -> Admitted | GraphQLError:
        """Trusted documents as over HTTP: a registered `documentId` (or APQ hash) stands for
        its text; in strict mode an anonymous free-form document is refused. 405 (a mutation
        over GET) is raised as DocumentRefused."""
        if not isinstance(payload, dict):
            raise TypeError("payload")
        variables = payload.get("variables")
        if variables is not None and not isinstance(variables, dict):
            return GraphQLError("`variables` must be an object", extensions={"code": "BAD_REQUEST"})
        query, name = payload.get("query"), payload.get("operationName")
        if name is not None and not isinstance(name, str):
            return GraphQLError(
                "`operationName` must be a string", extensions={"code": "BAD_REQUEST"}
            )
        documents: TrustedDocuments = self.view.documents
        if documents.mode == "off":
            return query, variables, name
        data = GraphQLRequestData(
            query=query,
            variables=variables,
            operation_name=name,
            extensions=payload.get("extensions"),
        )
        trusted = False
        if documents.needs_trust(data):
            trusted = await (await context()).integration() is not None
        try:
            admitted = documents.admit(method, data, payload.get("documentId"), trusted)
        except DocumentRefused as error:
            if error.status == 405:
                raise
            return GraphQLError(error.message, extensions={"code": error.code})
        return admitted.data.query, variables, name

    async def serve_websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A websocket on /graphql: the handshake (origin check, subprotocol), then the
        connection's loop. The handshake's objects are not kept."""
        handshake = WebSocket(scope, receive, send)
        view = self.view
        if not view._check_websocket_origin(handshake):
            await view.reject_websocket(handshake)
            return
        protocol = await view.pick_websocket_subprotocol(handshake)
        await handshake.accept(subprotocol=protocol)
        del handshake
        # the socket's life: keep only the headers a context reads (`get_context`)
        scope["headers"] = [(k, v) for k, v in scope["headers"] if k in CONTEXT_HEADERS]
        if protocol != GRAPHQL_TRANSPORT_WS_PROTOCOL:
            await send(
                {"type": "websocket.close", "code": 4406, "reason": "Subprotocol not acceptable"}
            )
            return
        await LiveSocket(self, scope, receive, send).run()

    async def serve_sse(self, scope: Scope, receive: Receive, send: Send) -> None:
        """GraphQL over SSE on /graphql (`Accept: text/event-stream`)."""
        await serve_sse(self, scope, receive, send)


class LiveRoute:
    """Outermost middleware: a websocket on `path` goes straight to the live server, past
    the HTTP middlewares (request ids, body limits) whose frames every idle socket would
    otherwise keep for its life."""

    def __init__(self, app: ASGIApp, path: str, live: LiveServer) -> None:
        self.app, self.path, self.live = app, path, live

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and scope["path"] == self.path:
            await self.live.serve_websocket(scope, receive, send)
            return
        await self.app(scope, receive, send)
