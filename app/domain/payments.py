"""Payment rules: which provider statuses move us forward, and what may still be refunded."""

from __future__ import annotations

from enum import StrEnum


class RefundStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    CANCELED = "canceled"
