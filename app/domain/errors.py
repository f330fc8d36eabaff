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


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one input item."""

    code: ErrorCode
    path: Sequence[str | int]
    message: str


@dataclass
class DomainError(Exception):
    """A rule said no: expected, typed, shown to the client."""

    code: ErrorCode
    message: str
    path: Sequence[str | int] = field(default_factory=tuple)

    def __str__(self) -> str:
        return f"{self.code.value}: {self.message}"

    def as_problem(self) -> Problem:
        return Problem(self.code, self.path, self.message)
