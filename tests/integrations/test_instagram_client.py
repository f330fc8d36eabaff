"""Our Instagram client against the simulator over real HTTP: pages and children, the token's
refresh, Instagram's error shapes as typed errors, usage headers, media links, the proxy."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from app.devtools.simulators.instagram import InstagramSimulator
from app.devtools.simulators.server import LocalServer
from app.domain.instashop import SlideKind
from app.integrations.errors import RetryableError
from app.integrations.instagram.client import (
    InstagramApiError,
    InstagramClient,
    MediaLinkExpired,
    RateLimitedError,
    TokenExpiredError,
)
from app.integrations.instagram.mapping import Usage
from tests import instashop_fixtures
from tests.conftest import Clock
from tests.instashop_fixtures import TOKEN

# the stand's fixtures, used by name below
ig_stand = instashop_fixtures.ig_stand
ig_sim = instashop_fixtures.ig_sim
instagram = instashop_fixtures.instagram


async def test_pages_come_newest_first_with_childrens_fields_and_a_cursor(
    ig_sim: InstagramSimulator, instagram: InstagramClient
) -> None:
    carousel = ig_sim.add_post("a", media_type="CAROUSEL_ALBUM", slides=["IMAGE", "VIDEO"])
    older = [ig_sim.add_post(f"old {n}") for n in range(2)]
    ig_sim.posts.sort(key=lambda p: p.media_id != carousel.media_id)  # the carousel is newest

    first = await instagram.media_page(TOKEN, limit=2)
    second = await instagram.media_page(TOKEN, after=first.after, limit=2)

    assert [i.media_id for i in first.items] == [carousel.media_id, ig_sim.posts[1].media_id]
    assert [(f.kind, f.media_url is not None) for f in first.items[0].files] == [
        (SlideKind.IMAGE, True),
        (SlideKind.VIDEO, True),
    ]
    assert first.items[0].files[1].thumbnail_url is not None
    assert [i.media_id for i in second.items] == [ig_sim.posts[2].media_id]
    assert second.after is None
    assert {p.media_id for p in older} == {first.items[1].media_id, second.items[0].media_id}


async def test_a_token_a_day_old_is_refreshed_a_younger_one_is_not(
    ig_sim: InstagramSimulator, instagram: InstagramClient, clock: Clock
) -> None:
    with pytest.raises(InstagramApiError) as young:
        await instagram.refresh_token(TOKEN)
    clock.advance(hours=24)

    fresh = await instagram.refresh_token(TOKEN)

    assert young.value.code == 10
    assert fresh.expires_in == timedelta(days=60)
    assert len((await instagram.media_page(fresh.access_token)).items) == 0


async def test_an_expired_or_revoked_token_is_code_190(
    ig_sim: InstagramSimulator, instagram: InstagramClient
) -> None:
    with pytest.raises(TokenExpiredError) as unknown:
        await instagram.media_page("IGAA-nobody")
    ig_sim.expire_token(TOKEN)
    with pytest.raises(TokenExpiredError) as expired:
        await instagram.media_page(TOKEN)

    assert (unknown.value.code, expired.value.code) == (190, 190)
    assert TOKEN not in expired.value.message  # the token never goes into a message


@pytest.mark.parametrize("code", [4, 17, 32, 613])
async def test_rate_limits_are_retryable_after_the_announced_wait(
    ig_sim: InstagramSimulator, instagram: InstagramClient, code: int
) -> None:
    ig_sim.rate_limit(1, code=code)

    with pytest.raises(RateLimitedError) as limited:
        await instagram.media_page(TOKEN)

    assert limited.value.retry_after == 15 * 60  # estimated_time_to_regain_access: 15 min
    assert instagram.usage == Usage(percent=100, regain_after=timedelta(minutes=15))
    assert (await instagram.media_page(TOKEN)).items == ()


async def test_every_answer_reports_usage(
    ig_sim: InstagramSimulator, instagram: InstagramClient
) -> None:
    ig_sim.usage_percent = 42

    await instagram.media_page(TOKEN)

    assert instagram.usage == Usage(percent=42, regain_after=timedelta(0))


async def test_a_server_error_is_retryable(
    ig_sim: InstagramSimulator, instagram: InstagramClient
) -> None:
    ig_sim.fail_5xx(1)

    with pytest.raises(RetryableError):
        await instagram.media_page(TOKEN)


async def test_a_media_link_works_until_it_expires(
    ig_sim: InstagramSimulator, instagram: InstagramClient, clock: Clock
) -> None:
    ig_sim.add_post("a")
    link = (await instagram.media_page(TOKEN)).items[0].files[0].media_url
    assert link is not None

    image = await instagram.download(link)
    clock.advance(seconds=3601)

    assert image[:2] == b"\xff\xd8"  # a JPEG
    with pytest.raises(MediaLinkExpired, match="URL signature expired"):
        await instagram.download(link)


async def test_a_slow_instagram_is_a_timeout_not_a_hang(
    ig_sim: InstagramSimulator, ig_stand: tuple[LocalServer, object]
) -> None:
    ig_sim.slow(0.5)
    async with InstagramClient(ig_stand[0].url, timeout=0.1) as impatient:
        with pytest.raises(RetryableError, match="media"):
            await impatient.media_page(TOKEN)


@pytest.fixture
async def proxy() -> AsyncIterator[list[str]]:
    """A forward HTTP proxy on 127.0.0.1 that records each request line and relays it."""
    seen: list[str] = []

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        line = head.split(b"\r\n", 1)[0].decode()
        seen.append(line)
        target = line.split(" ")[1].removeprefix("http://").split("/", 1)[0]
        host, port = target.split(":")
        up_reader, up_writer = await asyncio.open_connection(host, int(port))
        up_writer.write(head.replace(f"http://{target}".encode(), b"", 1))
        await up_writer.drain()
        writer.write(await up_reader.read(1 << 20))
        await writer.drain()
        writer.close()
        up_writer.close()

    server = await asyncio.start_server(relay, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    seen.append(f"http://127.0.0.1:{port}")
    async with server:
        yield seen
    server.close()


async def test_calls_go_through_the_configured_proxy(
    ig_sim: InstagramSimulator, ig_stand: tuple[LocalServer, object], proxy: list[str]
) -> None:
    address = proxy.pop(0)
    async with InstagramClient(ig_stand[0].url, proxy=address) as proxied:
        page = await proxied.media_page(TOKEN)

    assert page.items == ()
    assert len(proxy) == 1 and proxy[0].startswith(f"GET {ig_stand[0].url}/v23.0/me/media?")
