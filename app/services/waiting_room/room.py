"""Joining a drop's waiting room, asking where one stands, and the admission tick.

The tick runs in whichever process a waiter's poll reaches first once a tick is due (a lock in
redis with a fencing token: one tick per drop per QUEUE_TICK_SECONDS across every process), so
the queue moves while anyone waits and needs no process of its own (a process with live
`queueStatus` subscriptions also ticks each drop they watch: hub.py). Each tick counts the
drop's free units from the stock stream (one live read when the stream cannot vouch for them)
and admits through the domain's budget in one atomic redis step (admission.py).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.domain import waiting_room as rules
from app.domain.catalog import parse_guid
from app.domain.errors import DomainError, ErrorCode
from app.domain.waiting_room import (
    AdmissionPass,
    Shuffler,
    Ticket,
    TicketStatus,
    WaiterState,
)
from app.models.catalog import Collection, QueueMode
from app.services.waiting_room import store
from app.services.waiting_room.admission import admit_within_budget
from app.services.waiting_room.config import RoomConfig
from app.services.waiting_room.stock import TickSources

log = structlog.get_logger(__name__)
_LOTS = secrets.SystemRandom()  # the lottery's randomness in production


@dataclass(frozen=True, slots=True, kw_only=True)
class WaiterView:
    """What a waiter is told, and when to ask again."""

    state: WaiterState
    token: str | None  # the place's signed token (joinQueue answers it)
    position: int | None  # 1 = next; None before the draw or when not waiting
    estimate: timedelta | None
    poll_after: int  # seconds
    release_at: datetime | None
    queue_pass: str | None  # ADMITTED: the pass to send as X-Queue-Pass
    pass_expires_at: datetime | None


def closed_view(tick: timedelta, token: str | None = None) -> WaiterView:
    state = WaiterState.CLOSED
    return WaiterView(
        state=state,
        token=token,
        position=None,
        estimate=None,
        poll_after=rules.poll_after(state, tick=tick),
        release_at=None,
        queue_pass=None,
        pass_expires_at=None,
    )


async def join_queue(
    *,
    redis: Redis,
    config: RoomConfig,
    collection_guid: str,
    device: str,
    now: datetime,
    rng: Shuffler = _LOTS,
    sources: TickSources | None = None,
) -> WaiterView:
    """Take a place in a drop's waiting room (the device's own place if it has one): in the
    pre-queue before the release, else at the back of the line."""
    collection = await _queued_collection(collection_guid)
    rules.check_may_join(
        release_at=collection.release_at, opens_before=config.opens_before, now=now
    )
    if not config.key:
        log.error("queue.no_secret_key")  # prod without QUEUE_SECRET_KEY: closed, not forgeable
        return closed_view(config.tick)
    keys = store.Keys(collection.id)
    try:
        epoch, number = await store.join(
            redis,
            keys,
            device=device,
            epoch=secrets.token_hex(8),
            pre=rules.joins_pre_queue(release_at=collection.release_at, now=now),
            release_ms=_ms(collection.release_at),
        )
    except RedisError as error:
        log.warning("queue.unavailable", collection=collection.id, error=repr(error))
        return closed_view(config.tick)
    ticket = Ticket(collection_id=collection.id, epoch=epoch, number=number, device=device)
    token = rules.seal_ticket(ticket, config.key)
    return await _standing(redis, config, ticket, token, now, rng, sources)


async def _queued_collection(collection_guid: str) -> Collection:
    path = ("collectionId",)
    try:
        guid = parse_guid(collection_guid, path=path)
    except DomainError:
        guid = ""
    collection = await Collection.get_or_none(guid=guid)
    if collection is None or collection.queue_mode == QueueMode.OFF:
        raise DomainError(ErrorCode.NOT_FOUND, "no waiting room for this collection", path)
    return collection


async def queue_status(
    *,
    redis: Redis,
    config: RoomConfig,
    token: str,
    device: str,
    now: datetime,
    rng: Shuffler = _LOTS,
    sources: TickSources | None = None,
) -> WaiterView:
    """Where the place of `token` stands (only from the device that joined); may run the
    drop's admission tick when one is due."""
    ticket = rules.open_ticket(token, config.key) if config.key else None
    if ticket is None or ticket.device != device:
        raise DomainError(ErrorCode.INVALID_TOKEN, "not a queue token of this device", ("token",))
    try:
        return await _standing(redis, config, ticket, token, now, rng, sources)
    except RedisError as error:
        log.warning("queue.unavailable", collection=ticket.collection_id, error=repr(error))
        return closed_view(config.tick, token)


