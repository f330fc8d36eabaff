"""Unmerge is the exact inverse of a link: whatever the graph, linking two profiles and then
unmerging that link gives back the very same records, links and profiles. The histories
re-observe records with other phones, cards and verifications (changed identifiers), and
after any of them the graph holds its invariants: profile ids are the smallest record id of
each group of active links, the links are a forest, every identifier link is justified by
what both its records carry now, and a pair staff unmerged stays apart."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tortoise.transactions import in_transaction

from app.domain.identity import CustomerSource, LinkRule, components
from app.domain.identity_changes import still_justified
from app.models.identity import IdentityLink, IdentityRecord
from app.services.identity import graph
from app.services.identity.graph import record_evidence
from app.services.identity.observe import observe_customer
from tests.conftest import empty_tables

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
PHONES = ["+79161230001", "+79161230002", "+79161230003"]
CARDS = ["7001", "7002", "7003"]

sightings = st.lists(
    st.tuples(
        st.sampled_from(list(CustomerSource)),
        st.integers(0, 5),  # the record's id in its source
        st.sampled_from([None, *PHONES]),
        st.booleans(),  # phone verified
        st.sampled_from([None, *CARDS]),
    ),
    min_size=2,
    max_size=12,
)

Sighting = tuple[CustomerSource, int, str | None, bool, str | None]


async def _observe_all(seen: list[Sighting]) -> None:
    async with in_transaction() as conn:
        for source, n, phone, verified, card in seen:
            await observe_customer(
                conn,
                source=source,
                external_id=str(n),
                now=NOW,
                actor="t",
                phone=phone,
                phone_verified=verified,
                loyalty_card=card,
            )


async def _assert_invariants() -> None:
    records = {r.id: r for r in await IdentityRecord.all()}
    links = await IdentityLink.filter(removed_at=None)
    groups = components(records, [(x.left_id, x.right_id) for x in links])
    assert {i: r.profile_id for i, r in records.items()} == groups
    assert len(links) == len(records) - len(set(groups.values()))  # a forest
    for x in links:
        left, right = record_evidence(records[x.left_id]), record_evidence(records[x.right_id])
        assert still_justified(x.rule, x.value, left, right), (x.rule, x.value)


Snapshot = tuple[frozenset[tuple[int, int, str, str]], tuple[tuple[int, int], ...]]


async def _snapshot() -> Snapshot:
    links = await IdentityLink.filter(removed_at=None).values_list(
        "left_id", "right_id", "rule", "value"
    )
    profiles = await IdentityRecord.all().order_by("id").values_list("id", "profile_id")
    return (
        frozenset((int(a), int(b), str(r), str(v)) for a, b, r, v in links),
        tuple((int(i), int(p)) for i, p in profiles),
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seen=sightings, pick=st.integers(0, 1000))
async def test_link_then_unmerge_gives_back_the_previous_graph(
    database_url: str,
    seen: list[Sighting],
    pick: int,
) -> None:
    await empty_tables()
    await _observe_all(seen)
    await _assert_invariants()
    before = await _snapshot()
    profiles = sorted({p for _, p in before[1]})
    if len(profiles) < 2:
        return
    a = profiles[pick % len(profiles)]
    b = profiles[(pick // len(profiles) + 1 + pick) % len(profiles)]
    if a == b:
        b = profiles[(profiles.index(a) + 1) % len(profiles)]
    async with in_transaction() as conn:
        link = await graph.link_records(
            conn,
            left_id=a,
            right_id=b,
            rule=LinkRule.STAFF,
            value="",
            source="staff",
            actor="staff",
            now=NOW,
        )
    assert link is not None
    joined = await _snapshot()
    assert {p for _, p in joined[1]} == set(profiles) - {max(a, b)}

    async with in_transaction() as conn:
        await graph.unmerge(conn, link_id=link.id, actor="staff", now=NOW)

    assert await _snapshot() == before


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seen=sightings, later=sightings, pick=st.integers(0, 1000))
async def test_changes_after_an_unmerge_never_rejoin_the_pair(
    database_url: str, seen: list[Sighting], later: list[Sighting], pick: int
) -> None:
    await empty_tables()
    await _observe_all(seen)
    links = await IdentityLink.filter(removed_at=None).order_by("id")
    if not links:
        return
    link = links[pick % len(links)]
    async with in_transaction() as conn:
        await graph.unmerge(conn, link_id=link.id, actor="staff", now=NOW)

    await _observe_all(later)

    await _assert_invariants()
    left, right = await IdentityRecord.filter(id__in=[link.left_id, link.right_id]).order_by("id")
    assert left.profile_id != right.profile_id
