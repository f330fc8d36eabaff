"""A segment export in batches: which members a batch sends, and what became of each (pure).

An export is cut into batches of up to `BATCH` members, one outbox event each (aggregate
`segment:<export>:batch:<n>`): an event is what the outbox retries, parks and replays, so a batch
is the unit of "nothing lost, replayable", and RetailCRM's `customers/upload` takes 50. The
event names its members by profile id only (no contact, no name: an erasure has nothing to
scrub there); their consent, contact and RetailCRM ids are read again when it is sent, so a
withdrawal between export and delivery removes the member.

Each member ends in one of: marked (RetailCRM has the segment's field set on them), skipped
(consent withdrawn, no contact left, or no RetailCRM customer to mark: not sent, never sent
later), refused (RetailCRM refused that member on its own: not retried, sent again when the
event is replayed), or retrying (not known to be marked: RetailCRM failed or was not reached;
the next attempt sends these, and only these). Batches are independent of each other: a
segment's membership is a set, so their order does not matter; within a batch, attempts
happen in order and each sends only what is still open.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from app.domain.consents import MarketingChannel, SystemIds

BATCH = 50  # RetailCRM's customers/upload takes at most 50 customers a call

WITHDRAWN = "no standing consent for the channel, or no contact for it, at send time"
NO_CUSTOMER = "no RetailCRM customer of theirs to mark (no site account, no RetailCRM id)"


@dataclass(frozen=True, slots=True)
class SegmentBatch:
    """One batch of an export and, once tried, what became of each member (by profile id)."""

    export_guid: str
    segment: str  # the RetailCRM custom field's code
    channel: MarketingChannel
    number: int  # 0, 1, … within the export
    profiles: tuple[int, ...]
    marked: tuple[int, ...] = ()
    skipped: Mapping[int, str] = field(default_factory=dict)
    refused: Mapping[int, str] = field(default_factory=dict)
    retrying: Mapping[int, str] = field(default_factory=dict)

    def to_send(self, *, replayed: bool) -> list[int]:
        """Members this attempt sends: all not marked nor skipped; those RetailCRM refused
        alone only on a replay (retrying cannot change a refusal, a person may have fixed
        its cause)."""
        closed = set(self.marked) | set(self.skipped)
        if not replayed:
            closed |= set(self.refused)
        return [p for p in self.profiles if p not in closed]


@dataclass(frozen=True, slots=True)
class Member:
    """A member as it is sent: their ids in RetailCRM and the contact the channel uses."""

    profile: int
    ids: SystemIds
    contact: str


@dataclass(frozen=True, slots=True)
class Marks:
    """What one attempt learnt of the members it sent (members it left out are unchanged)."""

    marked: frozenset[int] = frozenset()
    skipped: Mapping[int, str] = field(default_factory=dict)
    refused: Mapping[int, str] = field(default_factory=dict)
    retrying: Mapping[int, str] = field(default_factory=dict)


def after_attempt(batch: SegmentBatch, sent: Sequence[int], marks: Marks) -> SegmentBatch:
    """The batch once an attempt that sent `sent` learnt `marks`; a sent member the marks do
    not mention is still open (nothing is assumed about it)."""
    settled = set(marks.marked) | set(marks.skipped) | set(marks.refused)
    retrying = {p: r for p, r in batch.retrying.items() if p not in sent}
    for p in sent:
        if p not in settled:
            retrying[p] = marks.retrying.get(p, "not known to be marked")
    refused = {p: r for p, r in batch.refused.items() if p not in sent}
    return replace(
        batch,
        marked=tuple(p for p in batch.profiles if p in set(batch.marked) | marks.marked),
        skipped={**batch.skipped, **marks.skipped},
        refused={**refused, **marks.refused},
        retrying=retrying,
    )


def batch_aggregate(export_guid: str, number: int) -> str:
    """A batch is an aggregate of its own (`segment:` keeps it out of RetailCRM's coalescing
    pass: app/services/identity/delivery.py)."""
    return f"segment:{export_guid}:batch:{number}"


def is_batch_aggregate(aggregate: str) -> bool:
    return aggregate.startswith("segment:") and ":batch:" in aggregate


def batches(
    export_guid: str, segment: str, channel: MarketingChannel, profiles: Sequence[int]
) -> list[SegmentBatch]:
    """An export's members, in batches of `BATCH`, in the order given."""
    return [
        SegmentBatch(export_guid, segment, channel, n, tuple(profiles[start : start + BATCH]))
        for n, start in enumerate(range(0, len(profiles), BATCH))
    ]


def summary(batch: SegmentBatch) -> str:
    """One line for the event's last_error: counts, and the first reasons of what is open."""
    counts = (
        f"{len(batch.marked)} marked, {len(batch.skipped)} skipped, {len(batch.refused)} "
        f"refused, {len(batch.retrying)} to retry of {len(batch.profiles)}"
    )
    reasons = [f"profile {p}: {r}" for p, r in [*batch.refused.items(), *batch.retrying.items()]]
    return "; ".join([counts, *reasons[:3]])


def batch_to_plain(batch: SegmentBatch) -> dict[str, Any]:
    return {
        "export_guid": batch.export_guid,
        "segment": batch.segment,
        "channel": batch.channel.value,
        "number": batch.number,
        "profiles": list(batch.profiles),
        "marked": list(batch.marked),
        "skipped": {str(p): r for p, r in batch.skipped.items()},
        "refused": {str(p): r for p, r in batch.refused.items()},
        "retrying": {str(p): r for p, r in batch.retrying.items()},
    }


def batch_from_plain(data: Mapping[str, Any]) -> SegmentBatch:
    def reasons(name: str) -> dict[int, str]:
        return {int(p): str(r) for p, r in data.get(name, {}).items()}

    return SegmentBatch(
        export_guid=str(data["export_guid"]),
        segment=str(data["segment"]),
        channel=MarketingChannel(data["channel"]),
        number=int(data["number"]),
        profiles=tuple(int(p) for p in data["profiles"]),
        marked=tuple(int(p) for p in data.get("marked", [])),
        skipped=reasons("skipped"),
        refused=reasons("refused"),
        retrying=reasons("retrying"),
    )
