"""The consent ledger: append a grant or a withdrawal with its proof, derive the state now,
and tell 1C and RetailCRM in the same transaction (the outbox)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tortoise.backends.base.client import BaseDBAsyncClient

from app.domain.consents import (
    ConsentFact,
    ConsentPurpose,
    ConsentSource,
    ConsentState,
    MarketingChannel,
    check_text_version,
    consent_record,
    derive,
)
from app.domain.errors import DomainError, ErrorCode
from app.domain.outbox import EventKind
from app.models.identity import ConsentEvent, IdentityRecord
from app.models.outbox import OutboxEvent
from app.services.identity import outbound
from app.services.identity.graph import profile_of


@dataclass(frozen=True, slots=True, kw_only=True)
class Proof:
    """Where, how and under which text a consent was given or withdrawn."""

    source: ConsentSource
    text_version: str
    device: str  # the user agent, or the shop's GUID at a till
    actor: str  # who recorded it: the customer's GUID, a staff member, an integration


async def record_consent(
    conn: BaseDBAsyncClient,
    *,
    record_id: int,
    purpose: ConsentPurpose,
    channel: MarketingChannel | None,
    granted: bool,
    proof: Proof,
    now: datetime,
) -> list[OutboxEvent]:
    """Append one event; return the outbox rows written (announce them after commit).

    Withdrawing personal-data consent withdraws every marketing consent with it (they cannot
    stand alone), each as its own event so the ledger says so."""
    version = check_text_version(proof.text_version)
    if version is None:
        raise DomainError(ErrorCode.INVALID, "a consent needs its text version", ("textVersion",))
    if (purpose is ConsentPurpose.MARKETING) != (channel is not None):
        raise DomainError(ErrorCode.INVALID, "marketing consents name a channel", ("channel",))
    await _append(conn, record_id, purpose, channel, granted, proof, version, now)
    profile = await profile_of(conn, record_id)
    if purpose is ConsentPurpose.PERSONAL_DATA and not granted:
        state = await profile_state(conn, profile)
        for standing in [c for c, f in state.marketing.items() if f.granted]:
            await _append(
                conn, record_id, ConsentPurpose.MARKETING, standing, False, proof, version, now
            )
    return await announce_state(conn, profile_id=profile, now=now)


async def _append(
    conn: BaseDBAsyncClient,
    record_id: int,
    purpose: ConsentPurpose,
    channel: MarketingChannel | None,
    granted: bool,
    proof: Proof,
    version: str,
    now: datetime,
) -> None:
    await ConsentEvent.create(
        using_db=conn,
        record_id=record_id,
        purpose=purpose.value,
        channel=channel.value if channel else None,
        granted=granted,
        text_version=version,
        source=proof.source.value,
        device=proof.device[:200],
        actor=proof.actor[:100],
        at=now,
    )


async def profile_state(conn: BaseDBAsyncClient, profile_id: int) -> ConsentState:
    """The consents of every record of the profile: the latest event wins."""
    ids = (
        await IdentityRecord.filter(profile_id=profile_id)
        .using_db(conn)
        .values_list("id", flat=True)
    )
    events = await ConsentEvent.filter(record_id__in=list(ids)).using_db(conn)
    return derive(_fact(e) for e in events)


async def profile_history(conn: BaseDBAsyncClient, profile_id: int) -> list[ConsentEvent]:
    ids = (
        await IdentityRecord.filter(profile_id=profile_id)
        .using_db(conn)
        .values_list("id", flat=True)
    )
    return list(
        await ConsentEvent.filter(record_id__in=list(ids)).order_by("at", "id").using_db(conn)
    )


async def announce_state(
    conn: BaseDBAsyncClient, *, profile_id: int, now: datetime
) -> list[OutboxEvent]:
    """The profile's consents now, to 1C and RetailCRM."""
    state = await profile_state(conn, profile_id)
    ids = await outbound.system_ids(conn, profile_id)
    return await outbound.write(
        conn,
        kind=EventKind.CONSENT_CHANGED,
        aggregate=outbound.privacy_aggregate(profile_id),
        record=consent_record(state, ids, now),
        now=now,
    )


CHUNK = 500  # ids per IN (...): well inside SQLite's limit on bound variables


async def profile_states(conn: BaseDBAsyncClient, profiles: list[int]) -> dict[int, ConsentState]:
    """The consent state of many profiles at once (a segment export's members)."""
    facts: dict[int, list[ConsentFact]] = {p: [] for p in profiles}
    for start in range(0, len(profiles), CHUNK):
        chunk = profiles[start : start + CHUNK]
        pairs = (
            await IdentityRecord.filter(profile_id__in=chunk)
            .using_db(conn)
            .values_list("id", "profile_id")
        )
        owner = {int(i): int(p) for i, p in pairs}
        for start_r in range(0, len(owner), CHUNK):
            ids = list(owner)[start_r : start_r + CHUNK]
            for e in await ConsentEvent.filter(record_id__in=ids).using_db(conn):
                facts[owner[e.record_id]].append(_fact(e))
    return {p: derive(f) for p, f in facts.items()}


def _fact(e: ConsentEvent) -> ConsentFact:
    channel = MarketingChannel(e.channel) if e.channel else None
    return ConsentFact(e.id, ConsentPurpose(e.purpose), channel, e.granted, e.at)
