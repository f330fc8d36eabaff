"""The waiting room in front of a drop: who may join, the lottery at release, how many are
admitted (never more than the units left), how long a pass lasts, what a waiter is told, and
the signed tokens that carry a place and a pass. Pure: the services feed it what redis and the
database hold, and the clock."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
from collections.abc import Iterable, MutableSequence, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from app.domain.errors import DomainError, ErrorCode

Path = tuple[str | int, ...]

# Every waiter hears "sold out" within this after the last unit is taken (issue 11): one
# admission tick to notice it, then each waiter's next poll.
SOLD_OUT_NOTICE = timedelta(seconds=5)
# How far back the admission rate (for the estimate) is measured.
RATE_WINDOW = timedelta(seconds=60)


class WaiterState(StrEnum):
    """What a waiter is told when they ask."""

    WAITING = "waiting"  # in the pre-queue (before the draw) or in line
    ADMITTED = "admitted"  # holds a live pass: shop now
    SOLD_OUT = "sold_out"  # nothing free and nothing held that could come back; place kept
    CLOSED = "closed"  # the queue cannot answer (redis lost, or reset): nobody is admitted
    EXPIRED = "expired"  # the pass ran out unused; join again to queue at the back
    USED = "used"  # the pass bought: an order was placed with it


class TicketStatus(StrEnum):
    """A place in the queue as the queue keeps it."""

    WAITING = "w"
    ADMITTED = "a"
    USED = "u"
    EXPIRED = "x"


def waiter_state(
    status: TicketStatus | None, *, sold_out: bool, pass_expires_at: datetime | None, now: datetime
) -> WaiterState:
    """What a waiter is told: an unknown place is a closed queue; a waiting one hears that the
    drop sold out (and keeps the place: units may come back); a pass out of time is expired
    even before the next tick settles it."""
    if status is None:
        return WaiterState.CLOSED
    if status is TicketStatus.WAITING:
        return WaiterState.SOLD_OUT if sold_out else WaiterState.WAITING
    if status is TicketStatus.ADMITTED:
        live = pass_expires_at is not None and pass_is_live(pass_expires_at, now)
        return WaiterState.ADMITTED if live else WaiterState.EXPIRED
    return WaiterState.USED if status is TicketStatus.USED else WaiterState.EXPIRED


# --- stock and admission -------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class DropStock:
    """A drop's units as admission sees them, read at one instant."""

    free_units: int  # Σ available over the drop's variants: live holds and orders are out
    returnable_units: int  # units in live cart holds: they come back if their time runs out

    @property
    def sold_out(self) -> bool:
        """Nothing to sell and nothing that could come back by itself."""
        return self.free_units <= 0 and self.returnable_units <= 0


@dataclass(frozen=True, slots=True, kw_only=True)
class LivePasses:
    """The passes not expired and not used, at one instant."""

    live: int
    served: int  # of those, passes whose shopper already holds or ordered units

    @property
    def unserved(self) -> int:
        """Passes that may still take a unit out of the free ones."""
        return max(0, self.live - self.served)


def admission_budget(stock: DropStock, passes: LivePasses, *, waiting: int, per_tick: int) -> int:
    """How many waiters to admit now: never more shoppers with a live pass that has not taken
    its unit yet than there are free units (a served pass's units are already out of them),
    at most `per_tick` at once, at most everyone waiting."""
    return admission_count(stock.free_units, passes.unserved, waiting=waiting, per_tick=per_tick)


