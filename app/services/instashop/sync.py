"""Sync the brand's Instagram feed into looks: upsert by media id, re-host files, hide what
Instagram no longer has.

One sync at a time (a lease on the account row). Every page is read, newest first: a full
pass is what tells a deleted post from an old one (1,000 posts are 40 calls; Instagram allows
4,800 × impressions a day). A rate limit, an expired token or high usage stops the pass where
it is: what was read is kept, nothing is taken for deleted, and the next sync starts again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from tortoise.transactions import in_transaction

from app.domain.instashop import LookState
from app.integrations.errors import RejectedError, RetryableError
from app.integrations.instagram.client import TokenExpiredError
from app.integrations.instagram.mapping import MediaItem, MediaPage, RefreshedToken, Usage
from app.models.instashop import InstagramAccount, Look, LookSlide, take_sync_lease
from app.services.instashop.account import (
    InstashopConfig,
    InstashopOff,
    ensure_account,
    mark_token_expired,
    usable_token,
)
from app.services.instashop.ingest import Downloader, PendingSlide, ingest
from app.services.instashop.store import MediaStore
from app.services.instashop.suggestions import (
    Catalogue,
    link_named_articles,
    suggest_from_caption,
)
from app.services.partners.recording import record_slides_stored


class InstagramFeed(Downloader, Protocol):
    """What a sync needs of the Instagram client."""

    usage: Usage

    async def media_page(
        self, token: str, user_id: str = "me", *, after: str | None = None, limit: int = 25
    ) -> MediaPage: ...

    async def refresh_token(self, token: str) -> RefreshedToken: ...


@dataclass
class SyncReport:
    outcome: str = "done"  # done, paused, busy, stopped (rate limit, usage, token)
    pages: int = 0
    posts: int = 0
    created: int = 0
    updated: int = 0  # caption, link or slides changed
    deleted: int = 0
    suggested: int = 0
    linked: int = 0  # suggestions accepted by INSTASHOP_AUTO_LINK=sku
    slides_stored: int = 0
    slides_failed: int = 0
    images: int = 0
    error: str = ""
    seen: set[str] = field(default_factory=set, repr=False)


async def sync_feed(
    *, client: InstagramFeed, store: MediaStore, config: InstashopConfig, now: datetime
) -> SyncReport:
    """One pass over the account's media (see the module docstring)."""
    account = await ensure_account(config, now)
    if account.paused_until is not None and account.paused_until > now:
        return SyncReport(outcome="paused", error=account.last_error)
    if not await take_sync_lease(account.id, until=now + config.lease, now=now):
        return SyncReport(outcome="busy")
    report = SyncReport()
    try:
        await _pass(account, client, store, config, now, report)
    except InstashopOff as off:  # kept for instashopStatus, then told to the caller
        report.outcome, report.error = "stopped", str(off)
        raise
    finally:
        await InstagramAccount.filter(id=account.id).update(
            sync_lease_until=None, last_sync_at=now, last_error=report.error[:500]
        )
    return report


async def _pass(
    account: InstagramAccount,
    client: InstagramFeed,
    store: MediaStore,
    config: InstashopConfig,
    now: datetime,
    report: SyncReport,
) -> None:
    try:
        token = await usable_token(account, client, config, now)
        complete = await _read_pages(client, store, token, config, now, report)
    except TokenExpiredError as exc:
        await mark_token_expired(account, f"Instagram: {exc.message}")
        report.outcome, report.error = "stopped", f"token expired: {exc.message}"
        return
    except RetryableError as exc:
        await _pause(account, timedelta(seconds=exc.retry_after or 60), now)
        report.outcome, report.error = "stopped", exc.message
        return
    except RejectedError as exc:  # an answer we cannot read: the next sync tries again
        report.outcome, report.error = "stopped", exc.message
        return
    if complete:
        report.deleted = await _hide_deleted(report.seen)


