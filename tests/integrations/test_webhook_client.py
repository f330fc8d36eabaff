"""The webhook client against a receiver on 127.0.0.1: answers as typed errors, addresses
checked at each request, the name kept in Host, no redirects, a deadline."""

from __future__ import annotations

import ipaddress
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from starlette.applications import Starlette
from starlette.responses import RedirectResponse
from starlette.routing import Route

from app.devtools.simulators.partner import PartnerReceiver
from app.devtools.simulators.server import LocalServer
from app.domain.webhooks import IpAddress, TargetUrl, check_target_url, signature
from app.integrations.errors import RejectedError, RetryableError
from app.integrations.webhooks.addresses import UnsafeTarget
from app.integrations.webhooks.client import GoneError, WebhookClient

SECRET = "whsec_test"
NAME = "hooks.partner.test"
LOOPBACK = ipaddress.ip_address("127.0.0.1")
INTERNAL = ipaddress.ip_address("10.0.0.5")


class Resolver:
    """A DNS answer per call, in turn (the last one repeats): a name that rebinds."""

    def __init__(self, *answers: IpAddress) -> None:
        self.answers = list(answers)
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> list[IpAddress]:
        self.asked.append(host)
        return [self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]]


def _signed(event_id: str = "e-1") -> tuple[bytes, dict[str, str]]:
    body = json.dumps(
        {
            "id": event_id,
            "type": "order.placed",
            "createdAt": datetime.now(UTC).isoformat(),
            "apiVersion": "2026-11-01",
            "data": {"id": "o-1"},
        }
    ).encode()
    stamp = int(time.time())
    return body, {
        "Vitrina-Event-Id": event_id,
        "Vitrina-Timestamp": str(stamp),
        "Vitrina-Signature": signature(SECRET, stamp, body),
    }


def _target(server: LocalServer, host: str = NAME) -> TargetUrl:
    url = f"http://{host}:{server.port}/in"
    return check_target_url(url, require_https=False, allow_loopback=True)


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[PartnerReceiver, LocalServer]]:
    simulator = PartnerReceiver(SECRET)
    async with LocalServer(simulator.app) as server:
        yield simulator, server


async def test_an_event_goes_to_the_checked_address_under_its_name(
    receiver: tuple[PartnerReceiver, LocalServer],
) -> None:
    simulator, server = receiver
    resolver = Resolver(LOOPBACK)
    client = WebhookClient(timeout=5, allow_loopback=True, resolver=resolver)
    body, headers = _signed()

    await client.post(_target(server), body, headers)
    await client.aclose()

    assert simulator.ids() == ["e-1"] and simulator.bad_signatures == 0
    assert simulator.events[0].headers["host"] == f"{NAME}:{server.port}"
    assert simulator.events[0].headers["user-agent"] == "Vitrina-Webhooks/1"
    assert resolver.asked == [NAME]


async def test_a_name_that_resolves_inwards_is_never_sent_to(
    receiver: tuple[PartnerReceiver, LocalServer],
) -> None:
    simulator, server = receiver
    client = WebhookClient(timeout=5, allow_loopback=True, resolver=Resolver(INTERNAL))

    with pytest.raises(UnsafeTarget, match="resolves to a private or reserved address"):
        await client.post(_target(server), *_signed())
    await client.aclose()

    assert simulator.requests == []


async def test_a_name_rebound_inwards_after_its_check_is_refused_at_delivery(
    receiver: tuple[PartnerReceiver, LocalServer],
) -> None:
    simulator, server = receiver
    client = WebhookClient(timeout=5, allow_loopback=True, resolver=Resolver(LOOPBACK, INTERNAL))
    await client.post(_target(server), *_signed("e-1"))

    with pytest.raises(UnsafeTarget):
        await client.post(_target(server), *_signed("e-2"))
    await client.aclose()

    assert simulator.ids() == ["e-1"]


async def test_loopback_is_refused_unless_the_setting_allows_it(
    receiver: tuple[PartnerReceiver, LocalServer],
) -> None:
    simulator, server = receiver
    client = WebhookClient(timeout=5, allow_loopback=False, resolver=Resolver(LOOPBACK))

    with pytest.raises(UnsafeTarget, match="a loopback address"):
        await client.post(_target(server), *_signed())
    await client.aclose()

    assert simulator.requests == []


async def test_a_redirect_is_not_followed() -> None:
    async def moved(_: object) -> RedirectResponse:
        return RedirectResponse("http://169.254.169.254/latest/meta-data/", 307)

    app = Starlette(routes=[Route("/in", moved, methods=["POST"])])
    async with LocalServer(app) as server:
        client = WebhookClient(timeout=5, allow_loopback=True, resolver=Resolver(LOOPBACK))
        with pytest.raises(RejectedError) as refused:
            await client.post(_target(server), *_signed())
        await client.aclose()

    assert refused.value.status == 307


async def test_a_receiver_slower_than_the_timeout_is_retried_later(
    receiver: tuple[PartnerReceiver, LocalServer],
) -> None:
    simulator, server = receiver
    simulator.slow(2.0)
    client = WebhookClient(timeout=0.3, allow_loopback=True, resolver=Resolver(LOOPBACK))
    started = time.monotonic()

    with pytest.raises(RetryableError, match="no answer from hooks.partner.test in 0.3 s"):
        await client.post(_target(server), *_signed())
    await client.aclose()

    assert time.monotonic() - started < 1.0


async def test_answers_become_the_outbox_errors(
    receiver: tuple[PartnerReceiver, LocalServer],
) -> None:
    simulator, server = receiver
    client = WebhookClient(timeout=5, allow_loopback=True, resolver=Resolver(LOOPBACK))

    simulator.rate_limit(1, retry_after=7)
    with pytest.raises(RetryableError) as busy:
        await client.post(_target(server), *_signed())
    simulator.fail_5xx(1)
    with pytest.raises(RetryableError) as failing:
        await client.post(_target(server), *_signed())
    simulator.reject("o-1")
    with pytest.raises(RejectedError) as refused:
        await client.post(_target(server), *_signed())
    simulator.reset_faults()
    simulator.gone()
    with pytest.raises(GoneError):
        await client.post(_target(server), *_signed())
    await client.aclose()

    assert busy.value.retry_after == 7
    assert "HTTP 500" in failing.value.message
    assert (refused.value.status, json.loads(refused.value.body)) == (
        422,
        {"error": "we cannot take o-1"},
    )


async def test_a_name_that_does_not_resolve_is_retried_later() -> None:
    client = WebhookClient(timeout=5, allow_loopback=True)
    target = check_target_url(
        "https://no-such-host.invalid/in", require_https=True, allow_loopback=False
    )

    with pytest.raises(RetryableError, match="does not resolve"):
        await client.post(target, *_signed())
    await client.aclose()
