"""Resolve a webhook's host and refuse it if any address is in our own network."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable

from app.domain.webhooks import IpAddress, TargetUrl, ip_literal, refused_among
from app.integrations.errors import RejectedError, RetryableError

Resolver = Callable[[str, int], Awaitable[list[IpAddress]]]


class UnsafeTarget(RejectedError):
    """The host resolves into our own network (loopback, private, link-local…)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, 0, "")


async def resolve(host: str, port: int) -> list[IpAddress]:
    """The host's addresses, as the system resolver gives them (a failure is retryable)."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
    except (socket.gaierror, UnicodeError) as error:
        raise RetryableError(f"{host} does not resolve: {error}") from error
    addresses = [ip_literal(str(info[4][0]).partition("%")[0]) for info in infos]
    return list(dict.fromkeys(a for a in addresses if a is not None))


async def checked_address(
    target: TargetUrl, *, allow_loopback: bool, resolver: Resolver = resolve
) -> IpAddress:
    """The address to connect to: every address of the host must be allowed (checked now, at
    each request, so a name that starts resolving inwards later is refused too)."""
    literal = ip_literal(target.host)
    addresses = [literal] if literal is not None else await resolver(target.host, target.port)
    if not addresses:
        raise RetryableError(f"{target.host} has no address")
    reason = refused_among(addresses, allow_loopback)
    if reason is not None:
        raise UnsafeTarget(f"{target.host} resolves to {reason}: not sent")
    return addresses[0]
