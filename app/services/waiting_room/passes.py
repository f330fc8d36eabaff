"""The pass check at the cart and at checkout: a queued drop's variants need a live pass.

Cart and checkout call `require_pass` / `require_passes` with the collection they already
loaded: for a drop without a waiting room it returns at once (no query, no redis call). A
pass checked is a pass in use: it is extended (up to its cap), and once the cart's or the
order's transaction committed, `note_held` / `note_used` tell admission that its holder's
units are out of the free ones (admission.py counts them)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.domain.waiting_room import (
    AdmissionPass,
    check_pass_holder,
    open_pass,
    pass_is_live,
    queue_pass_required,
)
from app.models.catalog import Collection, QueueMode
from app.services.waiting_room.admission import mark_held, mark_used, touch_pass, unmark_held
from app.services.waiting_room.store import Keys

log = structlog.get_logger(__name__)

Path = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class QueueGate:
    """What checks a pass: the one the shopper sent (X-Queue-Pass), the key, redis; how far a
    pass in use extends. One per request: it remembers the passes it let through."""

    presented: str | None
    key: bytes
    redis: Redis
    extend: timedelta = timedelta(minutes=5)
    cap: timedelta = timedelta(minutes=30)
    checked: list[AdmissionPass] = field(default_factory=list)
    held: list[datetime] = field(default_factory=list)  # expiries of the holds made with them


async def require_pass(
    gate: QueueGate | None,
    collection: Collection | None,
    *,
    device: str | None,
    now: datetime,
    path: Path,
) -> None:
    """Refuse a queued drop's variant without a live pass of this device (QUEUE_PASS_REQUIRED
    at `path`); anything else passes untouched."""
    if collection is None or collection.queue_mode == QueueMode.OFF:
        return
    admission = _opened(gate)
    check_pass_holder(admission, collection_id=collection.id, device=device, path=path)
    assert gate is not None and admission is not None  # check_pass_holder refused otherwise
    if not await _still_live(gate, admission, now):
        raise queue_pass_required(path)
    if admission not in gate.checked:
        gate.checked.append(admission)


async def require_passes(
    gate: QueueGate | None,
    collections: Sequence[Collection | None],
    *,
    device: str | None,
    now: datetime,
) -> None:
    """`require_pass` for an order's lines (their collections in the order the cart lists
    them), each queued drop once, refused at its first line."""
    seen: set[int] = set()
    for index, collection in enumerate(collections):
        if collection is None or collection.id in seen:
            continue
        seen.add(collection.id)
        await require_pass(gate, collection, device=device, now=now, path=("lines", index))


def _opened(gate: QueueGate | None) -> AdmissionPass | None:
    if gate is None or not gate.presented or not gate.key:
        return None
    return open_pass(gate.presented, gate.key)


async def _still_live(gate: QueueGate, admission: AdmissionPass, now: datetime) -> bool:
    """A signed, unexpired pass is refused only when redis says it was used up (an order was
    placed with it) or ran out (an extended pass lives by redis's expiry, not the token's).
    A queue redis no longer knows (lost, flushed) or cannot reach closes to newcomers, but
    lets the shoppers it admitted finish within the token's time: stock stays exact in the
    database. A live pass is extended: the shopper is using it."""
    ticket = admission.ticket
    try:
        state, _ = await touch_pass(
            gate.redis,
            Keys(ticket.collection_id),
            ticket=ticket.number,
            epoch=ticket.epoch,
            now_ms=_ms(now),
            extend_ms=_ms_of(gate.extend),
            cap_ms=_ms_of(gate.cap),
        )
    except RedisError as error:
        log.warning("queue.pass_unchecked", collection=ticket.collection_id, error=repr(error))
        return pass_is_live(admission.expires_at, now)
    if state == "other":  # the queue was reset: the token's own time decides
        return pass_is_live(admission.expires_at, now)
    return state == "live"


def _presented(gate: QueueGate | None, collection: Collection | None) -> AdmissionPass | None:
    """The pass sent with this request for this queued drop, if it is one we signed."""
    if collection is None or collection.queue_mode == QueueMode.OFF:
        return None
    admission = _opened(gate)
    return admission if admission and admission.ticket.collection_id == collection.id else None


async def note_held(gate: QueueGate | None, *, until: datetime | None) -> None:
    """After a cart change committed holds of a queued drop: the passes it checked are served
    (their units are out of the free ones) until `until`. Best effort: without the mark a
    pass counts as unserved, which only admits fewer."""
    if gate is None:
        return
    for admission in gate.checked:
        ticket = admission.ticket
        try:  # the mark (redis's clock: after the commit) orders it against stock reads
            await mark_held(
                gate.redis,
                Keys(ticket.collection_id),
                ticket=ticket.number,
                epoch=ticket.epoch,
                until_ms=_ms(until) if until is not None else None,
            )
        except RedisError as error:
            log.warning("queue.mark_failed", collection=ticket.collection_id, error=repr(error))


async def note_used(gate: QueueGate | None) -> None:
    """After an order committed with a queued drop's lines: the passes it checked are used
    (once: the script changes only a live pass). Best effort: a pass left live counts as
    unserved until it expires, which only admits fewer."""
    if gate is None:
        return
    for admission in gate.checked:
        ticket = admission.ticket
        try:
            keys = Keys(ticket.collection_id)
            await mark_used(gate.redis, keys, ticket=ticket.number, epoch=ticket.epoch)
        except RedisError as error:
            log.warning("queue.mark_failed", collection=ticket.collection_id, error=repr(error))


async def note_released(gate: QueueGate | None, collection: Collection | None) -> None:
    """A queued drop's line removed: its pass counts as unserved again (the safe side)."""
    admission = _presented(gate, collection)
    if gate is None or admission is None:
        return
    ticket = admission.ticket
    try:
        await unmark_held(gate.redis, Keys(ticket.collection_id), ticket=ticket.number)
    except RedisError as error:
        log.warning("queue.unmark_failed", collection=ticket.collection_id, error=repr(error))


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _ms_of(span: timedelta) -> int:
    return int(span.total_seconds() * 1000)


async def keep_alive(gate: QueueGate | None, *, device: str, now: datetime) -> None:
    """A checkout step (contact, delivery) with a pass: extend it like a cart change does, so
    an active shopper keeps it while typing an address. Requires nothing: a step without a
    pass, or with one not of this device, is left alone."""
    admission = _opened(gate)
    if gate is None or admission is None or admission.ticket.device != device:
        return
    if await _still_live(gate, admission, now):
        gate.checked.append(admission)
