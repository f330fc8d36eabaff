"""Typed failures of outbound calls: retry later, or park as a dead letter with the answer."""

from __future__ import annotations


class IntegrationError(Exception):
    """An outbound call to an external system did not succeed."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RetryableError(IntegrationError):
    """The outcome is unknown or the system is busy: send the same message again later.

    Timeouts, connection errors, 5xx, and rate limits (429, or 503 for RetailCRM).
    `retry_after` is the pause in seconds the system asked for (Retry-After), if it did.
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RejectedError(IntegrationError):
    """The system refused the message; sending it again unchanged cannot help.

    Kept as a dead letter: `status` and the raw response `body` are saved for a person to read.
    """

    def __init__(self, message: str, status: int, body: str) -> None:
        super().__init__(message)
        self.status = status
        self.body = body
