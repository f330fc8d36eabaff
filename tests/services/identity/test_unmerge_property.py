"""Unmerge is the exact inverse of a link: whatever the graph, linking two profiles and then
unmerging that link gives back the very same records, links and profiles."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tortoise.transactions import in_transaction

from app.domain.identity import CustomerSource, LinkRule
from app.models.identity import IdentityLink, IdentityRecord
from app.services.identity import graph
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
    seen: list[tuple[CustomerSource, int, str | None, bool, str | None]],
    pick: int,
) -> None:
    await empty_tables()
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
