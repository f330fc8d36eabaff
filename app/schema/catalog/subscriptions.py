"""Live availability on the product page, over graphql-transport-ws, fed by the stock stream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.http import GraphQLRequestData
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    ErrorMessage,
    SubscribeMessage,
)

from app.domain.errors import DomainError, ErrorCode
from app.schema.catalog.queries import query_error
from app.schema.context import Context, Info
from app.schema.documents import DocumentRefused, TrustedDocuments
from app.services.stock_stream import StockFeed, VariantStock
from app.services.stock_stream.watched import WatchedProduct, current_figures, watched_product


@strawberry.type
class WarehouseQuantity:
    warehouse_id: strawberry.ID
    quantity: int


@strawberry.type(description="a variant's availability, sent whenever it changes")
class VariantAvailability:
    variant_id: strawberry.ID
    available: int = strawberry.field(description="units a shopper can buy now")
    availability: list[WarehouseQuantity] = strawberry.field(
        description="units per sellable warehouse (shops included)"
    )

    @classmethod
    def of(cls, figure: VariantStock, product: WatchedProduct) -> VariantAvailability:
        per = [
            WarehouseQuantity(warehouse_id=strawberry.ID(guid), quantity=figure.by_warehouse[pk])
            for pk, guid in product.warehouse_guids.items()
            if pk in figure.by_warehouse
        ]
        return cls(
            variant_id=strawberry.ID(product.variant_guids[figure.variant_id]),
            available=figure.available,
            availability=per,
        )


def _feed(info: Info) -> StockFeed:
    feed = info.context.stock_feed
    if feed is None:
        raise GraphQLError("live availability is unavailable", extensions={"code": "UNAVAILABLE"})
    if feed.watcher_count >= info.context.settings.max_subscriptions_per_process:
        error = DomainError(ErrorCode.TOO_MANY_ATTEMPTS, "too many live subscriptions", (), None, 5)
        raise query_error(error)
    return feed


@strawberry.type
class CatalogSubscription:
    @strawberry.subscription(
        description="a released product's variants: the current figures, then every change"
    )
    async def product_availability(
        self, info: Info, product_id: strawberry.ID
    ) -> AsyncGenerator[VariantAvailability, None]:
        feed = _feed(info)
        try:
            product = await watched_product(product_guid=str(product_id), now=feed.now())
        except DomainError as error:
            raise query_error(error) from None
        watch = feed.watch(product.variant_ids)  # before the first read: no change is missed
        try:
            for figure in await current_figures(feed, product.variant_ids, now=feed.now()):
                watch.offer(figure)
            async for figure in watch:
                yield VariantAvailability.of(figure, product)
        finally:
            await watch.aclose()


class KeepAlive:
    """One task per process pings every acknowledged connection each `interval` seconds (a
    sleeping task per connection would cost memory on every idle socket). A peer that is
    gone fails the send; its handler's own loop then ends and cancels its subscriptions."""

    def __init__(self) -> None:
        self._handlers: dict[LiveSocketHandler, None] = {}  # insertion-ordered set
        self._task: asyncio.Task[None] | None = None

    def add(self, handler: LiveSocketHandler, interval: float) -> None:
        self._handlers[handler] = None
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._ping(interval), name="ws-keep-alive")

    def discard(self, handler: LiveSocketHandler) -> None:
        self._handlers.pop(handler, None)

    @property
    def connections(self) -> int:
        return len(self._handlers)

    async def _ping(self, interval: float) -> None:
        while self._handlers:
            await asyncio.sleep(interval)
            for handler in list(self._handlers):
                try:
                    await handler.send_message({"type": "ping"})
                except Exception:  # the socket is gone: forget it
                    self.discard(handler)


KEEP_ALIVE = KeepAlive()


class LiveSocketHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws with keep-alive: a `ping` every `WS_PING_SECONDS` once the
    connection is acknowledged (the client answers `pong`)."""

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        await super().handle_connection_init(message)
        # super() cancelled the init timeout's task: the loop lets it finish; an idle socket
        # need not keep it (about 0.9 KiB each)
        self.connection_init_timeout_task = None
        if self.connection_acknowledged:
            KEEP_ALIVE.add(self, self.context.settings.ws_ping_seconds)

    async def shutdown(self) -> None:
        KEEP_ALIVE.discard(self)
        await super().shutdown()

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        """Trusted documents as over HTTP: a registered `documentId` (or APQ hash) stands for
        its text; in strict mode an anonymous free-form document is refused."""
        documents: TrustedDocuments | None = getattr(self.view, "documents", None)
        payload: dict[str, Any] = dict(message.get("payload") or {})
        if documents is not None and documents.mode != "off":
            data = GraphQLRequestData(
                query=payload.get("query"),
                variables=payload.get("variables"),
                operation_name=payload.get("operationName"),
                extensions=payload.get("extensions"),
            )
            trusted = documents.needs_trust(data) and await self.context.integration() is not None
            try:
                admitted = documents.admit("WS", data, payload.get("documentId"), trusted)
            except DocumentRefused as error:
                refusal = GraphQLError(error.message, extensions={"code": error.code}).formatted
                reply: ErrorMessage = {"id": message["id"], "type": "error", "payload": [refusal]}
                await self.send_message(reply)
                return
            payload["query"] = admitted.data.query
        await super().handle_subscribe({**message, "payload": payload})  # type: ignore[typeddict-item]
