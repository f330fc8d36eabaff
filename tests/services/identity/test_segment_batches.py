"""A segment export reaches RetailCRM in batches of up to 50 through customers/upload: members
RetailCRM does not have are created with the segment's field in one call, those it has are
edited, consent is read again at send time, and a member's failure is that member's alone."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta

import pytest
from tortoise.transactions import in_transaction

from app.devtools.simulators.retailcrm import RetailCrmSimulator
from app.devtools.simulators.server import LocalServer
from app.domain.consents import ConsentPurpose, ConsentSource, MarketingChannel
from app.domain.outbox import EventKind, EventState, RetryPolicy, Target
from app.domain.segment_export import (
    WITHDRAWN,
    Member,
    SegmentBatch,
    batch_aggregate,
    batch_from_plain,
    batch_to_plain,
    batches,
)
from app.integrations.errors import RetryableError
from app.integrations.retailcrm.client import RetailCrmClient
from app.integrations.retailcrm.uploads import Uploaded
from app.models.customers import Customer
from app.models.identity import IdentityRecord
from app.models.outbox import OutboxEvent
from app.services.identity.consents import Proof, record_consent
from app.services.identity.observe import observe_site_customer
from app.services.outbox.delivery import Senders, deliver_aggregate, replay
from app.services.outbox.retailcrm_batches import deliver_retailcrm
from tests.conftest import Clock
from tests.integrations.stands import Front

pytestmark = pytest.mark.usefixtures("db")
POLICY = RetryPolicy(base=timedelta(seconds=1), cap=timedelta(seconds=60), max_attempts=3)
PROOF = Proof(source=ConsentSource.SITE, text_version="v1", device="ua", actor="me")
EMAIL = MarketingChannel.EMAIL
T0 = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
async def stand() -> AsyncIterator[tuple[LocalServer, Front]]:
    front = Front()
    async with LocalServer(front) as server:
        yield server, front


async def _subscribers(n: int) -> list[tuple[int, str]]:
    """(profile, GUID) of `n` site accounts consenting to e-mail marketing."""
    made = []
    async with in_transaction() as conn:
        for i in range(n):
            customer = await Customer.create(
                using_db=conn, guid=str(uuid.uuid4()), email=f"s{i}@mail.ru", first_name="S"
            )
            record = await observe_site_customer(conn, customer=customer, now=T0, actor="t")
            for purpose, channel in (
                (ConsentPurpose.PERSONAL_DATA, None),
                (ConsentPurpose.MARKETING, EMAIL),
            ):
                await record_consent(
                    conn,
                    record_id=record,
                    purpose=purpose,
                    channel=channel,
                    granted=True,
                    proof=PROOF,
                    now=T0,
                )
            profile = (await IdentityRecord.get(id=record, using_db=conn)).profile_id
            made.append((profile, customer.guid))
    await OutboxEvent.filter(kind=EventKind.CONSENT_CHANGED).delete()  # not what is tested
    return made


async def _export(profiles: Sequence[int], now: datetime, code: str = "winter") -> list[int]:
    ids = []
    for batch in batches(str(uuid.uuid4()), code, EMAIL, list(profiles)):
        event = await OutboxEvent.create(
            event_id=str(uuid.uuid4()),
            target=Target.RETAILCRM,
            aggregate=batch_aggregate(batch.export_guid, batch.number),
            kind=EventKind.SEGMENT_BATCH,
            payload=batch_to_plain(batch),
            next_attempt_at=now,
            created_at=now,
        )
        ids.append(event.id)
    return ids


def _calls(sim: RetailCrmSimulator, suffix: str) -> int:
    return sum(1 for r in sim.requests if r.path.endswith(suffix))


def _edits(sim: RetailCrmSimulator) -> int:
    return sum(1 for r in sim.requests if r.path.endswith("/edit"))


async def _drain(crm: RetailCrmClient, clock: Clock, passes: int = 10) -> None:
    for _ in range(passes):
        await deliver_retailcrm(senders=Senders(retailcrm=crm), policy=POLICY, clock=clock)


async def test_new_members_go_in_one_upload_a_batch_and_known_ones_are_edited(
    stand: tuple[LocalServer, Front], clock: Clock
) -> None:
    # given 60 subscribers: 10 RetailCRM has (4 of them created by a delivered upsert of ours)
    sim = RetailCrmSimulator(api_key="k", site="s")
    stand[1].app = sim.app
    members = await _subscribers(60)
    for _, guid in members[:10]:
        sim.state.customers[guid] = {"externalId": guid, "id": len(sim.state.customers) + 100}
    for _, guid in members[:4]:
        await OutboxEvent.create(
            event_id=str(uuid.uuid4()),
            target=Target.RETAILCRM,
            aggregate=f"customer:{guid}",
            kind=EventKind.CUSTOMER_UPSERTED,
            payload={},
            state=EventState.DELIVERED,
            next_attempt_at=clock(),
            created_at=clock(),
        )
    events = await _export([p for p, _ in members], clock())

    # when the worker delivers them
    async with RetailCrmClient(stand[0].url + sim.base_path, "k", "s", max_rps=1000) as crm:
        await _drain(crm, clock)

    # then two batches: 2 uploads (56 members), and an edit for each of the 10 RetailCRM has
    rows = await OutboxEvent.filter(id__in=events).order_by("id")
    assert [(r.state, r.attempts) for r in rows] == [(EventState.DELIVERED, 1)] * 2
    assert (_calls(sim, "/customers/upload"), _edits(sim)) == (2, 10)
    assert len(sim.requests) == 12
    for _, guid in members:
        assert sim.state.customers[guid]["customFields"] == {"winter": True}
    new = sim.state.customers[members[20][1]]
    assert new["email"] == "s20@mail.ru"
    marked = [p for r in rows for p in batch_from_plain(r.payload).marked]
    assert marked == [p for p, _ in members]


async def test_a_withdrawal_between_export_and_delivery_keeps_the_member_out(
    stand: tuple[LocalServer, Front], clock: Clock
) -> None:
    # given an export of three subscribers, then one withdraws before it is sent
    sim = RetailCrmSimulator(api_key="k", site="s")
    stand[1].app = sim.app
    members = await _subscribers(3)
    events = await _export([p for p, _ in members], clock())
    record = await IdentityRecord.get(profile_id=members[1][0])
    async with in_transaction() as conn:
        await record_consent(
            conn,
            record_id=record.id,
            purpose=ConsentPurpose.MARKETING,
            channel=EMAIL,
            granted=False,
            proof=PROOF,
            now=T0 + timedelta(hours=1),
        )

    async with RetailCrmClient(stand[0].url + sim.base_path, "k", "s", max_rps=1000) as crm:
        await _drain(crm, clock, passes=3)

    # then RetailCRM never hears of them, and the batch says why
    row = await OutboxEvent.get(id=events[0])
    batch = batch_from_plain(row.payload)
    assert row.state is EventState.DELIVERED
    assert members[1][1] not in sim.state.customers
    assert set(sim.state.customers) == {members[0][1], members[2][1]}
    assert batch.skipped == {members[1][0]: WITHDRAWN}
    assert batch.marked == (members[0][0], members[2][0])


async def test_a_member_refused_in_a_batch_is_sent_alone_then_parked_alone(
    stand: tuple[LocalServer, Front], clock: Clock
) -> None:
    # given RetailCRM refuses one member of a batch of five
    sim = RetailCrmSimulator(api_key="k", site="s")
    stand[1].app = sim.app
    members = await _subscribers(5)
    bad_profile, bad = members[2]
    sim.reject(bad)
    events = await _export([p for p, _ in members], clock())

    async with RetailCrmClient(stand[0].url + sim.base_path, "k", "s", max_rps=1000) as crm:
        await _drain(crm, clock, passes=3)
        # then the batch went once, the refused member once more alone, and nothing after
        row = await OutboxEvent.get(id=events[0])
        batch = batch_from_plain(row.payload)
        assert _calls(sim, "/customers/upload") == 2
        assert (row.state, row.attempts, row.response_status) == (EventState.DEAD, 1, 400)
        assert batch.marked == tuple(p for p, _ in members if p != bad_profile)
        assert list(batch.refused) == [bad_profile]
        assert f"profile {bad_profile}: " in row.last_error
        assert row.last_error.startswith("4 marked, 0 skipped, 1 refused, 0 to retry of 5")

        # when the cause is fixed and the dead letter replayed: only that member is sent
        sim.reset_faults()
        assert await replay(event_ids=[row.event_id], now=clock()) == 1
        await _drain(crm, clock, passes=2)

    row = await OutboxEvent.get(id=events[0])
    assert row.state is EventState.DELIVERED
    assert _calls(sim, "/customers/upload") == 3
    last = sim.requests[-1]
    assert last.path.endswith("/customers/upload") and bad.encode() in last.body
    assert sum(m in last.body for m in [g.encode() for _, g in members]) == 1
    assert sim.state.customers[bad]["customFields"] == {"winter": True}


class _Flaky:
    """Creates the first two members, has the rest, and fails at the second edit (asking to
    wait, or not)."""

    def __init__(self, retry_after: float | None = 1.0) -> None:
        self.uploads: list[list[int]] = []
        self.edits: list[str] = []
        self.fail_at: int | None = 2
        self.retry_after = retry_after

    async def upload_segment_members(
        self, segment: str, channel: MarketingChannel, members: Sequence[Member]
    ) -> Uploaded:
        self.uploads.append([m.profile for m in members])
        guids = [str(m.ids.customer_guid) for m in members]
        return Uploaded(created=frozenset(guids[:2]), existing=frozenset(guids[2:]))

    async def mark_segment_member(self, key: str, by: str, segment: str) -> None:
        self.edits.append(key)
        if self.fail_at is not None and len(self.edits) == self.fail_at:
            raise RetryableError("RetailCRM answered 503", retry_after=self.retry_after)


async def test_a_retryable_failure_mid_batch_sends_only_the_open_members_again(
    clock: Clock,
) -> None:
    # given a batch of five whose second edit fails retryably
    members = await _subscribers(5)
    profiles = [p for p, _ in members]
    events = await _export(profiles, clock())
    crm = _Flaky()
    aggregate = (await OutboxEvent.get(id=events[0])).aggregate

    async def attempt() -> None:
        await deliver_aggregate(
            target=Target.RETAILCRM,
            aggregate=aggregate,
            senders=Senders(retailcrm=crm),  # type: ignore[arg-type]
            policy=POLICY,
            clock=clock,
        )

    await attempt()
    row = await OutboxEvent.get(id=events[0])
    batch: SegmentBatch = batch_from_plain(row.payload)
    # then two created and one edited are marked, the other two wait (the event backs off)
    assert (row.state, row.attempts) == (EventState.PENDING, 1)
    assert batch.marked == tuple(profiles[:3])
    assert list(batch.retrying) == profiles[3:]
    assert row.next_attempt_at >= clock() + timedelta(seconds=1)

    # when it is tried again: only those two are sent
    crm.fail_at = None
    clock.advance(minutes=1)
    await attempt()
    row = await OutboxEvent.get(id=events[0])
    assert row.state is EventState.DELIVERED
    assert crm.uploads == [profiles, profiles[3:]]
    assert batch_from_plain(row.payload).marked == tuple(profiles)


async def test_one_members_failing_edit_holds_up_no_other_member(clock: Clock) -> None:
    # given a batch of five whose second edit fails once, without asking to wait
    members = await _subscribers(5)
    profiles = [p for p, _ in members]
    events = await _export(profiles, clock())
    crm = _Flaky(retry_after=None)
    aggregate = (await OutboxEvent.get(id=events[0])).aggregate

    await deliver_aggregate(
        target=Target.RETAILCRM,
        aggregate=aggregate,
        senders=Senders(retailcrm=crm),  # type: ignore[arg-type]
        policy=POLICY,
        clock=clock,
    )

    # then the members after it were edited; only it is left to retry
    row = await OutboxEvent.get(id=events[0])
    batch = batch_from_plain(row.payload)
    assert (row.state, row.attempts) == (EventState.PENDING, 1)
    assert len(crm.edits) == 3
    assert batch.marked == (profiles[0], profiles[1], profiles[2], profiles[4])
    assert dict(batch.retrying) == {profiles[3]: "RetailCRM answered 503"}


async def test_a_refusal_echoing_the_contact_is_kept_without_it(
    stand: tuple[LocalServer, Front], clock: Clock
) -> None:
    # given a member whose address RetailCRM finds invalid (it says so, quoting it)
    sim = RetailCrmSimulator(api_key="k", site="s")
    stand[1].app = sim.app
    members = await _subscribers(2)
    await IdentityRecord.filter(profile_id=members[0][0]).update(email="ann@nowhere")
    events = await _export([p for p, _ in members], clock())

    async with RetailCrmClient(stand[0].url + sim.base_path, "k", "s", max_rps=1000) as crm:
        await _drain(crm, clock, passes=2)

    row = await OutboxEvent.get(id=events[0])
    reason = batch_from_plain(row.payload).refused[members[0][0]]
    assert row.state is EventState.DEAD
    assert "[contact]" in reason
    assert "ann@nowhere" not in reason
    assert "ann@nowhere" not in row.last_error
    assert "ann@nowhere" not in str(row.payload)
