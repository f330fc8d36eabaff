"""The one after-commit hook of catalog writers: `await catalog_changed(tags)`.

The API process registers its tag book when it starts (`register`); a writer in a process with
no response cache (the demo loader, a CLI) changes nothing here, and entries elsewhere then
live at most their maximum age. A redis that does not answer loses the bump (logged): entries
everywhere are bounded by the same maximum age, and processes that lost redis stop serving.
Other processes (and another app in this process) hear the bump by pub/sub.
"""

from __future__ import annotations

from collections.abc import Iterable

import structlog
from redis.exceptions import RedisError

from app.services.response_cache.tags import TagBook

log = structlog.get_logger("app.response_cache")

_books: list[TagBook] = []


def register(book: TagBook) -> None:
    _books.append(book)


def unregister(book: TagBook) -> None:
    if book in _books:
        _books.remove(book)


async def catalog_changed(tags: Iterable[str]) -> None:
    """Invalidate the entries that show what a committed change touched, in every process."""
    names = set(tags)
    if not _books or not names:
        return
    try:
        sequence = await _books[0].bump(names)
    except (RedisError, OSError) as error:
        log.warning("response_cache.invalidation_lost", tags=len(names), error=repr(error))
        return
    for book in _books[1:]:  # another app of this process hears it now, not by pub/sub later
        book.heard(sequence, names)