async def _read_pages(
    client: InstagramFeed,
    store: MediaStore,
    token: str,
    config: InstashopConfig,
    now: datetime,
    report: SyncReport,
) -> bool:
    """Every page in turn; False if usage ran high before the last one."""
    catalogue, after = Catalogue(), None
    while True:
        page = await client.media_page(token, config.user_id, after=after, limit=config.page_size)
        report.pages += 1
        pending = [
            p
            for item in page.items
            for p in await _upsert(item, now, catalogue, config.auto_link, report)
        ]
        done = await ingest(pending, client=client, store=store)
        await record_slides_stored([p.slide_id for p in pending], now=now)
        report.slides_stored += done.stored
        report.slides_failed += done.failed
        report.images += done.images
        if page.after is None:
            return True
        pause = client.usage.pause(config.usage_pause_percent)
        if pause is not None:
            account = await InstagramAccount.get(ig_user_id=config.user_id)
            await _pause(account, pause, now)
            report.outcome = "stopped"
            report.error = f"Instagram usage at {client.usage.percent} %: paused"
            return False
        after = page.after


async def _upsert(
    item: MediaItem, now: datetime, catalogue: Catalogue, auto_link: bool, report: SyncReport
) -> list[PendingSlide]:
    """Create or update one post's look and slides in one transaction; the slides still to
    store, with this sync's links."""
    report.posts += 1
    report.seen.add(item.media_id)
    async with in_transaction():
        look = await Look.get_or_none(media_id=item.media_id)
        caption_changed = look is None or look.caption != item.caption
        if look is None:
            look = await Look.create(**_look_fields(item, now), state=LookState.VISIBLE)
            report.created += 1
        elif _changed(look, item):
            restored = LookState.VISIBLE if look.state is LookState.DELETED else look.state
            await Look.filter(id=look.id).update(**_look_fields(item, now), state=restored)
            look.caption = item.caption
            report.updated += 1
        else:
            await Look.filter(id=look.id).update(seen_at=now)
        slides = await _upsert_slides(look, item)
        if caption_changed:
            report.suggested += await suggest_from_caption(look, catalogue)
            if auto_link:
                report.linked += await link_named_articles(look)
    return slides


def _look_fields(item: MediaItem, now: datetime) -> dict[str, Any]:
    return {
        "media_id": item.media_id,
        "media_type": item.media_type,
        "caption": item.caption,
        "permalink": item.permalink,
        "shortcode": item.shortcode,
        "posted_at": item.posted_at,
        "seen_at": now,
    }


def _changed(look: Look, item: MediaItem) -> bool:
    seen = (look.caption, look.permalink, look.shortcode)
    return look.state is LookState.DELETED or seen != (item.caption, item.permalink, item.shortcode)


async def _upsert_slides(look: Look, item: MediaItem) -> list[PendingSlide]:
    existing = {s.media_id: s for s in await LookSlide.filter(look_id=look.id)}
    wanted = [f.media_id for f in item.files]
    gone = [s.id for media_id, s in existing.items() if media_id not in wanted]
    if gone:  # a slide removed from the carousel on Instagram
        await LookSlide.filter(id__in=gone).delete()
    pending = []
    for position, file in enumerate(item.files):
        slide = existing.get(file.media_id)
        if slide is None:
            slide = await LookSlide.create(
                look_id=look.id, media_id=file.media_id, position=position, kind=file.kind
            )
        elif slide.position != position:
            await LookSlide.filter(id=slide.id).update(position=position)
        if not slide.ready:
            pending.append(PendingSlide(slide.id, file))
    return pending


async def _hide_deleted(seen: Sequence[str] | set[str]) -> int:
    """Looks whose post a complete pass did not find: deleted (or archived) on Instagram."""
    shown = [LookState.VISIBLE, LookState.HIDDEN]
    return (
        await Look.filter(state__in=shown)
        .exclude(media_id__in=list(seen))
        .update(state=LookState.DELETED)
    )


async def _pause(account: InstagramAccount, pause: timedelta, now: datetime) -> None:
    await InstagramAccount.filter(id=account.id).update(paused_until=now + pause)
