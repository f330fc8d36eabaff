"""The Instagram sync against the simulator over real HTTP, on SQLite and PostgreSQL: upserts,
pages, edits, deletions, carousels, videos, the token, rate limits, usage, media links."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from app.devtools.simulators.instagram import InstagramSimulator
from app.domain.instashop import LookState, SlideKind, SuggestionSource, SuggestionState
from app.integrations.instagram.client import InstagramClient
from app.models.instashop import InstagramAccount, Look, LookSlide, LookSuggestion, take_sync_lease
from app.services.catalog.products import VariantData
from app.services.instashop.account import InstashopConfig, InstashopOff, read_token
from app.services.instashop.looks import shown_looks
from app.services.instashop.store import FileStore
from app.services.instashop.sync import SyncReport, sync_feed
from tests import factories
from tests.conftest import Clock
from tests.instashop_fixtures import TOKEN


async def sync(
    instagram: InstagramClient, store: FileStore, config: InstashopConfig, clock: Clock
) -> SyncReport:
    return await sync_feed(client=instagram, store=store, config=config, now=clock.now)


def media_calls(sim: InstagramSimulator) -> list[str]:
    return [r.path for r in sim.requests]


async def dress() -> str:
    variants = [
        VariantData(factories.guid(f"v/{s}/{c}"), f"LL-0012-{s}-{c}", s, c, "4990.00")
        for s in ("S", "M")
        for c in ("BLK", "WHT")
    ]
    return await factories.product("Платье миди", variants=variants)


async def test_first_sync_makes_a_look_per_post_with_its_files_stored(
    db: str,
    ig_sim: InstagramSimulator,
    instagram: InstagramClient,
    media_store: FileStore,
    ig_config: InstashopConfig,
    clock: Clock,
) -> None:
    await dress()
    image = ig_sim.add_post("Платье LL-0012-M-WHT #autumn")
    carousel = ig_sim.add_post(
        "Три образа", media_type="CAROUSEL_ALBUM", slides=["IMAGE", "VIDEO", "IMAGE"]
    )
    reel = ig_sim.add_post(None, media_type="VIDEO")

    report = await sync(instagram, media_store, ig_config, clock)

    assert (report.outcome, report.posts, report.created, report.deleted) == ("done", 3, 3, 0)
    assert (report.slides_stored, report.slides_failed) == (5, 0)
    looks = {look.media_id: look for look in await Look.all()}
    assert looks.keys() == {image.media_id, carousel.media_id, reel.media_id}
    assert looks[image.media_id].caption == "Платье LL-0012-M-WHT #autumn"
    assert looks[reel.media_id].caption == ""
    slides = await LookSlide.filter(look__media_id=carousel.media_id).order_by("position")
    assert [s.media_id for s in slides] == [c.media_id for c in carousel.children]
    assert [s.kind for s in slides] == [SlideKind.IMAGE, SlideKind.VIDEO, SlideKind.IMAGE]
    assert all(s.ready for s in slides)
    assert set(slides[1].files) == {"card_jpg", "card_webp", "full_jpg", "full_webp", "video"}
    assert set(slides[0].files) == {"card_jpg", "card_webp", "full_jpg", "full_webp"}
    assert (slides[0].width, slides[0].height) == (400, 500)  # never enlarged
    for key in (*slides[0].files.values(), slides[1].files["video"]):
        assert (media_store.root / key).is_file()
    assert (media_store.root / slides[1].files["video"]).read_bytes()[4:8] == b"ftyp"
    suggestion = await LookSuggestion.get(look__media_id=image.media_id)
    assert (suggestion.colour, suggestion.source, suggestion.state) == (
        "WHT",
        SuggestionSource.ARTICLE,
        SuggestionState.OPEN,
    )


async def test_every_page_is_read(
    db: str,
    ig_sim: InstagramSimulator,
    instagram: InstagramClient,
    media_store: FileStore,
    ig_config: InstashopConfig,
    clock: Clock,
) -> None:
    posts = [ig_sim.add_post(f"post {n}") for n in range(27)]
    config = replace(ig_config, page_size=10)

    report = await sync(instagram, media_store, config, clock)

    assert (report.pages, report.posts, report.created) == (3, 27, 27)
    assert media_calls(ig_sim).count("/v23.0/me/media") == 3
    assert await Look.all().count() == 27
    stored = {media_id for (media_id,) in await Look.all().values_list("media_id")}
    assert stored == {p.media_id for p in posts}


async def test_an_edited_caption_updates_its_look_and_nothing_is_downloaded_again(
    db: str,
    ig_sim: InstagramSimulator,
    instagram: InstagramClient,
    media_store: FileStore,
    ig_config: InstashopConfig,
    clock: Clock,
) -> None:
    await dress()
    post = ig_sim.add_post("Скоро")
    other = ig_sim.add_post("Без изменений")
    await sync(instagram, media_store, ig_config, clock)
    downloads = ig_sim.downloads

    ig_sim.edit_caption(post.media_id, "Уже на сайте: LL-0012")
    clock.advance(minutes=5)
    report = await sync(instagram, media_store, ig_config, clock)

    assert (report.created, report.updated, report.slides_stored) == (0, 1, 0)
    assert ig_sim.downloads == downloads
    assert (await Look.get(media_id=post.media_id)).caption == "Уже на сайте: LL-0012"
    assert (await Look.get(media_id=other.media_id)).caption == "Без изменений"
    suggested = await LookSuggestion.filter(look__media_id=post.media_id).values_list(
        "token", "colour"
    )
    assert suggested == [("LL-0012", None)]  # two colours: staff choose


async def test_a_post_deleted_on_instagram_hides_its_look(
    db: str,
    ig_sim: InstagramSimulator,
    instagram: InstagramClient,
    media_store: FileStore,
    ig_config: InstashopConfig,
    clock: Clock,
) -> None:
    gone = ig_sim.add_post("удалим")
    kept = ig_sim.add_post("оставим")
    await sync(instagram, media_store, ig_config, clock)

    ig_sim.delete_post(gone.media_id)
    report = await sync(instagram, media_store, ig_config, clock)

    assert report.deleted == 1
    assert (await Look.get(media_id=gone.media_id)).state is LookState.DELETED
    assert (await Look.get(media_id=kept.media_id)).state is LookState.VISIBLE
    shown = await shown_looks(await Look.all(), now=clock.now)
    assert [v.look.media_id for v in shown] == [kept.media_id]


async def test_a_refused_page_takes_nothing_for_deleted(
    db: str,
    ig_sim: InstagramSimulator,
    instagram: InstagramClient,
    media_store: FileStore,
    ig_config: InstashopConfig,
    clock: Clock,
) -> None:
    for n in range(12):
        ig_sim.add_post(f"post {n}")
    config = replace(ig_config, page_size=5)
    await sync(instagram, media_store, config, clock)
    ig_sim.usage_percent = 95  # the first page answers: usage is high, stop there

    clock.advance(minutes=5)
    ig_sim.delete_post(ig_sim.posts[-1].media_id)
    report = await sync(instagram, media_store, config, clock)

    assert (report.outcome, report.pages, report.deleted) == ("stopped", 1, 0)
    assert await Look.filter(state=LookState.DELETED).count() == 0
    account = await InstagramAccount.get()
    assert account.paused_until == clock.now + timedelta(minutes=10)
    assert account.last_error == "Instagram usage at 95 %: paused"


async def test_the_token_is_refreshed_once_a_day_old_and_kept_encrypted(
    db: str,
    ig_sim: InstagramSimulator,
    instagram: InstagramClient,
    media_store: FileStore,
    ig_config: InstashopConfig,
    clock: Clock,
) -> None:
    ig_sim.add_post("один")
    await sync(instagram, media_store, ig_config, clock)
    clock.advance(hours=23)
    await sync(instagram, media_store, ig_config, clock)
    assert "/refresh_access_token" not in media_calls(ig_sim)

    clock.advance(hours=1)
    report = await sync(instagram, media_store, ig_config, clock)

    account = await InstagramAccount.get()
    new_token = read_token(account, ig_config)
    assert report.outcome == "done"
    assert media_calls(ig_sim).count("/refresh_access_token") == 1
    assert new_token != TOKEN and new_token in ig_sim.tokens
    assert new_token not in account.token_encrypted and TOKEN not in account.token_encrypted
    assert account.token_issued_at == clock.now
    assert account.token_expires_at == clock.now + timedelta(days=60)


async def test_an_expired_token_stops_the_sync_until_a_new_one_is_given(
    db: str,
    ig_sim: InstagramSimulator,
    instagram: InstagramClient,
    media_store: FileStore,
    ig_config: InstashopConfig,
    clock: Clock,
) -> None:
    ig_sim.add_post("один")
    ig_sim.expire_token(TOKEN)

    report = await sync(instagram, media_store, ig_config, clock)
    calls = len(ig_sim.requests)
    with pytest.raises(InstashopOff):
        await sync(instagram, media_store, ig_config, clock)

    assert report.outcome == "stopped" and report.error.startswith("token expired")
    account = await InstagramAccount.get()
    assert account.token_expired
    assert account.last_error == "the Instagram token expired or was revoked: log in again"
    assert len(ig_sim.requests) == calls  # nothing more was asked of Instagram
    assert await Look.all().count() == 0
    new = "IGAA-new-login"
    ig_sim.tokens[new] = type(ig_sim.tokens[TOKEN])(ig_sim.now(), ig_sim.now() + 86400 * 60)
    relogged = replace(ig_config, initial_token=new)
    assert (await sync(instagram, media_store, relogged, clock)).created == 1


@pytest.mark.parametrize("code", [4, 17, 32, 613])
async def test_a_rate_limit_pauses_the_sync_for_the_wait_instagram_announced(
    db: str,
    ig_sim: InstagramSimulator,
    instagram: InstagramClient,
    media_store: FileStore,
    ig_config: InstashopConfig,
    clock: Clock,
    code: int,
) -> None:
    ig_sim.add_post("один")
    ig_sim.rate_limit(1, code=code)

    limited = await sync(instagram, media_store, ig_config, clock)
    clock.advance(minutes=14)
    paused = await sync(instagram, media_store, ig_config, clock)
    calls = len(ig_sim.requests)
    clock.advance(minutes=1)
    resumed = await sync(instagram, media_store, ig_config, clock)

    assert limited.outcome == "stopped" and f"rate limited ({code})" in limited.error
    assert paused.outcome == "paused" and calls == 1  # the pause made no call
    assert (resumed.outcome, resumed.created) == ("done", 1)


async def test_a_failed_download_is_tried_again_with_the_next_syncs_fresh_link(
    db: str,
    ig_sim: InstagramSimulator,
    instagram: InstagramClient,
    media_store: FileStore,
    ig_config: InstashopConfig,
    clock: Clock,
) -> None:
    post = ig_sim.add_post("один", media_type="CAROUSEL_ALBUM", slides=["IMAGE", "IMAGE"])
    ig_sim.fail_downloads(1)

    first = await sync(instagram, media_store, ig_config, clock)
    hidden = await shown_looks(await Look.all(), now=clock.now)
    clock.advance(hours=2)  # the first sync's links have expired meanwhile
    second = await sync(instagram, media_store, ig_config, clock)

    assert (first.slides_stored, first.slides_failed) == (1, 1)
    assert hidden == []  # a look with a file missing is not shown
    failed = await LookSlide.get(media_id=post.children[0].media_id)
    assert (failed.ready, failed.attempts) == (True, 1)
    assert (second.slides_stored, second.slides_failed) == (1, 0)
    assert len(await shown_looks(await Look.all(), now=clock.now)) == 1


async def test_the_stored_files_outlive_instagrams_links(
    db: str,
    ig_sim: InstagramSimulator,
    instagram: InstagramClient,
    media_store: FileStore,
    ig_config: InstashopConfig,
    clock: Clock,
    tmp_path: Path,
) -> None:
    ig_sim.add_post("один")
    page = await instagram.media_page(TOKEN)
    link = page.items[0].files[0].media_url
    assert link is not None
    await sync(instagram, media_store, ig_config, clock)

    clock.advance(hours=2)

    with pytest.raises(Exception, match="URL signature expired"):
        await instagram.download(link)
    slide = await LookSlide.get()
    assert all((media_store.root / key).is_file() for key in slide.files.values())
    assert (await sync(instagram, media_store, ig_config, clock)).slides_stored == 0


async def test_one_sync_at_a_time(
    db: str,
    ig_sim: InstagramSimulator,
    instagram: InstagramClient,
    media_store: FileStore,
    ig_config: InstashopConfig,
    clock: Clock,
) -> None:
    ig_sim.add_post("один")
    await sync(instagram, media_store, ig_config, clock)
    account = await InstagramAccount.get()
    assert await take_sync_lease(account.id, until=clock.now + timedelta(minutes=10), now=clock.now)

    busy = await sync(instagram, media_store, ig_config, clock)
    clock.advance(minutes=11)  # a sync that died leaves its lease to run out
    after = await sync(instagram, media_store, ig_config, clock)

    assert busy.outcome == "busy"
    assert after.outcome == "done"


async def test_a_refused_refresh_keeps_the_token_that_still_works(
    db: str,
    ig_sim: InstagramSimulator,
    instagram: InstagramClient,
    media_store: FileStore,
    ig_config: InstashopConfig,
    clock: Clock,
) -> None:
    ig_sim.add_post("один")
    await sync(instagram, media_store, ig_config, clock)
    account = await InstagramAccount.get()
    await InstagramAccount.filter(id=account.id).update(
        token_issued_at=clock.now - timedelta(days=2)  # we think it old; Instagram does not
    )

    report = await sync(instagram, media_store, ig_config, clock)

    assert report.outcome == "done"
    assert read_token(await InstagramAccount.get(), ig_config) == TOKEN
