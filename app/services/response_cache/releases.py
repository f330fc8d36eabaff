"""The drop instants every entry is capped to, read once and again after a collection changed."""

from __future__ import annotations

from datetime import datetime

from app.domain.response_cache import COLLECTION_LIST, next_release
from app.models.catalog import Collection
from app.services.response_cache.tags import TagBook


class ReleaseCalendar:
    """Every collection's `releaseAt`, sorted; read again when `list:collections` moves."""

    def __init__(self, book: TagBook) -> None:
        self.book = book
        self._instants: list[datetime] = []
        self._read_at: int | None = None  # the tag's version when last read

    async def next_after(self, now: datetime) -> datetime | None:
        version = self.book.versions.get(COLLECTION_LIST, 0)
        if self._read_at != version:
            rows: list[object] = list(await Collection.all().values_list("release_at", flat=True))
            self._instants = sorted(r for r in rows if isinstance(r, datetime))
            self._read_at = version
        return next_release(self._instants, now)
