"""The reservation buffer: what counts, and when 1C's own figure makes a reservation redundant."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum


class ReservationState(StrEnum):
    HELD = "held"  # a cart hold, counts until `expires_at`
    ACTIVE = "active"  # an order's units, counts until released or reconciled
    RELEASED = "released"  # given back (cancelled, expired, re-allocated)
    RECONCILED = "reconciled"  # 1C's stock figure already subtracts it
    WITHHELD = "withheld"  # a shop said the unit is missing or faulty: off sale until 1C's
    # next figure for that position (which is the shop's own count), then released


class ShopConfirmation(StrEnum):
    NOT_NEEDED = "not_needed"  # served from the online warehouse
    REQUESTED = "requested"  # the shop's staff are asked to confirm the item is there
    CONFIRMED = "confirmed"
    DECLINED = "declined"
    TIMED_OUT = "timed_out"
    WITHDRAWN = "withdrawn"  # the order was cancelled before the shop answered


IN_BUFFER = (ReservationState.HELD, ReservationState.ACTIVE, ReservationState.WITHHELD)
SERVING_ORDER = (ReservationState.ACTIVE, ReservationState.RECONCILED)  # an order's live units


def shop_confirmation_for(*, from_shop: bool, state: ReservationState) -> ShopConfirmation:
    """An order's units in a shop wait for its staff to confirm them; a cart hold does not
    ask yet (it asks when it becomes the order's), and the online warehouse never asks."""
    if from_shop and state is ReservationState.ACTIVE:
        return ShopConfirmation.REQUESTED
    return ShopConfirmation.NOT_NEEDED


def hold_counts(expires_at: datetime | None, now: datetime) -> bool:
    """A hold counts until its instant has passed, whether or not a job has released it yet."""
    return expires_at is None or now < expires_at


def reconciled_by_snapshot(registered_at: datetime | None, as_of: datetime) -> bool:
    """1C's figure at `as_of` already subtracts a reservation 1C registered at or before it."""
    return registered_at is not None and registered_at <= as_of


def reconciled_on_registration(registered_at: datetime, stock_as_of: datetime | None) -> bool:
    """A registration learned after a newer figure arrived is already in that figure."""
    return stock_as_of is not None and registered_at <= stock_as_of
