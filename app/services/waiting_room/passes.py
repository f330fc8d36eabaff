"""The pass check at the cart and at checkout: a queued drop's variants need a live pass.

Cart and checkout call `require_pass` / `require_passes` with the collection they already
loaded: for a drop without a waiting room it returns at once (no query, no redis call)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.domain.waiting_room import AdmissionPass, check_pass, open_pass
from app.models.catalog import Collection, QueueMode
from app.services.waiting_room.store import Keys, pass_standing

log = structlog.get_logger(__name__)

Path = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class QueueGate:
    """What checks a pass: the one the shopper sent (X-Queue-Pass), the key, redis."""

    presented: str | None
    key: bytes
    redis: Redis


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
    check_pass(admission, collection_id=collection.id, device=device, now=now, path=path)
    assert gate is not None and admission is not None  # check_pass refused otherwise
    if not await _still_live(gate.redis, admission):
        check_pass(None, collection_id=collection.id, device=device, now=now, path=path)


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


async def _still_live(redis: Redis, admission: AdmissionPass) -> bool:
    """A signed, unexpired pass is refused only when redis says it was used up (an order was
    placed with it). A queue redis no longer knows (lost, flushed) or cannot reach closes to
    newcomers, but lets the shoppers it admitted finish: stock stays exact in the database."""
    ticket = admission.ticket
    try:
        epoch, status = await pass_standing(redis, Keys(ticket.collection_id), ticket=ticket.number)
    except RedisError as error:
        log.warning("queue.pass_unchecked", collection=ticket.collection_id, error=repr(error))
        return True
    return epoch != ticket.epoch or status == "a"
