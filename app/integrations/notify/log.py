"""The logging notifier: writes each message to the log instead of sending it (dev, tests, and
production until an e-mail/SMS provider is chosen; the outbox keeps every message meanwhile)."""

from __future__ import annotations

import structlog

from app.domain.outbound import CustomerMessageRecord

log = structlog.get_logger("notify")


class LoggingNotifier:
    """Send a message to a customer by logging it."""

    def __init__(self) -> None:
        self.sent: list[CustomerMessageRecord] = []  # what this process sent, for tests

    async def send(self, message: CustomerMessageRecord, event_id: str) -> None:
        """Log the message: channel, recipient, template and its parameters (code or link)."""
        log.info(
            "customer.message",
            channel=message.channel.value,
            to=message.to,
            template=message.template,
            event_id=event_id,
            **message.params,
        )
        self.sent.append(message)
