"""Make the Slack calls the outbox holds: post a request, update it, remind, note one person.

Each call re-reads the request, so the message shows its state at the moment it is sent. One
channel gets at most one message a second from this process (Slack's limit per channel; a 429
from Slack is still honoured by the client and the outbox).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from datetime import datetime
from typing import Literal, Protocol

import structlog

from app.domain.orders import DeliveryKind
from app.domain.outbound import ShopRequestCall
from app.domain.outbox import EventKind
from app.domain.reservations import ShopConfirmation
from app.domain.shop_confirmation import RequestState, ShopRules
from app.integrations.errors import RejectedError
from app.integrations.slack.client import PostedMessage
from app.integrations.slack.mapping import (
    ConfirmationLine,
    ConfirmationRequest,
    LineOutcome,
    SlackMessage,
    decided_message,
    reminder_message,
    request_message,
)
from app.models.catalog import ProductImage, Warehouse
from app.models.orders import Order
from app.models.shops import ShopRequest, ShopRequestLine
from app.services.jobs import JobQueue, enqueue_quietly
from app.services.shops.asking import mark_posted
from app.services.shops.deciding import give_up_unreachable

log = structlog.get_logger(__name__)
UNREACHABLE = ("channel_not_found", "not_in_channel", "is_archived", "channel_is_archived")
PER_CHANNEL_SECONDS = 1.0


class SlackWebPort(Protocol):
    async def post_message(
        self, channel: str, text: str, blocks: list[dict[str, object]], thread_ts: str | None = None
    ) -> PostedMessage: ...
    async def update_message(
        self, channel: str, ts: str, text: str, blocks: list[dict[str, object]]
    ) -> None: ...
    async def post_ephemeral(self, channel: str, user: str, text: str) -> None: ...


class ShopSlack:
    """The Slack side of shop confirmations, as the outbox's sender for the Slack target."""

    def __init__(
        self,
        web: SlackWebPort,
        rules: ShopRules,
        jobs: JobQueue,
        *,
        per_channel_seconds: float = PER_CHANNEL_SECONDS,
    ) -> None:
        self._web = web
        self._rules = rules
        self._jobs = jobs
        self.per_channel_seconds = per_channel_seconds  # wall seconds between a channel's calls
        self._last: dict[str, float] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def aclose(self) -> None:
        close = getattr(self._web, "close", None)
        if close is not None:
            await close()

    async def perform(self, kind: EventKind, call: ShopRequestCall, now: datetime) -> None:
        """Make one call; RetryableError to try again later, RejectedError to park it."""
        async with self._locks.setdefault(call.channel, asyncio.Lock()):
            await self._pace(call.channel)
            try:
                await self._perform(kind, call, now)
            finally:
                self._last[call.channel] = time.monotonic()

    async def _pace(self, channel: str) -> None:
        wait = self._last.get(channel, 0.0) + self.per_channel_seconds - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)

    async def _perform(self, kind: EventKind, call: ShopRequestCall, now: datetime) -> None:
        if kind is EventKind.SHOP_REQUEST_NOTE:
            await self._quietly(self._web.post_ephemeral(call.channel, call.user or "", call.text))
        elif kind is EventKind.SHOP_REQUEST_POST:
            await self._post(call, now)
        elif kind is EventKind.SHOP_REQUEST_UPDATE:
            await self._update(call)
        else:
            await self._remind(call)

    async def _post(self, call: ShopRequestCall, now: datetime) -> None:
        request = await ShopRequest.get_or_none(id=call.request_id)
        if request is None or request.state is not RequestState.POSTING:
            return  # it moved on before Slack took it: nobody must answer it now
        view = await _view(request, deadline=now + self._rules.window)
        try:
            posted = await self._web.post_message(call.channel, view.text, view.blocks)
        except RejectedError as error:
            if any(str(error).startswith(code) for code in UNREACHABLE):
                await give_up_unreachable(
                    request_id=request.id, note=str(error)[:200], rules=self._rules, now=now
                )
            raise
        opened = await mark_posted(
            request_id=request.id,
            channel_id=posted.channel,
            ts=posted.ts,
            now=now,
            window=self._rules.window,
        )
        if opened is not None:
            await self._schedule(opened)

    async def _schedule(self, request: ShopRequest) -> None:
        """Deferred jobs for the reminder and the deadline (the sweep catches lost ones)."""
        for function, at in (
            ("shop_request_remind", request.remind_at),
            ("shop_request_deadline", request.deadline),
        ):
            await enqueue_quietly(
                self._jobs, function, request.id, job_id=f"{function}:{request.id}", defer_until=at
            )

    async def _update(self, call: ShopRequestCall) -> None:
        request = await ShopRequest.get_or_none(id=call.request_id)
        if request is None or request.message_ts is None or request.channel is None:
            return
        view = await _view(request, deadline=request.deadline)
        await self._quietly(
            self._web.update_message(request.channel, request.message_ts, view.text, view.blocks)
        )

    async def _remind(self, call: ShopRequestCall) -> None:
        request = await ShopRequest.get_or_none(id=call.request_id)
        if request is None or request.state is not RequestState.OPEN or request.message_ts is None:
            return  # answered meanwhile
        assert request.channel is not None and request.deadline is not None
        view = reminder_message(await _request(request, request.deadline))
        await self._quietly(
            self._web.post_message(
                request.channel, view.text, view.blocks, thread_ts=request.message_ts
            )
        )

    async def _quietly(self, call: Awaitable[object]) -> None:
        """An update, a reminder or a note Slack refuses (the message was deleted, its edit
        window closed) is logged, not parked: it must not hold up the channel's next request."""
        try:
            await call
        except RejectedError as error:
            log.warning("slack.call_refused", error=str(error)[:300])


