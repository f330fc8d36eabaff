"""POST signed events to partners' receivers: pinned to a checked address, within a deadline.

The request goes to the address `checked_address` approved (never to a second DNS answer),
with the host's name in `Host` and in TLS's SNI so the certificate is checked against the
name. Connections are pooled per host name: a pool per address would hand one partner's TLS
session to another partner served from the same CDN address. Redirects are not followed.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass

import httpx

from app.domain.webhooks import IpAddress, TargetUrl
from app.integrations.errors import RejectedError, RetryableError
from app.integrations.http import RETRY_LATER_STATUSES, retry_after
from app.integrations.webhooks.addresses import Resolver, checked_address, resolve

KEPT_BODY_BYTES = 10_000  # of an answer, for the dead letter
MAX_HOSTS = 256  # pools kept open at once; the least recently used one is closed
USER_AGENT = "Vitrina-Webhooks/1"


class GoneError(RejectedError):
    """The receiver answered 410 Gone: it wants no more events of this subscription."""


class WebhookClient:
    """Send one event to one receiver; failures come out as the outbox's typed errors."""

    def __init__(
        self, *, timeout: float, allow_loopback: bool, resolver: Resolver = resolve
    ) -> None:
        self._timeout = timeout
        self._allow_loopback = allow_loopback
        self._resolver = resolver
        self._pools: OrderedDict[str, httpx.AsyncClient] = OrderedDict()

    async def post(self, target: TargetUrl, body: bytes, headers: dict[str, str]) -> None:
        """Deliver, or raise RetryableError (timeout, network, 408/425/429, 5xx) or
        RejectedError (any other answer; GoneError for 410)."""
        address = await checked_address(
            target, allow_loopback=self._allow_loopback, resolver=self._resolver
        )
        answer = await self._exchange(target, address, body, headers)
        if 200 <= answer.status < 300:
            return
        summary = f"HTTP {answer.status} from {target.host}: {' '.join(answer.body.split())[:300]}"
        if answer.status == 410:
            raise GoneError(summary, answer.status, answer.body)
        if answer.status >= 500 or answer.status in RETRY_LATER_STATUSES:
            raise RetryableError(summary, answer.retry_after)
        raise RejectedError(summary, answer.status, answer.body)

    async def _exchange(
        self, target: TargetUrl, address: IpAddress, body: bytes, headers: dict[str, str]
    ) -> _Answer:
        pool = await self._pool(target.host)
        request = pool.build_request(
            "POST",
            _pinned(target, address),
            content=body,
            headers={**headers, "Host": _host_header(target), "Content-Type": "application/json"},
            extensions={"sni_hostname": target.host} if target.https else {},
        )
        try:
            async with asyncio.timeout(self._timeout):  # the whole exchange, not each read
                response = await pool.send(request, stream=True)
                try:
                    kept = await _head_of(response)
                finally:
                    await response.aclose()
        except TimeoutError as error:
            raise RetryableError(f"no answer from {target.host} in {self._timeout:g} s") from error
        except httpx.RequestError as error:
            raise RetryableError(f"{type(error).__name__} from {target.host}") from error
        return _Answer(response.status_code, kept, retry_after(response))

    async def _pool(self, host: str) -> httpx.AsyncClient:
        pool = self._pools.pop(host, None)
        if pool is None:
            pool = httpx.AsyncClient(
                follow_redirects=False,
                timeout=httpx.Timeout(self._timeout),
                headers={"User-Agent": USER_AGENT},
                limits=httpx.Limits(max_connections=32, max_keepalive_connections=8),
            )
            if len(self._pools) >= MAX_HOSTS:
                _, oldest = self._pools.popitem(last=False)
                await oldest.aclose()
        self._pools[host] = pool
        return pool

    async def aclose(self) -> None:
        for pool in self._pools.values():
            await pool.aclose()
        self._pools.clear()


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    body: str
    retry_after: float | None


async def _head_of(response: httpx.Response) -> str:
    """The first bytes of the answer: enough for a person to read, never a flood in memory."""
    kept = bytearray()
    async for chunk in response.aiter_bytes():
        kept += chunk[: KEPT_BODY_BYTES - len(kept)]
        if len(kept) >= KEPT_BODY_BYTES:
            break
    return kept.decode("utf-8", "replace")


def _pinned(target: TargetUrl, address: IpAddress) -> httpx.URL:
    return httpx.URL(target.url).copy_with(host=str(address))


def _host_header(target: TargetUrl) -> str:
    default = 443 if target.https else 80
    host = f"[{target.host}]" if ":" in target.host else target.host
    return host if target.port == default else f"{host}:{target.port}"
