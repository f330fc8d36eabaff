"""INSTASHOP_AUTO_LINK=sku against the simulator, on SQLite and PostgreSQL: a caption's exact
SKU or 1C article is linked at sync, hashtags stay suggestions, staff's no stays no."""

from __future__ import annotations

from dataclasses import replace

import httpx
import pytest

from app.devtools.simulators.instagram import InstagramSimulator
from app.domain.instashop import SuggestionSource, SuggestionState
from app.integrations.instagram.client import InstagramClient
from app.models.instashop import LookProduct, LookSuggestion
from app.services.catalog.products import VariantData
from app.services.instashop import admin
from app.services.instashop.account import InstashopConfig
from app.services.instashop.store import FileStore
from app.services.instashop.sync import SyncReport, sync_feed
from app.settings import Settings
from tests import factories
from tests.conftest import Clock, graphql
from tests.contract.documents import document

DRESS, SCARF = factories.guid("product/Dress"), factories.guid("product/Scarf")


@pytest.fixture
def linking(ig_config: InstashopConfig) -> InstashopConfig:
    return replace(ig_config, auto_link=True)


def size(product: str, sku: str, size: str, colour: str) -> VariantData:
    return VariantData(
        factories.guid(f"variant/{product}/{size}/{colour}"), sku, size, colour, "4990.00"
    )


async def catalogue() -> None:
    """A dress in two white sizes and a black one, two of them in stock; a scarf."""
    await factories.warehouses()
    await factories.product(
        "Dress",
        variants=[
            size("Dress", "LL-0012-S-WHT", "S", "white"),
            size("Dress", "LL-0012-M-WHT", "M", "white"),
            size("Dress", "LL-0012-M-BLK", "M", "black"),
        ],
    )
    await factories.product("Scarf", variants=[size("Scarf", "LL-0007-OS-OLV", "OS", "olive")])
    await factories.stock(factories.guid("variant/Dress/M/white"), factories.ONLINE, 3)
    await factories.stock(factories.guid("variant/Dress/M/black"), factories.ONLINE, 1)


async def sync(
    instagram: InstagramClient, store: FileStore, config: InstashopConfig, clock: Clock
) -> SyncReport:
    return await sync_feed(client=instagram, store=store, config=config, now=clock.now)


async def links(media_id: str) -> list[tuple[str, str | None]]:
    rows = await LookProduct.filter(slide__look__media_id=media_id).prefetch_related("product")
    return sorted((row.product.guid, row.colour) for row in rows)


async def suggestions(media_id: str) -> list[tuple[str, SuggestionSource, SuggestionState]]:
    rows = await LookSuggestion.filter(look__media_id=media_id).prefetch_related("product")
    return sorted((row.product.guid, row.source, row.state) for row in rows)


def test_settings_default_to_off_and_sku_turns_it_on() -> None:
    assert Settings().instashop_auto_link == "off"
    assert InstashopConfig.of(Settings()).auto_link is False
    on = Settings(instashop_auto_link="sku", instagram_access_token="IGAA-x")
    assert InstashopConfig.of(on).auto_link is True


async def test_a_post_naming_a_sku_is_linked_and_its_look_shows_the_sizes_to_buy(
    client: httpx.AsyncClient,
    ig_sim: InstagramSimulator,
    instagram: InstagramClient,
    media_store: FileStore,
    linking: InstashopConfig,
    clock: Clock,
) -> None:
    await catalogue()
    post = ig_sim.add_post(
        "Платье LL-0012-M-WHT", media_type="CAROUSEL_ALBUM", slides=["IMAGE"] * 2
    )

    report = await sync(instagram, media_store, linking, clock)

    assert (report.suggested, report.linked) == (1, 1)
    assert await links(post.media_id) == [(DRESS, "white")]
    assert await suggestions(post.media_id) == [
        (DRESS, SuggestionSource.ARTICLE, SuggestionState.ACCEPTED)
    ]
    body = await graphql(client, document("Looks"))
    (look,) = [edge["node"] for edge in body["data"]["looks"]["edges"]]
    (item,) = look["products"]
    assert look["id"] == post.media_id and item["product"]["id"] == DRESS
    assert item["slideId"] == look["slides"][0]["id"]  # the first slide, as accepting does
    assert [(s["variant"]["size"], s["available"], s["soldOut"]) for s in item["sizes"]] == [
        ("S", 0, True),
        ("M", 3, False),
    ]