async def _standing(
    redis: Redis,
    config: RoomConfig,
    ticket: Ticket,
    token: str,
    now: datetime,
    rng: Shuffler,
    sources: TickSources | None,
) -> WaiterView:
    keys, fence = store.Keys(ticket.collection_id), secrets.token_hex(8)

    async def read() -> store.Standing:
        return await store.standing(
            redis,
            keys,
            ticket=ticket.number,
            epoch=ticket.epoch,
            now_ms=_ms(now),
            tick_ms=_ms_of(config.tick),
            fence=fence,
        )

    found = await read()
    if found.should_tick:
        try:
            await tick(
                redis=redis,
                config=config,
                collection_id=ticket.collection_id,
                fence=fence,
                now=now,
                rng=rng,
                sources=sources,
            )
        except RedisError:
            raise
        except Exception:  # a database hiccup: this waiter is answered, the next poll ticks
            log.exception("queue.tick_failed", collection=ticket.collection_id)
        found = await read()
    return waiter_view(found, ticket, token, config, now)


def waiter_view(
    found: store.Standing, ticket: Ticket, token: str, config: RoomConfig, now: datetime
) -> WaiterView:
    known = found.status in {s.value for s in TicketStatus}
    status = TicketStatus(found.status) if known else None
    expires = _instant(found.pass_expiry_ms)
    release_at = _instant(found.release_ms)
    state = rules.waiter_state(status, sold_out=found.sold_out, pass_expires_at=expires, now=now)
    admission = None
    if state is WaiterState.ADMITTED and expires is not None:
        admission = AdmissionPass(ticket=ticket, expires_at=expires)
    return WaiterView(
        state=state,
        token=token,
        position=found.place,
        estimate=rules.estimate_wait(found.place, found.admitted_last_minute)
        if found.place
        else None,
        poll_after=rules.poll_after(
            state,
            tick=config.tick,
            until_release=release_at - now if release_at and found.place is None else None,
            until_pass_expiry=expires - now if expires else None,
        ),
        release_at=release_at,
        queue_pass=rules.seal_pass(admission, config.key) if admission else None,
        pass_expires_at=expires if admission else None,
    )


async def tick(
    *,
    redis: Redis,
    config: RoomConfig,
    collection_id: int,
    fence: str,
    now: datetime,
    rng: Shuffler = _LOTS,
    sources: TickSources | None = None,
) -> int:
    """One admission step of a drop (the caller holds the tick lock under `fence`; "" runs it
    without one: admission is atomic either way): the draw once the release has come, then
    passes settled and as many admitted as the free units allow, in one redis step. The free
    units come from the stock stream (no query), else one live read. Answers how many."""
    sources = sources or TickSources.fresh()
    keys = store.Keys(collection_id)
    epoch, drawn, began_ms = await store.draw_state(redis, keys)  # redis's clock, before reading
    shape = await sources.shapes.get(collection_id)
    if epoch is None or shape is None or now < shape.release_at:
        return 0
    if not drawn:
        lots = rules.draw_lots(await store.pre_queue(redis, keys), rng)
        await store.draw(redis, keys, epoch=epoch, drawn=lots)
    reading = await sources.figures.reading(shape.variant_ids, now)
    done = await admit_within_budget(
        redis,
        keys,
        fence=fence,
        now_ms=_ms(now),
        expiry_ms=_ms(rules.pass_expiry(now, config.pass_duration)),
        per_tick=config.admit_per_tick,
        free_units=reading.stock.free_units,
        sold_out=reading.stock.sold_out,
        release_ms=_ms(shape.release_at),
        # a mark in the very millisecond the reading began may be after it: not yet visible
        visible_before_ms=began_ms - int(reading.lag.total_seconds() * 1000) - 1,
    )
    return max(0, done.admitted)


@dataclass(frozen=True, slots=True, kw_only=True)
class RoomFigures:
    """An admin's view of one drop's waiting room."""

    collection_id: int
    available: bool  # False: redis cannot answer (the queue is closed)
    figures: store.Figures | None


async def room_figures(*, redis: Redis, collection_guid: str, now: datetime) -> RoomFigures:
    """Queue length, admitted so far, passes live, whether and since when it is sold out."""
    collection = await _queued_collection(collection_guid)
    try:
        found = await store.figures(redis, store.Keys(collection.id), now_ms=_ms(now))
    except RedisError as error:
        log.warning("queue.unavailable", collection=collection.id, error=repr(error))
        return RoomFigures(collection_id=collection.id, available=False, figures=None)
    return RoomFigures(collection_id=collection.id, available=True, figures=found)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _ms_of(span: timedelta) -> int:
    return max(1, int(span.total_seconds() * 1000))


def _instant(ms: int | None) -> datetime | None:
    return datetime.fromtimestamp(ms / 1000, UTC) if ms is not None else None
