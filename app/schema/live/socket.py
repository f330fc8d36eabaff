"""graphql-transport-ws on the raw ASGI connection, lean for thousands of idle sockets.

The protocol as graphql-ws (and strawberry) speak it: `connection_init` within the init
timeout (else 4408), `connection_ack`, `subscribe` / `next` / `error` / `complete`,
`ping` / `pong` both ways (the server pings every `WS_PING_SECONDS`), the close codes 4400,
4401, 4409 and 4429. A shareable subscription joins the hub's channel (a registration, no
task); any other operation runs on its own (a task per operation, a context per socket).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import structlog
from graphql import GraphQLError
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.types.execution import ExecutionResult, PreExecutionError
from strawberry.utils.aio import aclosing

from app.domain.errors import DomainError, ErrorCode
from app.schema.catalog.queries import query_error
from app.schema.live.hub import Registration, formatted, result_payload
from app.schema.live.outbox import Outbox, text
from app.schema.live.shared import channel_key, shared_document

if TYPE_CHECKING:
    from app.schema.live.server import LiveServer

log = structlog.get_logger("live")

PING = text('{"type":"ping"}')
PONG = text('{"type":"pong"}')
ACK = text('{"type":"connection_ack"}')


def too_many_live() -> dict[str, Any]:
    error = DomainError(ErrorCode.TOO_MANY_ATTEMPTS, "too many live subscriptions", (), None, 5)
    return dict(query_error(error).formatted)


class LiveSocket:
    """One graphql-transport-ws connection; `run` is the connection's only task."""

    __slots__ = (
        "_context",
        "_operations",
        "_receive",
        "_scope",
        "_send",
        "acknowledged",
        "closing",
        "init_received",
        "outbox",
        "params",
        "server",
        "timed_out",
    )

    def __init__(self, server: LiveServer, scope: Scope, receive: Receive, send: Send) -> None:
        self.server = server
        self._scope, self._receive, self._send = scope, receive, send
        self.outbox = Outbox(send, _nothing)
        self._operations: dict[str, Registration | asyncio.Task[None]] = {}
        self._context: Any = None
        self.params: dict[str, Any] | None = None
        self.init_received = self.acknowledged = self.timed_out = self.closing = False

    async def run(self) -> None:
        self.server.clock.await_init(self)
        try:
            while True:
                message = await self._receive()
                if message["type"] == "websocket.disconnect":
                    return
                if message["type"] == "websocket.receive" and not self.closing:
                    await self._on_frame(message)
        finally:
            await self._shutdown()

    # -- the timer's callbacks -----------------------------------------------------------------

    def keep_alive(self) -> None:
        self.outbox.post(PING)

    def init_timed_out(self) -> None:
        if not self.init_received:
            self.timed_out = True
            self.close(4408, "Connection initialisation timeout")

    # -- a channel's events (the hub's Sink) ---------------------------------------------------

    def next(self, registration: Registration, payload: str, key: object) -> None:
        operation = json.dumps(registration.operation_id)
        body = f'{{"id":{operation},"type":"next","payload":{payload}}}'
        self.outbox.post(text(body), None if key is None else (registration, key))

    def error(self, registration: Registration, errors: str) -> None:
        self._forget(registration.operation_id, registration)
        operation = json.dumps(registration.operation_id)
        self.outbox.post(text(f'{{"id":{operation},"type":"error","payload":{errors}}}'))

    def complete(self, registration: Registration) -> None:
        self._forget(registration.operation_id, registration)
        self._post({"id": registration.operation_id, "type": "complete"})

    # -- the protocol ----------------------------------------------------------------------------

    def close(self, code: int, reason: str) -> None:
        if not self.closing:
            self.closing = True
            self.outbox.post({"type": "websocket.close", "code": code, "reason": reason})

    def _post(self, message: dict[str, Any]) -> None:
        self.outbox.post(text(self.server.encode(message)))

    async def _on_frame(self, frame: Mapping[str, Any]) -> None:
        raw = frame.get("text")
        if raw is None:
            self.close(4400, "WebSocket message type must be text")
            return
        try:
            message = json.loads(raw)
        except ValueError:
            self.close(4400, "WebSocket message must be valid JSON")
            return
        try:
            await self._on_message(message)
        except (KeyError, TypeError, AttributeError):
            self.close(4400, "Failed to parse message")

    async def _on_message(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "connection_init":
            self._on_init(message)
        elif kind == "ping":
            self.outbox.post(PONG)
        elif kind == "pong":
            pass
        elif kind == "subscribe":
            await self._on_subscribe(message["id"], message["payload"])
        elif kind == "complete":
            self._stop(message["id"])
        else:
            self.close(4400, f"Unknown message type: {kind}")

    def _on_init(self, message: dict[str, Any]) -> None:
        if self.timed_out:
            return
        payload = message.get("payload", {})
        if payload is None:
            payload = {}
        if not isinstance(payload, dict):
            self.close(4400, "Invalid connection init payload")
            return
        if self.init_received:
            self.close(4429, "Too many initialisation requests")
            return
        self.init_received = True
        self.params = payload or None
        self.server.clock.initialised(self)
        self.outbox.post(ACK)
        self.acknowledged = True
        self.server.clock.keep(self)

    async def _on_subscribe(self, operation_id: str, payload: dict[str, Any]) -> None:
        if not isinstance(operation_id, str):
            raise TypeError("operation id")
        if not self.acknowledged:
            self.close(4401, "Unauthorized")
            return
        if operation_id in self._operations:
            self.close(4409, f"Subscriber for {operation_id} already exists")
            return
        server = self.server
        if len(self._operations) >= server.max_per_connection:
            errors = [formatted("Subscription limit reached")]
            self._post({"id": operation_id, "type": "error", "payload": errors})
            return
        admitted = await server.admit("WS", payload, self.context)
        if isinstance(admitted, GraphQLError):
            self._post({"id": operation_id, "type": "error", "payload": [admitted.formatted]})
            return
        query, variables, operation_name = admitted
        if server.hub.live >= server.max_per_process:
            self._post(
                {
                    "id": operation_id,
                    "type": "next",
                    "payload": {"data": None, "errors": [too_many_live()]},
                }
            )
            self._post({"id": operation_id, "type": "complete"})
            return
        document = shared_document(query, operation_name) if query else None
        key = None if document is None else channel_key(document, operation_name, variables)
        if document is not None and key is not None:
            self._operations[operation_id] = server.hub.join(
                self, operation_id, key, document, operation_name, variables
            )
            return
        task = asyncio.get_running_loop().create_task(
            self._general(operation_id, query, variables, operation_name)
        )
        self._operations[operation_id] = task

    def _stop(self, operation_id: str) -> None:
        operation = self._operations.pop(operation_id, None)
        if isinstance(operation, Registration):
            self.server.hub.leave(operation)
        elif operation is not None:
            operation.cancel()

    def _forget(self, operation_id: str, operation: object) -> None:
        if self._operations.get(operation_id) is operation:
            del self._operations[operation_id]

    async def context(self) -> Any:
        """This connection's context (built on first use: a shared subscription needs none)."""
        if self._context is None:
            request = WebSocket(self._scope, self._receive, self._send)
            self._context = await self.server.view.get_context(request, request)
            self._context.connection_params = self.params
        return self._context

    async def _general(
        self,
        operation_id: str,
        query: str | None,
        variables: dict[str, Any] | None,
        operation_name: str | None,
    ) -> None:
        """An operation the hub does not share: its own execution (strawberry's stream)."""
        hub = self.server.hub
        me = asyncio.current_task()
        hub.general += 1
        try:
            source = await self.server.view.schema.stream(
                query,
                variable_values=variables,
                context_value=await self.context(),
                operation_name=operation_name,
            )
            async with aclosing(source):
                first = True
                async for result in source:
                    if first and isinstance(result, PreExecutionError):
                        self._forget(operation_id, me)
                        self._refuse(operation_id, result)
                        return
                    if not isinstance(result, ExecutionResult):
                        self._forget(operation_id, me)
                        errors = [formatted("Incremental delivery is not supported")]
                        self._post({"id": operation_id, "type": "error", "payload": errors})
                        return
                    first = False
                    payload = result_payload(result)
                    self._post({"id": operation_id, "type": "next", "payload": payload})
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log.error("live.operation_failed", error=repr(error), exc_info=error)
        finally:
            hub.general -= 1
        self._forget(operation_id, me)
        self._post({"id": operation_id, "type": "complete"})

    def _refuse(self, operation_id: str, result: PreExecutionError) -> None:
        assert result.errors
        reason = BaseGraphQLTransportWSHandler._get_pre_execution_close_reason(result.errors[0])
        if reason:
            self.close(4400, reason)
            return
        errors = [error.formatted for error in result.errors]
        self._post({"id": operation_id, "type": "error", "payload": errors})

    async def _shutdown(self) -> None:
        self.server.clock.forget(self)
        self.outbox.close()
        operations, self._operations = list(self._operations.values()), {}
        tasks = []
        for operation in operations:
            if isinstance(operation, Registration):
                self.server.hub.leave(operation)
            else:
                operation.cancel()
                tasks.append(operation)
        for task in tasks:  # let their `finally` blocks run (feed watchers released)
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await task


def _nothing() -> None:
    """A failed send: the server delivers `websocket.disconnect` next; `run` cleans up."""
