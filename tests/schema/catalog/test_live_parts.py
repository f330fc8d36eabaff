"""The live transports' parts without a server: the outbox, the timer, shareable documents."""

from __future__ import annotations

import asyncio
from typing import Any

import app.schema.catalog.subscriptions  # noqa: F401 (declares productAvailability shareable)
from app.schema.live.clock import LiveClock
from app.schema.live.outbox import Outbox, text
from app.schema.live.shared import channel_key, shared_document

DOCUMENT = (
    "subscription S($id: ID!) { productAvailability(productId: $id) { variantId available } }"
)


class SlowPeer:
    """An ASGI `send` that waits for `release` before each message."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.release = asyncio.Event()

    async def __call__(self, message: Any) -> None:
        await self.release.wait()
        self.sent.append(message["text"])


async def test_a_slow_peer_gets_the_newest_message_per_key_in_order() -> None:
    # given a peer that has not taken the first message yet
    peer = SlowPeer()
    outbox = Outbox(peer, lambda: None)
    outbox.post(text("first"))

    # when three figures of one variant and one of another are posted meanwhile
    for body, key in (("m1", "M"), ("l1", "L"), ("m2", "M"), ("m3", "M")):
        outbox.post(text(body), key)
    outbox.post(text("complete"))
    peer.release.set()
    while not outbox.idle:
        await asyncio.sleep(0)

    # then it got the newest of each, in first-posted order, and no task is left
    assert peer.sent == ["first", "m3", "l1", "complete"]


async def test_a_failed_send_drops_the_queue_and_reports_the_peer_gone() -> None:
    gone: list[bool] = []

    async def broken(message: Any) -> None:
        raise OSError("reset")

    outbox = Outbox(broken, lambda: gone.append(True))
    outbox.post(text("a"))
    outbox.post(text("b"), "k")
    await asyncio.sleep(0.01)
    outbox.post(text("c"))

    assert (gone, outbox.idle) == ([True], True)


class Recorder:
    def __init__(self) -> None:
        self.pings = 0
        self.timed_out = False

    def keep_alive(self) -> None:
        self.pings += 1

    def init_timed_out(self) -> None:
        self.timed_out = True


async def test_one_timer_times_out_init_and_pings_every_kept_connection() -> None:
    clock = LiveClock(init_seconds=0.05, ping_seconds=0.05)
    late, initialised, kept = Recorder(), Recorder(), Recorder()
    clock.await_init(late)
    clock.await_init(initialised)
    clock.initialised(initialised)
    clock.keep(kept)

    await asyncio.sleep(0.18)
    clock.forget(kept)
    pings = kept.pings
    await asyncio.sleep(0.1)

    assert (late.timed_out, initialised.timed_out) == (True, False)
    assert pings >= 2 and kept.pings == pings  # none after it was forgotten
    assert (clock.connections, clock.waiting) == (0, 0)


def test_a_shareable_document_is_keyed_by_canonical_text_and_variables() -> None:
    spaced = DOCUMENT.replace("{ ", "{\n  ")
    one, two = shared_document(DOCUMENT, None), shared_document(spaced, None)

    assert one is not None and two is not None
    assert channel_key(one, None, {"id": "1"}) == channel_key(two, None, {"id": "1"})
    assert channel_key(one, None, {"id": "1"}) != channel_key(one, None, {"id": "2"})
    assert (one.root_key, one.identity_key) == ("productAvailability", "variantId")


def test_per_shopper_fields_fragments_and_queries_are_not_shared() -> None:
    assert shared_document('subscription { queueStatus(token: "t") { position } }', None) is None
    assert shared_document("query { __typename }", None) is None
    assert shared_document(DOCUMENT.replace("variantId ", ""), None) is None
    with_fragment = (
        "subscription S($id: ID!) { productAvailability(productId: $id) { ...F } } "
        "fragment F on VariantAvailability { variantId }"
    )
    assert shared_document(with_fragment, None) is None
    assert shared_document("subscription {", None) is None
