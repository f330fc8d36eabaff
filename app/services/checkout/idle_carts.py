"""Carts nobody has touched for a long time go: their holds back on sale, their rows deleted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.transactions import in_transaction

from app.domain.reservations import ReservationState
from app.models.checkout import Cart, CartLine, lock_idle_carts
from app.models.orders import Order
from app.models.stock import Reservation
from app.services.inventory.reservations import release

BATCH = 500  # carts per transaction: short row locks, a few statements each
MAX_BATCHES = 20  # per call: the sweep comes back for the rest


@dataclass(frozen=True)
class Cleared:
    carts: int  # idle carts cleared (their lines deleted)
    deleted: int  # of those, deleted with their row (no order came from them)
    released: int  # held units given back


async def clear_idle_carts(*, now: datetime, idle: timedelta, batch: int = BATCH) -> Cleared:
    """Delete every cart untouched for `idle` and give its holds back, a batch at a time.

    A cart an order came from keeps its row (the account's order list proves ownership
    through it) and loses only lines added since. Safe to run twice, or beside shoppers: a
    cart in use is skipped, and one touched since it went idle is left alone."""
    carts = deleted = released = 0
    for _ in range(MAX_BATCHES):
        done = await _clear_batch(before=now - idle, now=now, limit=batch)
        carts, deleted, released = (
            carts + done.carts,
            deleted + done.deleted,
            released + done.released,
        )
        if done.carts < batch:
            break
    return Cleared(carts, deleted, released)


async def _clear_batch(*, before: datetime, now: datetime, limit: int) -> Cleared:
    """One transaction: lock idle carts (cart rows first, as every cart change does), give
    their holds back (stock rows in order, through the reservation engine), delete."""
    async with in_transaction() as conn:
        ids = await lock_idle_carts(conn, before=before, limit=limit)
        if not ids:
            return Cleared(0, 0, 0)
        holds = await Reservation.filter(
            cart_line__cart_id__in=ids, state=ReservationState.HELD
        ).values_list("id", "quantity")
        released = await release(conn, [rid for rid, _ in holds], now=now)
        await CartLine.filter(cart_id__in=ids).delete()
        ordered = {
            cid for cid, _ in await Order.filter(cart_id__in=ids).values_list("cart_id", "id")
        }
        gone = [cart_id for cart_id in ids if cart_id not in ordered]
        if gone:
            await Cart.filter(id__in=gone).delete()
    return Cleared(len(ids), len(gone), released)