async def test_a_1c_article_links_its_product_without_choosing_a_colour(
    db: str,
    ig_sim: InstagramSimulator,
    instagram: InstagramClient,
    media_store: FileStore,
    linking: InstashopConfig,
    clock: Clock,
) -> None:
    await catalogue()
    post = ig_sim.add_post("Платье LL-0012 и шарф LL-0007-OS-OLV")

    report = await sync(instagram, media_store, linking, clock)

    assert report.linked == 2
    assert await links(post.media_id) == sorted([(DRESS, None), (SCARF, "olive")])


async def test_off_leaves_only_suggestions(
    db: str,
    ig_sim: InstagramSimulator,
    instagram: InstagramClient,
    media_store: FileStore,
    ig_config: InstashopConfig,
    clock: Clock,
) -> None:
    await catalogue()
    post = ig_sim.add_post("Платье LL-0012-M-WHT")

    report = await sync(instagram, media_store, ig_config, clock)

    assert (report.suggested, report.linked) == (1, 0)
    assert await links(post.media_id) == []
    assert await suggestions(post.media_id) == [
        (DRESS, SuggestionSource.ARTICLE, SuggestionState.OPEN)
    ]


async def test_hashtags_never_link(
    db: str,
    ig_sim: InstagramSimulator,
    instagram: InstagramClient,
    media_store: FileStore,
    linking: InstashopConfig,
    clock: Clock,
) -> None:
    await catalogue()
    post = ig_sim.add_post("Новое #ll0012 #ll0007")

    report = await sync(instagram, media_store, linking, clock)

    assert (report.suggested, report.linked) == (2, 0)
    assert await links(post.media_id) == []
    assert await suggestions(post.media_id) == sorted(
        [
            (DRESS, SuggestionSource.HASHTAG, SuggestionState.OPEN),
            (SCARF, SuggestionSource.HASHTAG, SuggestionState.OPEN),
        ]
    )


async def test_a_re_sync_links_nothing_twice(
    db: str,
    ig_sim: InstagramSimulator,
    instagram: InstagramClient,
    media_store: FileStore,
    linking: InstashopConfig,
    clock: Clock,
) -> None:
    await catalogue()
    post = ig_sim.add_post("Платье LL-0012-M-WHT")
    await sync(instagram, media_store, linking, clock)

    ig_sim.edit_caption(post.media_id, "Снова: LL-0012-M-WHT")
    report = await sync(instagram, media_store, linking, clock)

    assert (report.updated, report.suggested, report.linked) == (1, 0, 0)
    assert await links(post.media_id) == [(DRESS, "white")]
    assert await LookSuggestion.filter(look__media_id=post.media_id).count() == 1


async def test_a_dismissed_suggestion_is_not_linked_on_the_next_sync(
    db: str,
    ig_sim: InstagramSimulator,
    instagram: InstagramClient,
    media_store: FileStore,
    ig_config: InstashopConfig,
    linking: InstashopConfig,
    clock: Clock,
) -> None:
    await catalogue()
    post = ig_sim.add_post("Платье LL-0012-M-WHT")
    await sync(instagram, media_store, ig_config, clock)
    suggestion = await LookSuggestion.get(look__media_id=post.media_id)
    await admin.dismiss_suggestion(suggestion_id=suggestion.id)

    ig_sim.edit_caption(post.media_id, "Платье LL-0012-M-WHT, снова в наличии")
    report = await sync(instagram, media_store, linking, clock)

    assert (report.updated, report.suggested, report.linked) == (1, 0, 0)
    assert await links(post.media_id) == []
    assert await suggestions(post.media_id) == [
        (DRESS, SuggestionSource.ARTICLE, SuggestionState.DISMISSED)
    ]


async def test_a_link_staff_removed_is_not_made_again(
    db: str,
    ig_sim: InstagramSimulator,
    instagram: InstagramClient,
    media_store: FileStore,
    linking: InstashopConfig,
    clock: Clock,
) -> None:
    await catalogue()
    post = ig_sim.add_post("Платье LL-0012-M-WHT")
    await sync(instagram, media_store, linking, clock)
    (link,) = await LookProduct.filter(slide__look__media_id=post.media_id)
    await admin.unlink_product(slide_id=link.slide_id, product_guid=DRESS)

    ig_sim.edit_caption(post.media_id, "Платье LL-0012-M-WHT, последние размеры")
    again = await sync(instagram, media_store, linking, clock)
    unchanged = await sync(instagram, media_store, linking, clock)

    assert (again.updated, again.linked, unchanged.linked) == (1, 0, 0)
    assert await links(post.media_id) == []
    assert await suggestions(post.media_id) == [
        (DRESS, SuggestionSource.ARTICLE, SuggestionState.ACCEPTED)
    ]
