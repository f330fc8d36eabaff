"""Entries: the per-process LRU's bounds and the form an entry takes in redis."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.services.response_cache.entries import (
    LRU,
    Entry,
    Figure,
    StockShown,
    StockSlot,
    dump,
    etag_of,
    load,
)

T = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def entry(key: str, body: bytes = b"{}", tags: frozenset[str] = frozenset()) -> Entry:
    return Entry(key, body, etag_of(body), tags, 3, T, T + timedelta(seconds=60))


def test_the_least_recently_used_entry_goes_first() -> None:
    lru = LRU(max_entries=2, max_bytes=10_000)
    lru.put(entry("a"))
    lru.put(entry("b"))
    assert lru.get("a") is not None  # a is now the newest
    lru.put(entry("c"))
    assert lru.get("b") is None and lru.get("a") is not None and lru.get("c") is not None


def test_the_bytes_bound_holds_and_an_entry_bigger_than_it_is_not_kept() -> None:
    lru = LRU(max_entries=100, max_bytes=300)
    lru.put(entry("a", b"x" * 200))
    lru.put(entry("b", b"y" * 200))
    assert lru.get("a") is None and lru.get("b") is not None and lru.bytes == 200
    lru.put(entry("huge", b"z" * 301))
    assert lru.get("huge") is None and len(lru) == 1


def test_an_entry_comes_back_from_redis_as_it_went() -> None:
    stock = StockShown(
        slots=[StockSlot(("product", "variants", 0, "availability"), "by_warehouse", (5,), ("q",))],
        figures={5: Figure(3, (1, 2), (1, 2), 9)},
        deadline=T + timedelta(minutes=5),
    )
    sent = entry("k", b'{"data":{"x":"\xd0\xaf\\n"}}', frozenset({"product:p1", "list:products"}))
    sent.stock = stock
    back = load(dump(sent))
    assert (back.key, back.body, back.etag, back.tags) == (
        sent.key,
        sent.body,
        sent.etag,
        sent.tags,
    )
    assert (back.filled_seq, back.filled_at, back.expires_at) == (3, T, T + timedelta(seconds=60))
    assert back.stock == stock
