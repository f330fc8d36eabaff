"""Domain errors: each carries a stable code, a field path and a message for the client."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum


class ErrorCode(StrEnum):
    INVALID = "INVALID"
    NOT_FOUND = "NOT_FOUND"
    UNKNOWN_VARIANT = "UNKNOWN_VARIANT"
    UNKNOWN_WAREHOUSE = "UNKNOWN_WAREHOUSE"
    UNKNOWN_PRODUCT = "UNKNOWN_PRODUCT"
    UNKNOWN_CATEGORY = "UNKNOWN_CATEGORY"
    UNKNOWN_COLLECTION = "UNKNOWN_COLLECTION"
    NEGATIVE_QUANTITY = "NEGATIVE_QUANTITY"
    INVALID_GUID = "INVALID_GUID"
    INVALID_PRICE = "INVALID_PRICE"
    INVALID_DATETIME = "INVALID_DATETIME"
    DUPLICATE_IN_BATCH = "DUPLICATE_IN_BATCH"
    BATCH_TOO_LARGE = "BATCH_TOO_LARGE"
    INVALID_CURSOR = "INVALID_CURSOR"
    INSUFFICIENT_STOCK = "INSUFFICIENT_STOCK"
    INVALID_QUANTITY = "INVALID_QUANTITY"
    NOT_RELEASED = "NOT_RELEASED"
    PURCHASE_LIMIT_EXCEEDED = "PURCHASE_LIMIT_EXCEEDED"
    UNPAID_ORDER_EXISTS = "UNPAID_ORDER_EXISTS"
    QUEUE_PASS_REQUIRED = "QUEUE_PASS_REQUIRED"  # a queued drop: admission from its waiting room
    CART_NOT_FOUND = "CART_NOT_FOUND"
    ORDER_NOT_FOUND = "ORDER_NOT_FOUND"
    EMPTY_CART = "EMPTY_CART"
    CONTACT_REQUIRED = "CONTACT_REQUIRED"
    DELIVERY_REQUIRED = "DELIVERY_REQUIRED"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    INVALID_TRANSITION = "INVALID_TRANSITION"
    PAYMENT_DECLINED = "PAYMENT_DECLINED"
    # payments (admin and provider)
    PAYMENT_NOT_FOUND = "PAYMENT_NOT_FOUND"
    REFUND_TOO_LARGE = "REFUND_TOO_LARGE"
    PAYMENT_PROVIDER_UNAVAILABLE = "PAYMENT_PROVIDER_UNAVAILABLE"
    PAYMENT_REJECTED = "PAYMENT_REJECTED"
    # customer accounts
    UNAUTHENTICATED = "UNAUTHENTICATED"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    TOO_MANY_ATTEMPTS = "TOO_MANY_ATTEMPTS"
    WEAK_PASSWORD = "WEAK_PASSWORD"
    INVALID_CODE = "INVALID_CODE"
    INVALID_TOKEN = "INVALID_TOKEN"
    CONTACT_TAKEN = "CONTACT_TAKEN"
    # inbound from 1C and RetailCRM (issue 15)
    CONFLICT = "CONFLICT"  # a known GUID (a receipt, a return) sent with another body
    UNKNOWN_ORDER = "UNKNOWN_ORDER"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one input item."""

    code: ErrorCode
    path: Sequence[str | int]
    message: str
    available: int | None = None  # INSUFFICIENT_STOCK: how many units are free now
    retry_after: int | None = None  # TOO_MANY_ATTEMPTS: seconds until another try is allowed


@dataclass
class DomainError(Exception):
    """A rule said no: expected, typed, shown to the client."""

    code: ErrorCode
    message: str
    path: Sequence[str | int] = field(default_factory=tuple)
    available: int | None = None  # INSUFFICIENT_STOCK: how many units are free now
    retry_after: int | None = None  # TOO_MANY_ATTEMPTS: seconds until another try is allowed

    def __str__(self) -> str:
        return f"{self.code.value}: {self.message}"

    def as_problem(self) -> Problem:
        return Problem(self.code, self.path, self.message, self.available, self.retry_after)

    def at(self, *path: str | int) -> DomainError:
        """The same error, located at `path` in the caller's input."""
        return DomainError(self.code, self.message, tuple(path), self.available, self.retry_after)
