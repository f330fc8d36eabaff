"""Entries: stored answer bytes with what decides their freshness, an LRU bounded by count and
bytes in each process, and their form in redis (a JSON header line, then the body)."""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

SlotKind = Literal["total", "by_warehouse"]
Path = tuple[str | int, ...]


def etag_of(body: bytes) -> str:
    """A strong ETag of the answer bytes (as documents.finish makes it)."""
    return '"' + hashlib.sha256(body).hexdigest()[:40] + '"'


@dataclass(frozen=True, slots=True)
class StockSlot:
    """Where availability appears: a number (Σ of `variants`) or a per-warehouse list."""

    path: Path  # response keys from `data` down, list indices included
    kind: SlotKind
    variants: tuple[int, ...]
    quantity_keys: tuple[str, ...] = ()  # the list items' `quantity` keys (aliases)


@dataclass(slots=True)
class Figure:
    """A variant's figure as the entry shows it, and the feed version it is known to be."""

    available: int
    warehouses: tuple[int, ...]  # sellable warehouses in the order lists show them
    quantities: tuple[int, ...]
    version: int | None  # None: may be older than any figure the feed holds


@dataclass(slots=True)
class StockShown:
    slots: list[StockSlot]
    figures: dict[int, Figure]
    deadline: datetime | None  # the earliest hold expiry counted: the figures change then


@dataclass(slots=True)
class Entry:
    key: str
    body: bytes
    etag: str
    tags: frozenset[str]
    filled_seq: int
    filled_at: datetime
    expires_at: datetime
    stock: StockShown | None = None
    # this process's bookkeeping, not shared
    checked_tags: int = -1  # the tag book's `changes` when the tags were last checked
    checked_stock: int = -1  # the stock watch's sequence when the figures were last checked
    generation: int | None = None  # the feed's generation the figures were checked under
    data: Any = field(default=None, repr=False)  # the decoded body, once it was patched

    @property
    def size(self) -> int:
        return len(self.body) + 64 * len(self.tags)


class LRU:
    """The newest entries of this process, at most `max_entries` and `max_bytes`."""

    def __init__(self, *, max_entries: int, max_bytes: int) -> None:
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self.bytes = 0
        self._entries: OrderedDict[str, Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> Entry | None:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def put(self, entry: Entry) -> None:
        self.drop(entry.key)
        if entry.size > self.max_bytes:
            return
        self._entries[entry.key] = entry
        self.bytes += entry.size
        while len(self._entries) > self.max_entries or self.bytes > self.max_bytes:
            _, oldest = self._entries.popitem(last=False)
            self.bytes -= oldest.size

    def drop(self, key: str) -> None:
        old = self._entries.pop(key, None)
        if old is not None:
            self.bytes -= old.size


def dump(entry: Entry) -> bytes:
    header = {
        "key": entry.key,
        "etag": entry.etag,
        "tags": sorted(entry.tags),
        "filled_seq": entry.filled_seq,
        "filled_at": entry.filled_at.isoformat(),
        "expires_at": entry.expires_at.isoformat(),
        "stock": _dump_stock(entry.stock) if entry.stock else None,
    }
    return json.dumps(header, separators=(",", ":")).encode() + b"\n" + entry.body


def load(raw: bytes) -> Entry:
    line, _, body = raw.partition(b"\n")
    header = json.loads(line)
    stock = header["stock"]
    return Entry(
        key=header["key"],
        body=body,
        etag=header["etag"],
        tags=frozenset(header["tags"]),
        filled_seq=header["filled_seq"],
        filled_at=datetime.fromisoformat(header["filled_at"]),
        expires_at=datetime.fromisoformat(header["expires_at"]),
        stock=_load_stock(stock) if stock else None,
    )


def _dump_stock(stock: StockShown) -> dict[str, Any]:
    return {
        "slots": [asdict(s) for s in stock.slots],
        "figures": {str(v): asdict(f) for v, f in stock.figures.items()},
        "deadline": stock.deadline.isoformat() if stock.deadline else None,
    }


def _load_stock(raw: dict[str, Any]) -> StockShown:
    slots = [
        StockSlot(
            path=tuple(s["path"]),
            kind=s["kind"],
            variants=tuple(s["variants"]),
            quantity_keys=tuple(s["quantity_keys"]),
        )
        for s in raw["slots"]
    ]
    figures = {
        int(v): Figure(
            available=f["available"],
            warehouses=tuple(f["warehouses"]),
            quantities=tuple(f["quantities"]),
            version=f["version"],
        )
        for v, f in raw["figures"].items()
    }
    deadline = datetime.fromisoformat(raw["deadline"]) if raw["deadline"] else None
    return StockShown(slots=slots, figures=figures, deadline=deadline)
