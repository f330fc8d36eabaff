"""One upstream execution per shareable subscription and variables, fanned out."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any, Protocol

import structlog
from graphql import GraphQLError
from strawberry.schema import BaseSchema
from strawberry.types.execution import ExecutionResult, PreExecutionError
from strawberry.utils.aio import aclosing

from app.schema.live.shared import SharedDocument

log = structlog.get_logger("live")

ChannelKey = tuple[str, str | None, str]


class Sink(Protocol):
    """A connection that receives a channel's events (a websocket, an SSE stream)."""

    def next(self, registration: Registration, payload: str, key: object) -> None: ...

    def error(self, registration: Registration, errors: str) -> None: ...

    def complete(self, registration: Registration) -> None: ...


class Registration:
    """One operation of one connection on a channel: all an idle subscriber holds."""

    __slots__ = ("channel", "operation_id", "sink")

    def __init__(self, sink: Sink, operation_id: str, channel: Channel) -> None:
        self.sink, self.operation_id, self.channel = sink, operation_id, channel


def result_payload(result: ExecutionResult) -> dict[str, Any]:
    """An execution result as graphql-transport-ws `next` and SSE `next` carry it."""
    payload: dict[str, Any] = {"data": result.data}
    if result.errors:
        payload["errors"] = [error.formatted for error in result.errors]
    if result.extensions:
        payload["extensions"] = result.extensions
    return payload


class Channel:
    """The shared execution: the newest payload per identity (replayed to joiners)."""

    __slots__ = ("document", "hub", "key", "operation_name", "registrations", "replay", "task")

    def __init__(
        self,
        hub: LiveHub,
        key: ChannelKey,
        document: SharedDocument,
        operation_name: str | None,
        variables: dict[str, Any] | None,
    ) -> None:
        self.hub, self.key, self.document = hub, key, document
        self.operation_name = operation_name
        self.registrations: dict[Registration, None] = {}  # insertion-ordered set
        self.replay: dict[object, str] = {}
        self.task = asyncio.get_running_loop().create_task(self._run(variables))

    def _identity(self, data: object) -> object:
        if not isinstance(data, dict):
            return None
        root = data.get(self.document.root_key)
        return root.get(self.document.identity_key) if isinstance(root, dict) else None

    async def _run(self, variables: dict[str, Any] | None) -> None:
        hub = self.hub
        try:
            source = await hub.schema.subscribe(
                self.document.text,
                variable_values=variables,
                context_value=hub.context(),
                operation_name=self.operation_name,
            )
            async with aclosing(source):
                async for result in source:
                    if isinstance(result, PreExecutionError):
                        errors = [error.formatted for error in result.errors or ()]
                        hub.end(self, errors=hub.encode(errors))
                        return
                    self._fan_out(result)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # a bug upstream: its subscribers are told it is over
            log.error("live.channel_failed", error=repr(error), exc_info=error)
        hub.end(self)

    def _fan_out(self, result: ExecutionResult) -> None:
        payload = self.hub.encode(result_payload(result))
        key = self._identity(result.data)
        if key is None:  # an error event: who joins later starts afresh
            self.hub.unlist(self)
        else:
            self.replay[key] = payload
        for registration in list(self.registrations):
            registration.sink.next(registration, payload, key)


class LiveHub:
    """Channels by (canonical document, operation name, canonical variables), and the
    process's live-operation counters (shared registrations + general operations)."""

    def __init__(
        self,
        schema: BaseSchema,
        context: Callable[[], object],
        encode: Callable[[object], str],
    ) -> None:
        self.schema = schema
        self.context = context  # an anonymous context: shareable fields ignore the caller
        self.encode = encode
        self._channels: dict[ChannelKey, Channel] = {}
        self._running: set[Channel] = set()
        self.registrations = 0
        self.general = 0  # general-path operations (counted by the connections)

    @property
    def live(self) -> int:
        """Live operations in this process (the per-process limit counts these)."""
        return self.registrations + self.general

    @property
    def channels(self) -> int:
        """Upstream executions running."""
        return len(self._running)

    def join(
        self,
        sink: Sink,
        operation_id: str,
        key: ChannelKey,
        document: SharedDocument,
        operation_name: str | None,
        variables: dict[str, Any] | None,
    ) -> Registration:
        """Register an operation; the newest event per identity is posted at once."""
        channel = self._channels.get(key)
        if channel is None:
            channel = Channel(self, key, document, operation_name, variables)
            self._channels[key] = channel
            self._running.add(channel)
        registration = Registration(sink, operation_id, channel)
        channel.registrations[registration] = None
        self.registrations += 1
        for identity, payload in channel.replay.items():
            sink.next(registration, payload, identity)
        return registration

    def leave(self, registration: Registration) -> None:
        """The connection stopped the operation or went away (idempotent); the last one
        leaving stops the upstream."""
        channel = registration.channel
        if channel.registrations.pop(registration, False) is not False:
            self.registrations -= 1
            if not channel.registrations:
                self.unlist(channel)
                self._running.discard(channel)
                channel.task.cancel()

    def unlist(self, channel: Channel) -> None:
        """New subscribers get a new channel from now on."""
        if self._channels.get(channel.key) is channel:
            del self._channels[channel.key]

    def end(self, channel: Channel, *, errors: str | None = None) -> None:
        """The upstream finished (or refused the document): tell every subscriber."""
        self.unlist(channel)
        self._running.discard(channel)
        registrations, channel.registrations = list(channel.registrations), {}
        self.registrations -= len(registrations)
        for registration in registrations:
            if errors is None:
                registration.sink.complete(registration)
            else:
                registration.sink.error(registration, errors)

    async def close(self) -> None:
        tasks = [channel.task for channel in self._running]
        for channel in list(self._running):
            self.end(channel)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def formatted(message: str, code: str | None = None) -> dict[str, Any]:
    extensions = None if code is None else {"code": code}
    return dict(GraphQLError(message, extensions=extensions).formatted)
