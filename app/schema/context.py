"""The typed context every resolver receives: settings, loaders, clock and the caller."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import strawberry
from redis.asyncio import Redis

from app.domain.access import IntegrationPrincipal
from app.integrations.payments.base import PaymentProvider
from app.schema.loaders import Loaders
from app.services.jobs import JobQueue
from app.services.tokens import authenticate_token
from app.settings import Settings


@dataclass
class Context:
    settings: Settings
    authorization: str | None
    jobs: JobQueue
    payments: PaymentProvider
    redis: Redis
    request_id: str | None = None
    client_ip: str = ""
    user_agent: str = ""
    # One clock reading per request: every resolver sees the same "now" (drop releases).
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    loaders: Loaders = field(init=False)
    _principal: IntegrationPrincipal | None = None
    _authenticated: bool = False

    def __post_init__(self) -> None:
        self.loaders = Loaders(now=self.now)

    async def integration(self) -> IntegrationPrincipal | None:
        """The integration token's owner, if the request carries a valid bearer token."""
        if not self._authenticated:
            self._authenticated = True
            scheme, _, token = (self.authorization or "").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                self._principal = await authenticate_token(raw=token.strip())
        return self._principal


Info = strawberry.Info[Context, None]
