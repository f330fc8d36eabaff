"""Deliver one batch of a segment export to RetailCRM (app/domain/segment_export.py).

At send time each member's consent for the channel and contact are read again (a withdrawal
since the export removes them), and their RetailCRM ids. Then, in RetailCRM's budget:

1. one `customers/upload` of the members with our GUID that RetailCRM is not known to have
   (no delivered event of ours created them there): created with the segment's field set;
2. one `customers/{key}/edit` per member RetailCRM has (known, or refused by the upload as
   existing) and per RetailCRM id: API v5 edits customers one at a time;
3. a member the upload failed for another reason is uploaded again alone, where the answer is
   about them only: refused then, it is recorded as refused (not retried).

A retryable failure of one member's edit leaves that member open and the others go on; one
with Retry-After, a failed upload, or two in a row stop the attempt (RetailCRM is failing).
What became of each member is written into the event's payload before the outbox marks the
event: members left open (RetailCRM failed, or stopped answering, before they were marked)
make it a RetryableError, and only they are sent by the next attempt; only refused members
left make it a dead letter naming them (a replay sends those again).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from app.domain.consents import MarketingChannel
from app.domain.outbox import EventKind, EventState, Target
from app.domain.segment_export import (
    NO_CUSTOMER,
    WITHDRAWN,
    Marks,
    Member,
    SegmentBatch,
    after_attempt,
    batch_from_plain,
    batch_to_plain,
    summary,
)
from app.integrations.errors import RejectedError, RetryableError
from app.integrations.retailcrm.uploads import Uploaded
from app.models.orders import Order
from app.models.outbox import OutboxEvent
from app.services.identity import outbound
from app.services.identity.segments import consenting_members

FAILING = 2  # retryable failures in a row that stop an attempt (RetailCRM is failing)


@runtime_checkable
class SegmentCrmPort(Protocol):
    async def upload_segment_members(
        self, segment: str, channel: MarketingChannel, members: Sequence[Member]
    ) -> Uploaded: ...
    async def mark_segment_member(self, key: str, by: str, segment: str) -> None: ...


async def deliver_batch(crm: object, event: OutboxEvent) -> None:
    """Send the batch's open members; record each one's outcome in the event (see above)."""
    if not isinstance(crm, SegmentCrmPort):
        raise RejectedError("this RetailCRM sender cannot deliver segment batches", 0, "")
    batch = batch_from_plain(event.payload)
    sending = batch.to_send(replayed=event.attempts == 0)
    members, skipped = await members_now(batch, sending)
    marking = _Marking(crm, batch.segment, batch.channel)
    stop = await marking.run(members, await known_to_retailcrm(members))
    marks = Marks(frozenset(marking.marked), skipped, marking.refused, marking.open(members, stop))
    after = after_attempt(batch, sending, marks)
    # conditional on PENDING: the outbox then marks this same row (delivered, retry, dead)
    await OutboxEvent.filter(id=event.id, state=EventState.PENDING).update(
        payload=batch_to_plain(after)
    )
    if after.retrying:
        raise RetryableError(summary(after), stop.retry_after if stop else None)
    if after.refused:
        raise RejectedError(summary(after), 400, "")


async def members_now(
    batch: SegmentBatch, profiles: Sequence[int]
) -> tuple[list[Member], dict[int, str]]:
    """The members to send, as they are now, and those skipped (with why)."""
    async with in_transaction() as conn:  # one snapshot of consents, contacts and ids
        contacts = dict(await consenting_members(conn, list(profiles), batch.channel))
        members, skipped = [], {}
        for profile in profiles:
            if profile not in contacts:
                skipped[profile] = WITHDRAWN
                continue
            ids = await outbound.system_ids(conn, profile)
            if ids.customer_guid is None and not ids.retailcrm_ids:
                skipped[profile] = NO_CUSTOMER
                continue
            members.append(Member(profile, ids, contacts[profile]))
    return members, skipped


async def known_to_retailcrm(members: Sequence[Member]) -> set[str]:
    """Our GUIDs among `members` that a delivered event of ours created in RetailCRM (their
    upsert, or an order of theirs): uploading them would only be refused."""
    guids = [m.ids.customer_guid for m in members if m.ids.customer_guid]
    if not guids:
        return set()
    orders = await Order.filter(customer__guid__in=guids).values_list("guid", "customer__guid")
    owner = {f"order:{o}": str(c) for o, c in orders}
    owner |= {f"customer:{g}": g for g in guids}
    created = Q(aggregate__in=[a for a in owner if a.startswith("customer:")]) & Q(
        kind=EventKind.CUSTOMER_UPSERTED
    )
    if len(owner) > len(guids):
        placed = [a for a in owner if a.startswith("order:")]
        created |= Q(aggregate__in=placed, kind=EventKind.ORDER_PLACED)
    rows = await OutboxEvent.filter(
        created, target=Target.RETAILCRM, state=EventState.DELIVERED
    ).values_list("aggregate", flat=True)
    return {owner[str(a)] for a in rows}


class _Marking:
    """One attempt's calls, and what each member came to."""

    def __init__(self, crm: SegmentCrmPort, segment: str, channel: MarketingChannel) -> None:
        self.crm, self.segment, self.channel = crm, segment, channel
        self.marked: set[int] = set()
        self.refused: dict[int, str] = {}
        self.created: set[int] = set()  # members the upload created (with the field set)
        self.existing: set[int] = set()  # members whose GUID RetailCRM has: edit it
        self.failed: dict[int, str] = {}  # members an edit failed for retryably: retry them
        self.failures = 0  # retryable failures in a row

    def _judge(self, error: RetryableError) -> None:
        """One member's edit failed retryably: go on with the others (their failure is theirs
        alone), unless RetailCRM asked to wait or failed twice in a row (it is failing)."""
        self.failures += 1
        if error.retry_after is not None or self.failures >= FAILING:
            raise error

    async def run(self, members: Sequence[Member], known: set[str]) -> RetryableError | None:
        """Upload, then edit; the first retryable failure stops the attempt (returned)."""
        uploads = [m for m in members if m.ids.customer_guid and m.ids.customer_guid not in known]
        self.existing = {m.profile for m in members if m.ids.customer_guid in known}
        try:
            if uploads:
                await self._upload(uploads)
            for member in members:
                if member.profile not in self.refused:
                    await self._edit(member)
        except RetryableError as stop:
            return stop
        return None

    def open(self, members: Sequence[Member], stop: RetryableError | None) -> dict[int, str]:
        why = str(stop) if stop else "not known to be marked"
        settled = self.marked | set(self.refused)
        return {
            m.profile: self.failed.get(m.profile, why) for m in members if m.profile not in settled
        }

    async def _upload(self, members: Sequence[Member]) -> None:
        by_guid = {str(m.ids.customer_guid): m for m in members}
        try:
            answer = await self.crm.upload_segment_members(self.segment, self.channel, members)
        except RejectedError as error:  # the call as a whole (API key, site): alone is no better
            self.refused |= {m.profile: _redacted(str(error), m) for m in members}
            return
        for guid, member in by_guid.items():
            if guid in answer.created:
                self.created.add(member.profile)
            elif guid in answer.existing:
                self.existing.add(member.profile)
        for guid, reason in answer.failed.items():
            if len(members) == 1:  # RetailCRM's answer is about this member alone
                self.refused[by_guid[guid].profile] = _redacted(reason, by_guid[guid])
            else:
                await self._upload([by_guid[guid]])

    async def _edit(self, member: Member) -> None:
        """Edit each key still to mark: our GUID if RetailCRM has it, and each RetailCRM id.
        Marked once a key took it (created by the upload counts), refused if none did (404
        on an id: merged away or deleted there)."""
        keys = [(crm_id, "id") for crm_id in member.ids.retailcrm_ids]
        if member.profile in self.existing and member.ids.customer_guid:
            keys.insert(0, (member.ids.customer_guid, "externalId"))
        took, reasons = member.profile in self.created, []
        for key, by in keys:
            try:
                await self.crm.mark_segment_member(key, by, self.segment)
                took, self.failures = True, 0
            except RejectedError as error:
                reasons.append(f"{by} {key}: {error}")
            except RetryableError as error:
                self._judge(error)
                self.failed[member.profile] = str(error)
                return
        if took:
            self.marked.add(member.profile)
        else:
            why = "; ".join(reasons) or "no key RetailCRM took"
            self.refused[member.profile] = _redacted(why, member)


def _redacted(reason: str, member: Member) -> str:
    """RetailCRM's refusal may echo the contact sent (e.g. an invalid e-mail): the row keeps
    the reason, not the person's contact (an erasure never has to find it there)."""
    return reason.replace(member.contact, "[contact]") if member.contact else reason