async def _view(request: ShopRequest, *, deadline: datetime | None) -> SlackMessage:
    confirmation = await _request(request, deadline or request.created_at)
    outcomes = await _outcomes(request)
    if outcomes:
        return decided_message(confirmation, outcomes)
    return request_message(confirmation)


async def _request(request: ShopRequest, deadline: datetime) -> ConfirmationRequest:
    order = await Order.get(id=request.order_id)
    shop = await Warehouse.get(id=request.warehouse_id)
    lines = (
        await ShopRequestLine.filter(request_id=request.id)
        .order_by("id")
        .prefetch_related("order_line__variant")
    )
    photos = await _photos([line.order_line.variant.product_id for line in lines])
    delivery: Literal["courier", "pickup"] = (
        "pickup" if order.delivery_kind is DeliveryKind.PICKUP else "courier"
    )
    return ConfirmationRequest(
        order_number=order.number,
        delivery=delivery,
        deadline=deadline,
        on_duty=shop.slack_on_duty,
        lines=tuple(
            ConfirmationLine(
                key=str(line.id),
                name=line.order_line.product_name,
                sku=line.order_line.sku,
                quantity=line.quantity,
                size=line.order_line.variant.size or None,
                colour=line.order_line.variant.colour or None,
                photo_url=photos.get(line.order_line.variant.product_id),
            )
            for line in lines
        ),
    )


async def _photos(product_ids: list[int]) -> dict[int, str]:
    images = await ProductImage.filter(product_id__in=product_ids).order_by("-position", "-id")
    return {image.product_id: image.url for image in images}  # the first position wins


async def _outcomes(request: ShopRequest) -> dict[str, LineOutcome]:
    kinds: dict[ShopConfirmation, Literal["confirmed", "declined", "expired", "withdrawn"]] = {
        ShopConfirmation.CONFIRMED: "confirmed",
        ShopConfirmation.DECLINED: "declined",
        ShopConfirmation.TIMED_OUT: "expired",
        ShopConfirmation.WITHDRAWN: "withdrawn",
    }
    return {
        str(line.id): LineOutcome(
            kind=kinds[line.state], at=line.decided_at, user_id=line.decided_by, reason=line.reason
        )
        for line in await ShopRequestLine.filter(request_id=request.id)
        if line.state in kinds and line.decided_at is not None
    }
