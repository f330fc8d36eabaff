"""The payment providers a process talks to: one for new payments, any for existing ones."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.integrations.payments.base import PaymentProvider
from app.integrations.payments.dummy import DummyProvider
from app.integrations.payments.yookassa.client import YooKassaClient
from app.integrations.payments.yookassa.provider import YooKassaProvider
from app.settings import Settings


@dataclass
class PaymentProviders:
    current: PaymentProvider  # new payments go here
    known: dict[str, PaymentProvider] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.known.setdefault(self.current.name, self.current)

    def get(self, name: str) -> PaymentProvider | None:
        return self.known.get(name)

    def polled(self) -> list[PaymentProvider]:
        """Providers whose payments live outside this process (worth re-reading)."""
        return [p for p in self.known.values() if not isinstance(p, DummyProvider)]

    async def aclose(self) -> None:
        for provider in self.known.values():
            if isinstance(provider, YooKassaProvider):
                await provider.aclose()


def build_providers(settings: Settings) -> PaymentProviders:
    """YooKassa when configured (and chosen); the dummy provider for offline development."""
    yookassa = None
    if settings.yookassa_url:
        client = YooKassaClient(
            settings.yookassa_url, settings.yookassa_shop_id, settings.yookassa_secret_key
        )
        yookassa = YooKassaProvider(
            client, capture=settings.yookassa_capture, vat_code=settings.yookassa_vat_code
        )
    if settings.resolved_payment_provider == "yookassa":
        if yookassa is None:
            raise RuntimeError("PAYMENT_PROVIDER=yookassa needs YOOKASSA_URL")
        return PaymentProviders(yookassa)
    dummy = DummyProvider()
    return PaymentProviders(dummy, {"yookassa": yookassa} if yookassa else {})
