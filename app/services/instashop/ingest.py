"""Copy a slide's files to our store while Instagram's links still work, renditions made once."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from tortoise.expressions import F

from app.domain.instashop import SlideKind
from app.integrations.errors import IntegrationError
from app.integrations.instagram.mapping import MediaFile
from app.models.instashop import LookSlide
from app.services.instashop.renditions import NotAnImage, content_key, render
from app.services.instashop.store import MediaStore, StoreError

DOWNLOADS_AT_ONCE = 4


class Downloader(Protocol):
    async def download(self, url: str) -> bytes: ...


@dataclass(frozen=True, slots=True)
class PendingSlide:
    """A slide whose files are not all stored yet, with the links of this sync."""

    slide_id: int
    file: MediaFile


@dataclass(frozen=True, slots=True)
class Ingested:
    stored: int  # slides now complete
    failed: int  # slides to try again at the next sync
    images: int  # source images re-hosted (each as four renditions)


async def ingest(
    pending: Sequence[PendingSlide], *, client: Downloader, store: MediaStore
) -> Ingested:
    """Store each pending slide, a few at once; a failure is counted on the slide and left for
    the next sync, which brings fresh links."""
    gate = asyncio.Semaphore(DOWNLOADS_AT_ONCE)

    async def one(slide: PendingSlide) -> bool:
        async with gate:
            return await store_slide(slide, client=client, store=store)

    done = await asyncio.gather(*(one(p) for p in pending))
    stored = sum(done)
    return Ingested(stored=stored, failed=len(done) - stored, images=stored)


async def store_slide(slide: PendingSlide, *, client: Downloader, store: MediaStore) -> bool:
    """Download, render and store one slide's files, then mark it ready; False if it failed."""
    try:
        files, width, height = await _copy(slide.file, client, store)
    except (IntegrationError, StoreError, NotAnImage) as exc:
        await LookSlide.filter(id=slide.slide_id).update(
            attempts=F("attempts") + 1, last_error=f"{type(exc).__name__}: {exc}"[:500]
        )
        return False
    await LookSlide.filter(id=slide.slide_id).update(
        files=files, width=width, height=height, ready=True, last_error=""
    )
    return True


async def _copy(
    file: MediaFile, client: Downloader, store: MediaStore
) -> tuple[dict[str, str], int, int]:
    if file.image_url is None:
        raise NotAnImage("Instagram gave no image for this slide")
    source = await client.download(file.image_url)
    rendered = await asyncio.to_thread(render, source)
    folder = content_key(source)
    files: dict[str, str] = {}
    for item in rendered.files:
        key = f"{folder}/{item.name}"
        await store.put(key, item.data, item.content_type)
        files[item.name.replace(".", "_")] = key
    if file.kind is SlideKind.VIDEO and file.media_url:
        video = await client.download(file.media_url)
        key = f"{content_key(video)}/video.mp4"
        await store.put(key, video, "video/mp4")
        files["video"] = key
    return files, rendered.width, rendered.height
