"""Instashop administration through the real ASGI app (admin scope): linking products to
slides, typed refusals that change nothing, hiding, pinning, suggestions, sync now."""

from __future__ import annotations

from typing import Any

import httpx
from redis.asyncio import Redis

from app.devtools.simulators.instagram import InstagramSimulator
from app.domain.access import Scope
from app.domain.instashop import LookState, SuggestionState
from app.integrations.instagram.client import InstagramClient
from app.models.instashop import Look, LookProduct, LookSlide, LookSuggestion
from app.services.catalog.products import VariantData
from app.services.instashop.account import InstashopConfig
from app.services.instashop.store import FileStore
from app.services.instashop.sync import sync_feed
from app.workers.instashop import SYNC_NOW_JOB_ID
from tests import factories
from tests.conftest import Clock, graphql

DRESS = factories.guid("product/Dress")
ERRORS = "errors { code path message }"
LOOK = """look { id state pinned position
  slides { id ready links { colour x y product { id } } }
  suggestions { id token colour state product { id } } }"""
LINK = f"""
mutation L($slide: ID!, $product: ID!, $colour: String, $x: Float, $y: Float) {{
  linkLookProduct(slideId: $slide, productId: $product, colour: $colour, x: $x, y: $y) {{
    {LOOK} {ERRORS}
  }}
}}"""
UNLINK = f"""
mutation U($slide: ID!, $product: ID!) {{
  unlinkLookProduct(slideId: $slide, productId: $product) {{ {LOOK} {ERRORS} }}
}}"""
HIDE = f"""
mutation H($look: ID!, $hidden: Boolean!) {{
  setLookHidden(lookId: $look, hidden: $hidden) {{ {LOOK} {ERRORS} }}
}}"""
PIN = f"""
mutation P($ids: [ID!]!) {{
  orderPinnedLooks(lookIds: $ids) {{ looks {{ id position }} {ERRORS} }}
}}"""
ACCEPT = f"""
mutation A($id: ID!) {{ acceptLookSuggestion(suggestionId: $id) {{ {LOOK} {ERRORS} }} }}"""
DISMISS = f"""
mutation D($id: ID!) {{ dismissLookSuggestion(suggestionId: $id) {{ {LOOK} {ERRORS} }} }}"""
LIST = "query Q { adminLooks { nodes { id state } } instashopStatus { lastSyncAt lastError } }"


async def synced(
    sim: InstagramSimulator,
    instagram: InstagramClient,
    store: FileStore,
    config: InstashopConfig,
    clock: Clock,
) -> tuple[str, list[str]]:
    """A dress in black and white, and a carousel whose caption names it: (look, slide ids)."""
    variants = [
        VariantData(factories.guid(f"variant/Dress/M/{c}"), f"LL-0012-M-{c}", "M", c, "4990.00")
        for c in ("BLK", "WHT")
    ]
    await factories.product("Dress", variants=variants)
    post = sim.add_post("LL-0012", media_type="CAROUSEL_ALBUM", slides=["IMAGE", "IMAGE"])
    await sync_feed(client=instagram, store=store, config=config, now=clock.now)
    slides = await LookSlide.filter(look__media_id=post.media_id).order_by("position")
    return post.media_id, [str(s.id) for s in slides]


async def call(
    client: httpx.AsyncClient, query: str, token: str | None, **variables: Any
) -> dict[str, Any]:
    body = await graphql(client, query, variables, token=token)
    assert "errors" not in body, body
    data: dict[str, Any] = next(iter(body["data"].values()))
    return data


async def test_staff_link_a_product_in_a_colour_at_a_point_and_take_it_off(
    client: httpx.AsyncClient,
    clock: Clock,
    ig_sim: InstagramSimulator,
    instagram: InstagramClient,
    media_store: FileStore,
    ig_config: InstashopConfig,
) -> None:
    look_id, slides = await synced(ig_sim, instagram, media_store, ig_config, clock)
    admin = await factories.token(Scope.ADMIN)

    linked = await call(
        client, LINK, admin, slide=slides[1], product=DRESS, colour="WHT", x=0.25, y=0.75
    )
    relinked = await call(client, LINK, admin, slide=slides[1], product=DRESS, colour="BLK")
    unlinked = await call(client, UNLINK, admin, slide=slides[1], product=DRESS)

    assert linked["errors"] == []
    assert linked["look"]["slides"][1]["links"] == [
        {"colour": "WHT", "x": 0.25, "y": 0.75, "product": {"id": DRESS}}
    ]
    assert linked["look"]["suggestions"][0]["state"] == "ACCEPTED"
    assert relinked["look"]["slides"][1]["links"] == [
        {"colour": "BLK", "x": None, "y": None, "product": {"id": DRESS}}
    ]
    assert unlinked["look"]["slides"][1]["links"] == []
    assert await LookProduct.all().count() == 0