def drop_stock(figures: Iterable[tuple[int, bool]]) -> DropStock:
    """A drop's stock from its variants' figures: (available, whether live cart holds keep some
    of its units). A held figure counts one returnable unit: the stream carries that a hold is
    live, not its size, and "sold out" needs only whether anything can come back."""
    found = list(figures)
    return DropStock(
        free_units=sum(max(0, units) for units, _ in found),
        returnable_units=sum(1 for _, held in found if held),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class PassUse:
    """A live pass as admission counts it: when its holder's cart first held units, until when."""

    held_at: datetime | None = None
    held_until: datetime | None = None


def unserved_passes(
    live: Sequence[PassUse], *, spent_unseen: int, now: datetime, visible_before: datetime
) -> int:
    """Passes that may still take a free unit, as the stock figures read see them: a live pass
    counts unless its holder holds units the figures already show out of the free ones (held
    by `visible_before`, the hold not expired); a pass used for an order after
    `visible_before` counts too (its unit may still look free in those figures)."""
    served = sum(
        1
        for use in live
        if use.held_at is not None
        and use.held_until is not None
        and use.held_at <= visible_before
        and now < use.held_until
    )
    return len(live) - served + spent_unseen


def admission_count(free_units: int, unserved: int, *, waiting: int, per_tick: int) -> int:
    """How many to admit now: never more unserved passes than free units, at most `per_tick`,
    at most everyone waiting (the rule redis runs atomically, store_admission._ADMIT)."""
    return max(0, min(free_units - unserved, waiting, per_tick))


def extended_expiry(
    expires_at: datetime,
    *,
    admitted_at: datetime,
    now: datetime,
    extend: timedelta,
    cap: timedelta,
) -> datetime:
    """A pass in use (a cart change, a checkout step) lasts at least `extend` past `now`, but
    never past `cap` after its admission, and never shorter than it was: an active shopper
    keeps it through checkout, an idle one's runs out as given."""
    return max(expires_at, min(now + extend, admitted_at + cap))


def pass_expiry(admitted_at: datetime, duration: timedelta) -> datetime:
    """A pass is time-boxed: it admits to the cart and checkout until then."""
    return admitted_at + duration


def pass_is_live(expires_at: datetime, now: datetime) -> bool:
    return now < expires_at


# --- joining and the lottery ---------------------------------------------------------------


def check_may_join(*, release_at: datetime, opens_before: timedelta, now: datetime) -> None:
    """The pre-queue opens `opens_before` the release; before that there is nothing to join."""
    opens_at = release_at - opens_before
    if now < opens_at:
        raise DomainError(
            ErrorCode.NOT_RELEASED,
            f"the waiting room opens at {opens_at.isoformat()}",
            ("collectionId",),
        )


def joins_pre_queue(*, release_at: datetime, now: datetime) -> bool:
    """Before the release a shopper joins the pre-queue, drawn by lot at the release; after
    it they queue in order of arrival, behind everyone drawn."""
    return now < release_at


class Shuffler(Protocol):
    """A random source that shuffles in place (random.Random, secrets.SystemRandom)."""

    def shuffle(self, x: MutableSequence[Any]) -> None: ...


def draw_lots(tickets: Sequence[int], rng: Shuffler) -> list[int]:
    """The pre-queue's order after the release: a uniform shuffle, whoever joined first."""
    drawn = list(tickets)
    rng.shuffle(drawn)
    return drawn


# --- what a waiter sees --------------------------------------------------------------------


def estimate_wait(position: int, admitted_in_window: int) -> timedelta | None:
    """How long until `position` is admitted at the recent admission rate; None while nobody
    has been admitted lately (no rate to go by)."""
    if admitted_in_window <= 0:
        return None
    per_second = admitted_in_window / RATE_WINDOW.total_seconds()
    return timedelta(seconds=math.ceil(position / per_second))


def poll_after(
    state: WaiterState,
    *,
    tick: timedelta,
    until_release: timedelta | None = None,
    until_pass_expiry: timedelta | None = None,
) -> int:
    """Seconds until the waiter should ask again: often enough in line that a sell-out reaches
    everyone within SOLD_OUT_NOTICE (one tick to notice it, a poll to hear it); right at the
    draw in the pre-queue; rarely once nothing is moving."""
    if state is WaiterState.WAITING:
        if until_release is not None and until_release > timedelta(0):
            return max(1, min(30, math.ceil(until_release.total_seconds())))
        return max(1, math.floor((SOLD_OUT_NOTICE - tick).total_seconds()) - 1)
    if state is WaiterState.ADMITTED and until_pass_expiry is not None:
        return max(1, min(30, math.ceil(until_pass_expiry.total_seconds())))
    if state is WaiterState.CLOSED:
        return 5
    return 15  # sold out (units may come back), expired, used


# --- the pass at the cart and at checkout --------------------------------------------------


def queue_pass_required(path: Path) -> DomainError:
    return DomainError(
        ErrorCode.QUEUE_PASS_REQUIRED,
        "this drop has a waiting room: join it (joinQueue) and send the pass it gives you in "
        "the X-Queue-Pass header",
        path,
    )


# --- signed tokens -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Ticket:
    """A place in a drop's queue, bound to the device that joined (its device key)."""

    collection_id: int
    epoch: str  # the queue's incarnation in redis: a reset queue's tickets name an old one
    number: int  # unique in the epoch, in order of joining
    device: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AdmissionPass:
    """The right to shop a queued drop until `expires_at`, from the device admitted."""

    ticket: Ticket
    expires_at: datetime


_TICKET, _PASS = "q1", "p1"


def seal_ticket(ticket: Ticket, key: bytes) -> str:
    return _seal(_TICKET, _ticket_claims(ticket), key)


def open_ticket(raw: str, key: bytes) -> Ticket | None:
    """The ticket a token carries, or None if it is not one we signed."""
    claims = _open(_TICKET, raw, key)
    return _ticket_of(claims) if claims is not None else None


def seal_pass(admission: AdmissionPass, key: bytes) -> str:
    expires_ms = int(admission.expires_at.timestamp() * 1000)
    return _seal(_PASS, {**_ticket_claims(admission.ticket), "x": expires_ms}, key)


def open_pass(raw: str, key: bytes) -> AdmissionPass | None:
    """The pass a token carries, or None if it is not one we signed."""
    claims = _open(_PASS, raw, key)
    ticket = _ticket_of(claims) if claims is not None else None
    if claims is None or ticket is None or not isinstance(claims.get("x"), int):
        return None
    return AdmissionPass(ticket=ticket, expires_at=datetime.fromtimestamp(claims["x"] / 1000, UTC))


def check_pass(
    admission: AdmissionPass | None,
    *,
    collection_id: int,
    device: str | None,
    now: datetime,
    path: Path,
) -> None:
    """A pass admits its own device to its own drop until it expires."""
    check_pass_holder(admission, collection_id=collection_id, device=device, path=path)
    assert admission is not None
    if not pass_is_live(admission.expires_at, now):
        raise queue_pass_required(path)


def check_pass_holder(
    admission: AdmissionPass | None, *, collection_id: int, device: str | None, path: Path
) -> None:
    """A pass of this drop, sent by the device it was given to (how long it lasts is the
    queue's to say: a pass in use is extended beyond the time its token was sealed with)."""
    if (
        admission is None
        or admission.ticket.collection_id != collection_id
        or admission.ticket.device != device
    ):
        raise queue_pass_required(path)


def _ticket_claims(ticket: Ticket) -> dict[str, Any]:
    return {"c": ticket.collection_id, "e": ticket.epoch, "n": ticket.number, "d": ticket.device}


def _ticket_of(claims: dict[str, Any]) -> Ticket | None:
    c, e, n, d = (claims.get(k) for k in ("c", "e", "n", "d"))
    if not (
        isinstance(c, int) and isinstance(e, str) and isinstance(n, int) and isinstance(d, str)
    ):
        return None
    return Ticket(collection_id=c, epoch=e, number=n, device=d)


def _seal(kind: str, claims: dict[str, Any], key: bytes) -> str:
    body = _b64(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())
    return f"{kind}.{body}.{_b64(_mac(kind, body, key))}"


def _open(kind: str, raw: str, key: bytes) -> dict[str, Any] | None:
    parts = raw.split(".")
    if len(parts) != 3 or parts[0] != kind or len(raw) > 512:
        return None
    try:
        signature = base64.urlsafe_b64decode(parts[2] + "=" * (-len(parts[2]) % 4))
        if not hmac.compare_digest(signature, _mac(kind, parts[1], key)):
            return None
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, ValueError):
        return None
    return claims if isinstance(claims, dict) else None


def _mac(kind: str, body: str, key: bytes) -> bytes:
    # the kind is signed too: a ticket never passes for a pass
    return hmac.new(key, f"{kind}.{body}".encode(), hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")
