"""GraphQL over SSE, distinct connections mode (graphql-sse's PROTOCOL.md): a GET or POST to
/graphql with `Accept: text/event-stream` streams `next` events, then `complete`.

The same rules as the websocket: trusted documents as for HTTP queries (a mutation over GET
is 405), shareable subscriptions join the hub's channel, the per-process limit, plus a cap of
open streams per client address (429). Refusals of the document itself come as a `next`
event with the errors, as the protocol asks. Keep-alive comments come from the process's
timer; the client closing the connection ends the operation.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import structlog
from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from strawberry.types.execution import ExecutionResult, PreExecutionError
from strawberry.utils.aio import aclosing

from app.schema import documents
from app.schema.documents import NO_STORE, DocumentRefused
from app.schema.live.hub import Registration, formatted, result_payload
from app.schema.live.outbox import Outbox
from app.schema.live.shared import channel_key, shared_document
from app.schema.live.socket import too_many_live

if TYPE_CHECKING:
    from app.schema.live.server import LiveServer

log = structlog.get_logger("live")

HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", NO_STORE.encode()),
    (b"x-accel-buffering", b"no"),  # nginx: pass each event on at once
]
KEEP_ALIVE = b":\n\n"
COMPLETE = b"event: complete\ndata:\n\n"


def wants_event_stream(scope: Scope) -> bool:
    """`Accept: text/event-stream` without a JSON type (EventSource, graphql-sse). A client
    that also accepts JSON (urql lists every type it can read) gets the usual answer, and
    the response cache."""
    for name, value in scope.get("headers", ()):
        if name == b"accept":
            return b"text/event-stream" in value and b"json" not in value
    return False


def _chunk(body: bytes, *, more: bool = True) -> dict[str, Any]:
    return {"type": "http.response.body", "body": body, "more_body": more}


class SseStream:
    """One SSE response: a sink for one operation."""

    __slots__ = ("_operation", "address", "outbox", "server")

    def __init__(self, server: LiveServer, send: Send, address: str) -> None:
        self.server, self.address = server, address
        self.outbox = Outbox(send, _nothing)
        self._operation: Registration | asyncio.Task[None] | None = None

    def keep_alive(self) -> None:
        self.outbox.post(_chunk(KEEP_ALIVE))

    def init_timed_out(self) -> None:
        """SSE has no init."""

    def next(self, registration: Registration | None, payload: str, key: object) -> None:
        self.outbox.post(_chunk(f"event: next\ndata: {payload}\n\n".encode()), key)

    def error(self, registration: Registration | None, errors: str) -> None:
        self.next(registration, f'{{"errors":{errors}}}', None)
        self.complete(registration)

    def complete(self, registration: Registration | None) -> None:
        self._operation = None
        self.server.clock.forget(self)
        self.outbox.post(_chunk(COMPLETE, more=False))

    async def run(self, receive: Receive, payload: dict[str, Any], request: Request) -> None:
        server = self.server
        admitted = await server.admit(request.method, payload, lambda: _context(server, request))
        # DocumentRefused (405) came before this: a plain HTTP answer
        self.outbox.post({"type": "http.response.start", "status": 200, "headers": HEADERS})
        if isinstance(admitted, GraphQLError):
            self.error(None, server.encode([admitted.formatted]))
        elif server.hub.live >= server.max_per_process:
            self.error(None, server.encode([too_many_live()]))
        else:
            server.clock.keep(self)
            self._start(admitted, request)
        try:
            while (await receive())["type"] != "http.disconnect":
                pass
        finally:
            server.clock.forget(self)
            operation, self._operation = self._operation, None
            if isinstance(operation, Registration):
                server.hub.leave(operation)
            elif operation is not None:
                operation.cancel()
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await operation
            self.outbox.close()

    def _start(
        self, admitted: tuple[str | None, dict[str, Any] | None, str | None], request: Request
    ) -> None:
        query, variables, name = admitted
        document = shared_document(query, name) if query else None
        key = None if document is None else channel_key(document, name, variables)
        if document is not None and key is not None:
            self._operation = self.server.hub.join(self, "sse", key, document, name, variables)
        else:
            run = self._general(query, variables, name, request)
            self._operation = asyncio.get_running_loop().create_task(run)

    async def _general(
        self,
        query: str | None,
        variables: dict[str, Any] | None,
        name: str | None,
        request: Request,
    ) -> None:
        server = self.server
        server.hub.general += 1
        try:
            source = await server.view.schema.stream(
                query,
                variable_values=variables,
                context_value=await _context(server, request),
                operation_name=name,
            )
            async with aclosing(source):
                async for result in source:
                    if isinstance(result, PreExecutionError):
                        errors = [dict(error.formatted) for error in result.errors or ()]
                        self.error(None, server.encode(errors))
                        return
                    if not isinstance(result, ExecutionResult):
                        errors = [formatted("Incremental delivery is not supported")]
                        self.error(None, server.encode(errors))
                        return
                    self.next(None, server.encode(result_payload(result)), None)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log.error("live.sse_failed", error=repr(error), exc_info=error)
        finally:
            server.hub.general -= 1
        self.complete(None)


async def _context(server: LiveServer, request: Request) -> Any:
    return await server.view.get_context(request, Response())


def _nothing() -> None:
    """A failed send: the server reports `http.disconnect` next."""


async def serve_sse(server: LiveServer, scope: Scope, receive: Receive, send: Send) -> None:
    request = Request(scope, receive)
    if request.method not in ("GET", "POST"):
        await _refuse(request, send, DocumentRefused(405, "METHOD_NOT_ALLOWED", "GET or POST"))
        return
    payload = await _payload(request)
    if payload is None:
        await _refuse(
            request, send, DocumentRefused(400, "BAD_REQUEST", "the request must be a JSON object")
        )
        return
    address = request.client.host if request.client else ""
    open_streams = server.sse_streams.get(address, 0)
    if open_streams >= server.settings.max_sse_streams_per_client:
        await _refuse(
            request, send, DocumentRefused(429, "TOO_MANY_ATTEMPTS", "too many open streams")
        )
        return
    server.sse_streams[address] = open_streams + 1
    try:
        await SseStream(server, send, address).run(receive, payload, request)
    except DocumentRefused as error:  # a mutation over GET, before the stream started
        await _refuse(request, send, error)
    finally:
        left = server.sse_streams.get(address, 1) - 1
        if left > 0:
            server.sse_streams[address] = left
        else:
            server.sse_streams.pop(address, None)


async def _payload(request: Request) -> dict[str, Any] | None:
    if request.method == "GET":
        params = dict(parse_qsl(request.url.query, keep_blank_values=True))
        payload: dict[str, Any] = {
            k: params[k] for k in ("query", "operationName", "documentId") if k in params
        }
        try:
            for field in ("variables", "extensions"):
                if field in params:
                    payload[field] = json.loads(params[field])
        except ValueError:
            return None
        return payload
    try:
        value = json.loads(await request.body())
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


async def _refuse(request: Request, send: Send, error: DocumentRefused) -> None:
    """The typed refusal every GraphQL request gets (documents.refusal), no-store."""
    response = documents.finish(request, documents.refusal(error))
    await response(request.scope, request.receive, send)