async def test_a_refused_link_is_typed_and_writes_nothing(
    client: httpx.AsyncClient,
    clock: Clock,
    ig_sim: InstagramSimulator,
    instagram: InstagramClient,
    media_store: FileStore,
    ig_config: InstashopConfig,
) -> None:
    look_id, slides = await synced(ig_sim, instagram, media_store, ig_config, clock)
    admin = await factories.token(Scope.ADMIN)
    cases: list[tuple[dict[str, Any], tuple[str, list[str]]]] = [
        ({"slide": slides[0], "product": DRESS, "x": 0.5}, ("INVALID", ["x"])),
        ({"slide": slides[0], "product": DRESS, "x": 0.5, "y": 1.5}, ("INVALID", ["y"])),
        ({"slide": slides[0], "product": DRESS, "colour": "RED"}, ("INVALID", ["colour"])),
        (
            {"slide": slides[0], "product": factories.guid("nope")},
            ("UNKNOWN_PRODUCT", ["productId"]),
        ),
        ({"slide": "999999", "product": DRESS}, ("NOT_FOUND", ["slideId"])),
    ]

    answers = [await call(client, LINK, admin, **variables) for variables, _ in cases]

    assert [(a["errors"][0]["code"], a["errors"][0]["path"]) for a in answers] == [
        expected for _, expected in cases
    ]
    assert all(a["look"] is None for a in answers)
    assert await LookProduct.all().count() == 0
    states = await LookSuggestion.all().values_list("state")
    assert states == [(SuggestionState.OPEN,)]


async def test_only_an_admin_token_may_edit_looks(
    client: httpx.AsyncClient,
    clock: Clock,
    ig_sim: InstagramSimulator,
    instagram: InstagramClient,
    media_store: FileStore,
    ig_config: InstashopConfig,
) -> None:
    look_id, slides = await synced(ig_sim, instagram, media_store, ig_config, clock)
    catalog = await factories.token(Scope.CATALOG_WRITE)

    anonymous = await graphql(client, HIDE, {"look": look_id, "hidden": True})
    forbidden = await graphql(client, HIDE, {"look": look_id, "hidden": True}, token=catalog)

    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert forbidden["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert (await Look.get(media_id=look_id)).state is LookState.VISIBLE


async def test_hide_show_pin_and_list_every_look(
    client: httpx.AsyncClient,
    clock: Clock,
    ig_sim: InstagramSimulator,
    instagram: InstagramClient,
    media_store: FileStore,
    ig_config: InstashopConfig,
) -> None:
    look_id, _ = await synced(ig_sim, instagram, media_store, ig_config, clock)
    admin = await factories.token(Scope.ADMIN)

    hidden = await call(client, HIDE, admin, look=look_id, hidden=True)
    listed = await graphql(client, LIST, token=admin)
    shown = await call(client, HIDE, admin, look=look_id, hidden=False)
    pinned = await call(client, PIN, admin, ids=[look_id])
    twice = await call(client, PIN, admin, ids=[look_id, look_id])
    unknown = await call(client, PIN, admin, ids=["nope"])

    assert hidden["look"]["state"] == "HIDDEN" and shown["look"]["state"] == "VISIBLE"
    assert listed["data"]["adminLooks"]["nodes"] == [{"id": look_id, "state": "HIDDEN"}]
    assert listed["data"]["instashopStatus"] == {
        "lastSyncAt": clock.now.isoformat(),
        "lastError": "",
    }
    assert pinned == {"looks": [{"id": look_id, "position": 0}], "errors": []}
    assert twice["errors"][0]["code"] == "DUPLICATE_IN_BATCH"
    assert (unknown["errors"][0]["code"], unknown["errors"][0]["path"]) == (
        "NOT_FOUND",
        ["lookIds", "0"],
    )
    assert (await Look.get(media_id=look_id)).pinned


async def test_a_suggestion_accepted_links_its_product_a_dismissed_one_stays_away(
    client: httpx.AsyncClient,
    clock: Clock,
    ig_sim: InstagramSimulator,
    instagram: InstagramClient,
    media_store: FileStore,
    ig_config: InstashopConfig,
) -> None:
    look_id, slides = await synced(ig_sim, instagram, media_store, ig_config, clock)
    admin = await factories.token(Scope.ADMIN)
    suggestion = await LookSuggestion.get()

    dismissed = await call(client, DISMISS, admin, id=str(suggestion.id))
    accepted = await call(client, ACCEPT, admin, id=str(suggestion.id))
    missing = await call(client, ACCEPT, admin, id="424242")

    assert dismissed["look"]["suggestions"][0]["state"] == "DISMISSED"
    assert accepted["look"]["slides"][0]["links"] == [
        {"colour": None, "x": None, "y": None, "product": {"id": DRESS}}
    ]
    assert accepted["look"]["suggestions"][0]["state"] == "ACCEPTED"
    assert (missing["errors"][0]["code"], missing["errors"][0]["path"]) == (
        "NOT_FOUND",
        ["suggestionId"],
    )


async def test_sync_now_queues_the_sync_once(client: httpx.AsyncClient, redis_url: str) -> None:
    admin = await factories.token(Scope.ADMIN)
    redis = Redis.from_url(redis_url)
    await redis.delete(f"arq:job:{SYNC_NOW_JOB_ID}")

    first = await call(client, "mutation S { syncInstashopNow { queued } }", admin)
    second = await call(client, "mutation S { syncInstashopNow { queued } }", admin)

    assert first == second == {"queued": True}
    assert await redis.exists(f"arq:job:{SYNC_NOW_JOB_ID}") == 1
    queued = await redis.zrange("arq:queue", 0, -1)
    assert queued.count(SYNC_NOW_JOB_ID.encode()) == 1
    await redis.delete(f"arq:job:{SYNC_NOW_JOB_ID}")
    await redis.zrem("arq:queue", SYNC_NOW_JOB_ID)
    await redis.aclose()
