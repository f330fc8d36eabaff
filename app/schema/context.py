"""The typed context every resolver receives: settings, loaders, clock and the caller."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property

import strawberry
from redis.asyncio import Redis

from app.domain.access import IntegrationPrincipal
from app.domain.accounts import CustomerPrincipal
from app.domain.checkout import device_key
from app.integrations.payments.base import PaymentProvider
from app.integrations.payments.registry import PaymentProviders
from app.schema.loaders import Loaders
from app.services.accounts.caller import AccountCall, Device
from app.services.accounts.sessions import principal_of
from app.services.jobs import JobQueue
from app.services.response_cache.overlay import StockReads
from app.services.stock_stream import StockFeed
from app.services.tokens import authenticate_token
from app.services.waiting_room import QueueGate, queue_key
from app.settings import Settings


@dataclass
class Context:
    settings: Settings
    authorization: str | None
    jobs: JobQueue
    payments: PaymentProvider  # where new payments go
    providers: PaymentProviders  # every configured provider (existing payments, admin)
    redis: Redis
    request_id: str | None = None
    client_ip: str = ""
    user_agent: str = ""
    device_id: str | None = None  # the storefront's X-Device-Id, if it is a valid one
    queue_pass: str | None = None  # X-Queue-Pass: a queued drop's pass (app/services/waiting_room)
    stock_feed: StockFeed | None = None  # the process's stock-change stream (None: read live)
    # Set while this request fills a response cache entry: where availability was shown.
    stock_reads: StockReads | None = None
    # One clock reading per request: every resolver sees the same "now" (drop releases).
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    _principal: IntegrationPrincipal | None = None
    _authenticated: bool = False
    _customer: CustomerPrincipal | None = None
    _customer_read: bool = False

    @cached_property
    def loaders(self) -> Loaders:
        """The request's DataLoaders, built on first use (an idle subscription never needs
        them: about 5.6 KiB saved per websocket connection)."""
        return Loaders(now=self.now)

    def read_stock(self, info: object, variant_ids: Iterable[int]) -> None:
        """An availability resolver's note for the response cache's stock overlay: this field
        (at `info.path`) shows the figure of these variants. Free unless an entry is filling."""
        if self.stock_reads is not None:
            self.stock_reads.add(info, variant_ids)

    async def integration(self) -> IntegrationPrincipal | None:
        """The integration token's owner, if the request carries a valid bearer token."""
        if not self._authenticated:
            self._authenticated = True
            scheme, _, token = (self.authorization or "").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                self._principal = await authenticate_token(raw=token.strip(), now=self.now)
        return self._principal

    async def customer(self) -> CustomerPrincipal | None:
        """The signed-in customer, if the request carries a live access token (`vca_…`)."""
        if not self._customer_read:
            self._customer_read = True
            scheme, _, token = (self.authorization or "").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                self._customer = await principal_of(redis=self.redis, access_token=token.strip())
        return self._customer

    @property
    def device(self) -> Device:
        return Device(user_agent=self.user_agent, ip=self.client_ip)

    @property
    def shopper_device(self) -> str:
        """The device checkout's limits count by: its id, else the client's address."""
        return device_key(self.device_id, self.client_ip)

    @property
    def queue_gate(self) -> QueueGate:
        """What checks a queued drop's pass at the cart and at checkout."""
        return QueueGate(
            self.queue_pass,
            queue_key(self.settings),
            self.redis,
            extend=timedelta(minutes=self.settings.queue_pass_extend_minutes),
            cap=timedelta(minutes=self.settings.queue_pass_cap_minutes),
        )

    @cached_property
    def account_call(self) -> AccountCall:
        """What the account use cases need of this request, built once."""
        return AccountCall(
            redis=self.redis,
            jobs=self.jobs,
            settings=self.settings,
            device=self.device,
            now=self.now,
        )


Info = strawberry.Info[Context, None]
