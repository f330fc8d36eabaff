"""Catalog intake invalidates after each commit, with the tags of what it wrote; an item that
failed bumps nothing."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis

from app.services.catalog import intake
from app.services.response_cache import invalidation
from app.services.response_cache.tags import TagBook
from tests import factories


class RecordingBook(TagBook):
    def __init__(self) -> None:
        super().__init__(Redis())  # never connected: bumps are recorded instead
        self.bumped: list[set[str]] = []

    async def bump(self, tags: Iterable[str]) -> int:
        self.bumped.append(set(tags))
        return len(self.bumped)


@pytest.fixture
def book(db: str) -> Iterator[RecordingBook]:
    recording = RecordingBook()
    invalidation.register(recording)
    yield recording
    invalidation.unregister(recording)


async def test_every_intake_bumps_the_tags_of_what_it_committed(book: RecordingBook) -> None:
    await factories.warehouses()
    assert book.bumped[0] == {
        "list:shops",
        "stock:*",
        f"warehouse:{factories.ONLINE}",
        "warehouse:*",
    }
    assert len(book.bumped) == 4
    book.bumped.clear()
    category = await factories.category("Dresses")
    collection = await factories.collection("Autumn", datetime(2026, 1, 1, tzinfo=UTC))
    product = await factories.product("Linen dress", category_guid=category)
    variant = factories.guid("variant/Linen dress/M/black")
    await intake.update_prices(items=[intake.PriceData(variant, "100.00")])
    assert book.bumped == [
        {"list:categories", "list:products", f"category:{category}", "category:*"},
        {"list:collections", "list:products", f"collection:{collection}", "collection:*"},
        {"list:products", f"product:{product}", "product:*", f"variant:{variant}", "variant:*"},
        {"list:products", f"variant:{variant}", "variant:*"},
    ]


async def test_an_item_that_failed_bumps_nothing(book: RecordingBook) -> None:
    unknown = factories.guid("variant/none")
    report = await intake.update_prices(items=[intake.PriceData(unknown, "100.00")])
    assert report.problems and book.bumped == []
