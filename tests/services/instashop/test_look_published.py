"""look.published: a look is announced to partners once it is first shown, and again when staff
show a hidden one; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from app.devtools.simulators.instagram import InstagramSimulator
from app.domain.outbox import Target
from app.integrations.instagram.client import InstagramClient
from app.models.instashop import Look, LookSlide
from app.models.outbox import OutboxEvent
from app.services.instashop import admin
from app.services.instashop.account import InstashopConfig
from app.services.instashop.store import FileStore
from app.services.instashop.sync import sync_feed
from app.services.partners.recording import record_looks_shown, record_releases
from tests import factories
from tests.conftest import Clock

HOOK = "http://127.0.0.1:9/hook"


async def _published() -> list[tuple[str, str]]:
    rows = await OutboxEvent.filter(target=Target.PARTNER).order_by("id")
    return [(r.aggregate, r.kind.value) for r in rows]


async def _sync(
    instagram: InstagramClient, store: FileStore, config: InstashopConfig, clock: Clock
) -> None:
    report = await sync_feed(client=instagram, store=store, config=config, now=clock.now)
    assert report.outcome == "done"


async def test_a_synced_look_is_announced_once_and_only_to_its_subscribers(
    db: str,
    ig_sim: InstagramSimulator,
    instagram: InstagramClient,
    media_store: FileStore,
    ig_config: InstashopConfig,
    clock: Clock,
) -> None:
    partner = await factories.partner()
    looks, _ = await factories.subscription(partner, HOOK, "look.published")
    await factories.subscription(partner, HOOK, "product.created")
    post = ig_sim.add_post("Осенний образ", media_type="CAROUSEL_ALBUM", slides=["IMAGE", "VIDEO"])

    await _sync(instagram, media_store, ig_config, clock)
    await _sync(instagram, media_store, ig_config, clock)

    assert await _published() == [(f"partner:{looks}:look:{post.media_id}", "look.published")]
    data = (await OutboxEvent.get(target=Target.PARTNER)).payload
    slides = await LookSlide.filter(look__media_id=post.media_id).order_by("position")
    assert (data["id"], data["caption"], data["products"]) == (post.media_id, "Осенний образ", [])
    assert [s["id"] for s in data["slides"]] == [str(s.id) for s in slides]
    assert [s["kind"] for s in data["slides"]] == ["IMAGE", "VIDEO"]
    assert data["slides"][1]["videoUrl"] == "/media/" + slides[1].files["video"]
    assert data["slides"][0]["image"]["card"] == "/media/" + slides[0].files["card_jpg"]


async def test_a_hidden_look_is_not_announced_until_staff_show_it_again(
    db: str,
    ig_sim: InstagramSimulator,
    instagram: InstagramClient,
    media_store: FileStore,
    ig_config: InstashopConfig,
    clock: Clock,
) -> None:
    partner = await factories.partner()
    post = ig_sim.add_post("Образ")
    await _sync(instagram, media_store, ig_config, clock)  # nobody listens yet
    await admin.set_hidden(look_id=post.media_id, hidden=True, now=clock.now)
    looks, _ = await factories.subscription(partner, HOOK, "look.published")
    look = await Look.get(media_id=post.media_id)

    await record_looks_shown([look.id], now=clock.now)
    await admin.set_hidden(look_id=post.media_id, hidden=True, now=clock.now)
    await _sync(instagram, media_store, ig_config, clock)

    assert await _published() == []

    await admin.set_hidden(look_id=post.media_id, hidden=False, now=clock.now)
    await admin.set_hidden(look_id=post.media_id, hidden=False, now=clock.now)  # already shown

    assert await _published() == [(f"partner:{looks}:look:{post.media_id}", "look.published")]


async def test_an_announced_look_hidden_and_shown_again_is_announced_anew(
    db: str,
    ig_sim: InstagramSimulator,
    instagram: InstagramClient,
    media_store: FileStore,
    ig_config: InstashopConfig,
    clock: Clock,
) -> None:
    partner = await factories.partner()
    looks, _ = await factories.subscription(partner, HOOK, "look.published")
    post = ig_sim.add_post("Образ")
    await _sync(instagram, media_store, ig_config, clock)

    await admin.set_hidden(look_id=post.media_id, hidden=True, now=clock.now)
    await admin.set_hidden(look_id=post.media_id, hidden=False, now=clock.now)

    aggregate = f"partner:{looks}:look:{post.media_id}"
    assert await _published() == [(aggregate, "look.published")] * 2


async def test_a_look_of_an_unreleased_drop_is_announced_with_the_release(
    db: str,
    ig_sim: InstagramSimulator,
    instagram: InstagramClient,
    media_store: FileStore,
    ig_config: InstashopConfig,
    clock: Clock,
) -> None:
    spring = await factories.collection("Spring", clock.now + timedelta(hours=1))
    winter = await factories.collection("Winter", clock.now - timedelta(days=1))
    coat = await factories.product("Coat", collection_guid=spring)
    post = ig_sim.add_post("Весна")
    await _sync(instagram, media_store, ig_config, clock)  # nobody listens yet
    slide = await LookSlide.get(look__media_id=post.media_id)
    await admin.link_product(link=admin.LinkInput(slide_id=slide.id, product_guid=coat))
    partner = await factories.partner()
    looks, _ = await factories.subscription(partner, HOOK, "look.published")
    await factories.subscription(partner, HOOK, "look.published", collection_guid=winter)

    await record_releases(now=clock.now)  # winter's release: the look shows none of it

    assert await _published() == []

    await record_releases(now=clock.now + timedelta(hours=1))

    assert await _published() == [(f"partner:{looks}:look:{post.media_id}", "look.published")]
    data = (await OutboxEvent.get(target=Target.PARTNER)).payload
    assert [p["product"]["id"] for p in data["products"]] == [coat]
