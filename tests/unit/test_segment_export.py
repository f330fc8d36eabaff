"""A segment export's batches: cut at 50, each attempt sends only what is open, and what
became of each member survives the outbox row's JSON."""

from __future__ import annotations

from app.domain.consents import MarketingChannel
from app.domain.segment_export import (
    BATCH,
    Marks,
    after_attempt,
    batch_aggregate,
    batch_from_plain,
    batch_to_plain,
    batches,
    is_batch_aggregate,
    summary,
)

SMS = MarketingChannel.SMS


def test_an_export_is_cut_into_batches_of_fifty_in_order() -> None:
    cut = batches("e", "vip", SMS, list(range(1, 121)))

    assert BATCH == 50
    assert [(b.number, len(b.profiles)) for b in cut] == [(0, 50), (1, 50), (2, 20)]
    assert [p for b in cut for p in b.profiles] == list(range(1, 121))


def test_an_attempt_records_each_member_and_leaves_the_unmentioned_open() -> None:
    batch = batches("e", "vip", SMS, [1, 2, 3, 4, 5])[0]
    marks = Marks(
        marked=frozenset({1}), skipped={2: "withdrawn"}, refused={3: "bad phone"}, retrying={}
    )

    after = after_attempt(batch, [1, 2, 3, 4, 5], marks)

    assert after.marked == (1,)
    assert dict(after.skipped) == {2: "withdrawn"}
    assert dict(after.refused) == {3: "bad phone"}
    assert dict(after.retrying) == {4: "not known to be marked", 5: "not known to be marked"}
    assert after.to_send(replayed=False) == [4, 5]
    assert after.to_send(replayed=True) == [3, 4, 5]  # a replay tries the refused again
    assert summary(after).startswith("1 marked, 1 skipped, 1 refused, 2 to retry of 5")


def test_a_later_attempt_settles_only_what_it_sent() -> None:
    first = after_attempt(
        batches("e", "vip", SMS, [1, 2, 3])[0],
        [1, 2, 3],
        Marks(marked=frozenset({1}), retrying={2: "503", 3: "503"}),
    )

    second = after_attempt(first, [2, 3], Marks(marked=frozenset({3}), retrying={2: "timeout"}))

    assert second.marked == (1, 3)
    assert dict(second.retrying) == {2: "timeout"}


def test_a_refused_member_sent_again_on_a_replay_and_marked_is_no_longer_refused() -> None:
    refused = after_attempt(
        batches("e", "vip", SMS, [1, 2])[0], [1, 2], Marks(frozenset({1}), refused={2: "x"})
    )

    replayed = after_attempt(refused, [2], Marks(marked=frozenset({2})))

    assert (replayed.marked, dict(replayed.refused)) == ((1, 2), {})


def test_a_batch_survives_its_plain_form_and_names_its_aggregate() -> None:
    batch = after_attempt(
        batches("e", "vip", SMS, [7, 8])[0], [7, 8], Marks(frozenset({7}), refused={8: "no"})
    )

    assert batch_from_plain(batch_to_plain(batch)) == batch
    assert batch_aggregate("e", 3) == "segment:e:batch:3"
    assert is_batch_aggregate("segment:e:batch:3")
    assert not is_batch_aggregate("segment:e:3")  # a member of an export before batches
